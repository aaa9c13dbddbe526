"""Short-lived bearer tokens, MACed with a secret every node of a deployment shares.

``v1.<user>.<expiry unix seconds>.<random>.<mac>`` with the user id base64url-encoded. A token
carries no roles: roles are looked up per stream at use, so a grant or a revocation takes
effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from crypto.keys import b64u, unb64u

MAX_TOKEN = 512


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    expires_at: int


class TokenError(ValueError):
    pass


class TokenIssuer:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds

    def _mac(self, body: str) -> str:
        return b64u(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, user_id: str, now: float | None = None) -> tuple[str, int]:
        expires = int((now or time.time()) + self.ttl_seconds)
        body = f"v1.{b64u(user_id.encode())}.{expires}.{secrets.token_urlsafe(9)}"
        return f"{body}.{self._mac(body)}", expires

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        if len(token) > MAX_TOKEN or not token.isascii():  # compare_digest takes ASCII only
            raise TokenError("malformed token")
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != "v1":
            raise TokenError("malformed token")
        body, mac = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise TokenError("forged token")
        try:
            user_id = unb64u(parts[1]).decode()
            expires = int(parts[2])
        except ValueError as exc:
            raise TokenError("malformed token") from exc
        if expires < (now or time.time()):
            raise TokenError("expired token")
        return TokenClaims(user_id, expires)
