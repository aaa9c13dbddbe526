"""Signed tree heads: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes, Ed25519 only.

A checkpoint (https://c2sp.org/tlog-checkpoint) is the note text::

    <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n[<extension line>\\n ...]

and a signed note (https://c2sp.org/signed-note) is that text, a blank line, and one or more
signature lines ``— <key name> <base64(4-byte key ID || signature)>\\n`` (U+2014 EM DASH, space).
For Ed25519 (signature type 0x01) the key ID is the first four bytes of
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)``, and a verifier key is written
``<key name>+<hex key ID>+<base64(0x01 || public key)>``. The formats are those of Go's
``golang.org/x/mod/sumdb/note`` and transparency-dev, so third parties can check evalroom's tree
heads with existing tools, and the tests pin them with published test vectors.

Verification follows the spec's rules: signatures by unknown keys (name and key ID not both
matching a configured key) are ignored; a signature by a known key that fails to verify rejects
the whole note; a note with no verified signature from a known key is rejected. Parsing is
strict (canonical base64, no leading zeros, no control characters) because a tree head that
two parsers read differently is worse than one that is refused.

Errors are :class:`CheckpointError` with a ``code``: ``malformed_note``, ``bad_signature``,
``unknown_key`` (no known key signed), ``malformed_checkpoint`` (validly signed text that is not
a checkpoint, or an invalid :class:`Checkpoint`), ``origin_mismatch`` and ``malformed_key``
(a verifier key string, or key name, that cannot be used).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crypto.keys import KeyFormatError, SigningKey, VerifyKey, b64u, unb64u

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "VerifiedNote",
    "VerifierKey",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "verifier_key",
]

SIGNATURE_TYPE_ED25519 = 0x01
ROOT_HASH_SIZE = 32
MAX_SIGNATURES = 100
"""Signature lines accepted per note (Go's limit; the spec requires at least 16)."""
MAX_NOTE_BYTES = 1 << 20
"""Largest note accepted, so a hostile peer cannot make us parse unbounded input."""

_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE
_ED25519_SIG_SIZE = 64
_MAX_TREE_SIZE = (1 << 64) - 1  # the tree size is a uint64 in every implementation we target
# At most 20 digits: enough for any uint64, and keeps int() away from huge digit strings.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ValueError):
    """A note, checkpoint or verifier key was refused; ``code`` says why (see module doc)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _has_control(text: str) -> bool:
    # The signed-note spec forbids ASCII control characters other than newline anywhere.
    return any(c < " " and c != "\n" for c in text)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be put on the wire
        return False
    return True


def _valid_key_name(name: object) -> bool:
    """Non-empty, UTF-8, no Unicode space, no '+', no control character (signed-note spec)."""
    return (
        isinstance(name, str)
        and name != ""
        and _is_utf8(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _has_control(name)
    )


def _b64decode_canonical(text: str) -> bytes:
    """Decode standard padded base64, refusing any non-canonical spelling of the bytes."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


# --------------------------------------------------------------------------------------------
# Verifier keys


def key_id(key_name: str, verify_key: VerifyKey) -> bytes:
    """The 4-byte Ed25519 key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    material = key_name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + verify_key.raw()
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A trusted signer: key name, 4-byte key ID and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: VerifyKey

    @classmethod
    def create(cls, key_name: str, verify_key: VerifyKey) -> VerifierKey:
        """Build the verifier key for ``verify_key`` under ``key_name``."""
        if not _valid_key_name(key_name):
            raise CheckpointError("malformed_key", f"invalid key name {key_name!r}")
        return cls(key_name, key_id(key_name, verify_key), verify_key)

    def to_string(self) -> str:
        """``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        material = bytes([SIGNATURE_TYPE_ED25519]) + self.public_key.raw()
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(material).decode('ascii')}"

    def __str__(self) -> str:
        return self.to_string()


def verifier_key(key_name: str, verify_key: VerifyKey) -> str:
    """Return the verifier key string a third party configures to check our signatures."""
    return VerifierKey.create(key_name, verify_key).to_string()


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

    The key ID must be the one derived from the name and key (as Go's ``note.NewVerifier``
    checks): a verifier key that disagrees with itself is refused rather than trusted.
    Raises :class:`CheckpointError` with code ``malformed_key``.
    """
    if not isinstance(text, str):
        raise CheckpointError("malformed_key", "a verifier key is a string")
    # maxsplit: the base64 key material may itself contain '+'.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("malformed_key", "expected <name>+<key id>+<key>")
    name, hex_id, material_b64 = parts
    if not _valid_key_name(name):
        raise CheckpointError("malformed_key", f"invalid key name {name!r}")
    if len(hex_id) != 8 or not all(c in "0123456789abcdefABCDEF" for c in hex_id):
        raise CheckpointError("malformed_key", "the key ID must be 8 hex digits")
    try:
        material = _b64decode_canonical(material_b64)
    except ValueError as exc:
        raise CheckpointError("malformed_key", "the key is not canonical base64") from exc
    if len(material) != 33 or material[0] != SIGNATURE_TYPE_ED25519:
        raise CheckpointError("malformed_key", "only Ed25519 (type 0x01) keys are supported")
    try:
        verify_key = VerifyKey.from_string("ed25519:" + b64u(material[1:]))
    except KeyFormatError as exc:
        raise CheckpointError("malformed_key", "invalid Ed25519 public key") from exc
    key = VerifierKey.create(name, verify_key)
    if key.key_id != bytes.fromhex(hex_id):
        raise CheckpointError("malformed_key", "the key ID does not match the name and key")
    return key


# --------------------------------------------------------------------------------------------
# Signed notes


@dataclass(frozen=True)
class VerifiedNote:
    """The text of a note whose signatures checked out, and the known keys that signed it."""

    text: str
    signers: tuple[VerifierKey, ...]


def _check_note_text(text: object) -> str:
    if not isinstance(text, str) or not text.endswith("\n") or not _is_utf8(text):
        raise CheckpointError("malformed_note", "note text must be UTF-8 ending in a newline")
    if _has_control(text):
        raise CheckpointError("malformed_note", "note text contains a control character")
    return text


def sign_note(text: str, key_name: str, signing_key: SigningKey) -> str:
    """Sign ``text`` (which must end in a newline) and return the signed note."""
    _check_note_text(text)
    key = VerifierKey.create(key_name, signing_key.public)
    signature = unb64u(signing_key.sign(text.encode("utf-8")))
    blob = base64.b64encode(key.key_id + signature).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{key_name} {blob}\n"


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a note into its text and (key name, key ID, signature) triples, strictly."""
    if isinstance(note, (bytes, bytearray)):
        if len(note) > MAX_NOTE_BYTES:
            raise CheckpointError("malformed_note", "note too large")
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("malformed_note", "note is not UTF-8") from exc
    if not isinstance(note, str):
        raise CheckpointError("malformed_note", "a note is text")
    # Characters never outnumber UTF-8 bytes, so the first test is a cheap bound.
    if len(note) > MAX_NOTE_BYTES or len(note.encode("utf-8", "replace")) > MAX_NOTE_BYTES:
        raise CheckpointError("malformed_note", "note too large")
    _check_note_text(note)
    # The text is separated from the signatures by the *last* blank line (the text itself may
    # contain blank lines), and includes its final newline but not the blank line.
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("malformed_note", "no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block:
        raise CheckpointError("malformed_note", "no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("malformed_note", "too many signatures")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("malformed_note", "signature line must start with '— '")
        name, space, blob_b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space or not _valid_key_name(name):
            raise CheckpointError("malformed_note", "invalid key name in signature line")
        try:
            blob = _b64decode_canonical(blob_b64)
        except ValueError as exc:
            raise CheckpointError("malformed_note", "signature is not canonical base64") from exc
        if len(blob) < 5:
            raise CheckpointError("malformed_note", "signature too short")
        signatures.append((name, blob[:4], blob[4:]))
    return text, signatures


def _key_table(
    verifier_keys: Iterable[VerifierKey | str],
) -> dict[tuple[str, bytes], VerifierKey]:
    table: dict[tuple[str, bytes], VerifierKey] = {}
    for item in verifier_keys:
        key = parse_verifier_key(item) if isinstance(item, str) else item
        if not isinstance(key, VerifierKey):
            raise CheckpointError("malformed_key", "verifier keys are VerifierKey or strings")
        slot = (key.name, key.key_id)
        known = table.get(slot)
        if known is not None and known.public_key.raw() != key.public_key.raw():
            # Two trusted keys that a signature line cannot tell apart: refuse the setup
            # rather than guess which one a signature claims to be from.
            raise CheckpointError("malformed_key", f"ambiguous verifier keys for {key.name}")
        table[slot] = key
    return table


def open_note(note: str | bytes, verifier_keys: Iterable[VerifierKey | str]) -> VerifiedNote:
    """Verify a signed note against the trusted ``verifier_keys`` and return its text.

    Raises :class:`CheckpointError`: ``malformed_note`` if the note does not parse (or a known
    key signed twice), ``bad_signature`` if a signature by a known key does not verify, and
    ``unknown_key`` if no known key signed it. Signatures by other keys are ignored.
    """
    table = _key_table(verifier_keys)
    text, signatures = _split_note(note)
    message = text.encode("utf-8")
    seen: set[tuple[str, bytes]] = set()
    signers: list[VerifierKey] = []
    for name, kid, signature in signatures:
        key = table.get((name, kid))
        if key is None:
            continue  # the spec: verifiers MUST ignore signatures from unknown keys
        if (name, kid) in seen:
            raise CheckpointError("malformed_note", f"{name} signed the note more than once")
        seen.add((name, kid))
        valid = len(signature) == _ED25519_SIG_SIZE and key.public_key.verify(
            message, b64u(signature)
        )
        if not valid:
            raise CheckpointError("bad_signature", f"invalid signature by {name}")
        signers.append(key)
    if not signers:
        raise CheckpointError("unknown_key", "the note is not signed by any trusted key")
    return VerifiedNote(text, tuple(signers))


# --------------------------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse values that would not round-trip through the checkpoint text."""
        if isinstance(self.extensions, str) or not isinstance(self.extensions, Sequence):
            raise CheckpointError("malformed_checkpoint", "extensions are a sequence of lines")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in (self.origin, *self.extensions):
            if not isinstance(line, str) or not line or "\n" in line:
                raise CheckpointError("malformed_checkpoint", "lines must be non-empty text")
            if _has_control(line) or not _is_utf8(line):
                raise CheckpointError("malformed_checkpoint", "control character in a line")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= _MAX_TREE_SIZE
        ):
            raise CheckpointError("malformed_checkpoint", f"invalid tree size {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_HASH_SIZE:
            raise CheckpointError("malformed_checkpoint", "the root hash must be 32 bytes")

    def body(self) -> str:
        """The checkpoint note text (what gets signed)."""
        root_b64 = base64.b64encode(self.root).decode("ascii")
        lines = [self.origin, str(self.size), root_b64, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text; raises :class:`CheckpointError` ``malformed_checkpoint``.

        Only call this on text whose signature has been verified (see :func:`open_checkpoint`).
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("malformed_checkpoint", "checkpoint text must end in newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or "" in lines:
            raise CheckpointError("malformed_checkpoint", "need at least 3 non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise CheckpointError("malformed_checkpoint", "tree size must be plain decimal")
        try:
            root = _b64decode_canonical(root_text)
        except ValueError as exc:
            raise CheckpointError("malformed_checkpoint", "root is not canonical base64") from exc
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, key_name: str, signing_key: SigningKey) -> str:
    """Return the signed-note text of ``cp`` signed by ``signing_key`` under ``key_name``.

    The spec recommends that the log's key name equal the checkpoint origin.
    """
    return sign_note(cp.body(), key_name, signing_key)


def open_checkpoint(
    note_text: str | bytes,
    verifier_keys: Iterable[VerifierKey | str],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint and return it.

    ``verifier_keys`` are the trusted keys (parsed or as verifier-key strings). If ``origin``
    is given, the checkpoint must be for that log (``origin_mismatch`` otherwise): a key may
    sign for several logs, and a tree head of the wrong log must not be mistaken for ours.
    Raises :class:`CheckpointError` (see :func:`open_note` for the signature codes).
    """
    verified = open_note(note_text, verifier_keys)
    checkpoint = Checkpoint.from_body(verified.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError("origin_mismatch", f"checkpoint is for {checkpoint.origin!r}")
    return checkpoint
