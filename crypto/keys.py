"""Participant identities: Ed25519 keys for signing.

A participant's private key never leaves its machine; the server knows only the public key,
written as ``ed25519:<base64url>``. Signatures are base64url (no padding) over the bytes given,
which for structured data are always the canonical JSON (RFC 8785) of the object.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.canonical import canonical_json

PUBLIC_PREFIX = "ed25519:"
SECRET_PREFIX = "ed25519-secret:"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    pad = "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text + pad)


class KeyFormatError(ValueError):
    """A key or signature string is not in the expected form."""


@dataclass(frozen=True)
class SigningKey:
    """A participant's Ed25519 private key (stays on the participant's machine)."""

    _key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, raw: bytes) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def from_string(cls, text: str) -> SigningKey:
        if not text.startswith(SECRET_PREFIX):
            raise KeyFormatError("not an ed25519 secret key")
        try:
            raw = unb64u(text[len(SECRET_PREFIX) :])
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise KeyFormatError("malformed ed25519 secret key") from exc

    def to_string(self) -> str:
        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return SECRET_PREFIX + b64u(raw)

    @property
    def public(self) -> VerifyKey:
        return VerifyKey(self._key.public_key())

    def sign(self, data: bytes) -> str:
        return b64u(self._key.sign(data))

    def sign_json(self, value: Any) -> str:
        return self.sign(canonical_json(value))


@dataclass(frozen=True)
class VerifyKey:
    """A participant's Ed25519 public key."""

    _key: Ed25519PublicKey

    @classmethod
    def from_string(cls, text: str) -> VerifyKey:
        if not isinstance(text, str) or not text.startswith(PUBLIC_PREFIX):
            raise KeyFormatError("not an ed25519 public key")
        try:
            raw = unb64u(text[len(PUBLIC_PREFIX) :])
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError as exc:
            raise KeyFormatError("malformed ed25519 public key") from exc

    def raw(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def to_string(self) -> str:
        return PUBLIC_PREFIX + b64u(self.raw())

    def verify(self, data: bytes, signature: str) -> bool:
        try:
            self._key.verify(unb64u(signature), data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def verify_json(self, value: Any, signature: str) -> bool:
        return self.verify(canonical_json(value), signature)
