"""k-of-n threshold shares of a tender's 32-byte opening secret (Shamir secret sharing).

The tender's opening identity (an age X25519 identity, 32 secret bytes) must not be usable by
any single custodian: it is split into ``n`` shares so that any ``k`` of them rebuild it and any
``k - 1`` reveal nothing about it.

Scheme. The secret is cut into two 16-byte halves and each half is shared with pycryptodome's
``Crypto.Protocol.SecretSharing.Shamir``, which evaluates a random polynomial of degree
``k - 1`` over GF(2^128) whose constant term is the half; custodian ``i`` gets the values of
both polynomials at ``x = i``. Because the ``k - 1`` non-constant coefficients are uniformly
random, any ``k - 1`` points are consistent with *every* possible constant term, each with the
same probability: fewer than ``k`` shares give no information about the secret at all, whatever
the computing power of whoever holds them (information-theoretic, not computational, secrecy).
The two halves use independent polynomials, so this holds for the whole 32-byte secret.

Share string (version 1)::

    evalroom-share-1:<k>:<n>:<index>:<set id>:<payload>:<check>

* ``k``, ``n``, ``index``: decimal; ``2 <= k <= n <= 255`` and ``1 <= index <= n``.
* ``set id``: 16 hex digits, drawn at random when the secret is split. It tells shares of
  different splits apart (combining them would silently produce garbage) and, being random,
  says nothing about the secret (a hash of the secret would let anyone confirm a guess).
* ``payload``: base64url without padding of 32 bytes, the two 16-byte half-shares.
* ``check``: 8 hex digits, the first 4 bytes of
  ``SHA-256("evalroom-share-1 check" || 0x00 || <everything before the last colon>)``, so a
  mistyped or truncated share is refused instead of yielding a wrong secret.

What the checks cannot do: a custodian who deliberately alters their share and recomputes the
checksum goes undetected when exactly ``k`` shares are combined (extra shares beyond ``k`` are
cross-checked). Callers must therefore confirm the recovered identity against the tender's
published public recipient before relying on it. Share strings are secret material.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from Crypto.Protocol.SecretSharing import Shamir

__all__ = [
    "MAX_SHARES",
    "SECRET_SIZE",
    "ShareError",
    "ShareInfo",
    "combine_shares",
    "inspect_share",
    "split_secret",
]

SECRET_SIZE = 32
"""Bytes in the shared secret (an X25519 identity)."""
MAX_SHARES = 255
"""Largest ``n`` supported; x-coordinates are the share indices 1..n."""

_PREFIX = "evalroom-share-1"
_CHECK_DOMAIN = b"evalroom-share-1 check\x00"
_HALF = SECRET_SIZE // 2
_SET_ID_BYTES = 8
_SHARE_RE = re.compile(
    r"(?P<prefix>evalroom-share-\d+):(?P<k>[1-9][0-9]{0,2}):(?P<n>[1-9][0-9]{0,2})"
    r":(?P<index>[1-9][0-9]{0,2}):(?P<set>[0-9a-f]{16}):(?P<payload>[A-Za-z0-9_-]{43})"
    r":(?P<check>[0-9a-f]{8})",
    re.ASCII,
)


class ShareError(ValueError):
    """Shares were refused; ``code`` is one of ``malformed_share``, ``too_few_shares``,
    ``mixed_sets``, ``duplicate_share`` or ``inconsistent_shares``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ShareInfo:
    """The public facts of a share: threshold, share count, its index and its set id."""

    k: int
    n: int
    index: int
    set_id: str


@dataclass(frozen=True)
class _Share:
    info: ShareInfo
    payload: bytes = field(repr=False)  # secret material: keep it out of logs and tracebacks


def _check_value(body: str) -> str:
    return hashlib.sha256(_CHECK_DOMAIN + body.encode("ascii")).digest()[:4].hex()


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _format_share(info: ShareInfo, payload: bytes) -> str:
    body = f"{_PREFIX}:{info.k}:{info.n}:{info.index}:{info.set_id}:{_b64u(payload)}"
    return f"{body}:{_check_value(body)}"


def _parse_share(text: object) -> _Share:
    if not isinstance(text, str):
        raise ShareError("malformed_share", "a share is a string")
    text = text.strip()  # shares get copied from documents and terminals
    if not text.startswith("evalroom-share-"):
        raise ShareError("malformed_share", "not an evalroom share")
    match = _SHARE_RE.fullmatch(text)
    if match is None:
        raise ShareError("malformed_share", "share is truncated or has invalid characters")
    if match["prefix"] != _PREFIX:
        raise ShareError("malformed_share", f"unsupported share version {match['prefix']!r}")
    body = text[: text.rindex(":")]
    # The checksum comes before any other interpretation: a mistyped share should be reported
    # as mistyped, not as a confusing range error about the digit that was mistyped.
    if _check_value(body) != match["check"]:
        raise ShareError("malformed_share", "share checksum mismatch (mistyped or damaged?)")
    k, n, index = int(match["k"]), int(match["n"]), int(match["index"])
    if not (2 <= k <= n <= MAX_SHARES and 1 <= index <= n):
        raise ShareError("malformed_share", "share has an invalid threshold or index")
    # The regex admits exactly 43 base64url characters: 32 bytes plus 2 spare bits, which
    # must be zero so that each payload has a single spelling.
    payload = base64.urlsafe_b64decode(match["payload"] + "=")
    if len(payload) != SECRET_SIZE or _b64u(payload) != match["payload"]:
        raise ShareError("malformed_share", "share payload is not canonical")
    return _Share(ShareInfo(k, n, index, match["set"]), payload)


def inspect_share(text: str) -> ShareInfo:
    """Validate one share string and return its public facts (no secret is reconstructed).

    Raises :class:`ShareError` ``malformed_share``.
    """
    return _parse_share(text).info


def split_secret(secret: bytes, k: int, n: int) -> list[str]:
    """Split a 32-byte secret into ``n`` share strings, any ``k`` of which rebuild it.

    ``k - 1`` or fewer shares reveal nothing about the secret (see the module docstring).
    Raises ``ValueError`` unless ``secret`` is 32 bytes and ``2 <= k <= n <= 255``; a 1-of-n
    "split" would hand the whole secret to every custodian, so it is refused.
    """
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != SECRET_SIZE:
        raise ValueError(f"the secret must be {SECRET_SIZE} bytes")
    for name, value in (("k", k), ("n", n)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer")
    if not 2 <= k <= n <= MAX_SHARES:
        raise ValueError(f"need 2 <= k <= n <= {MAX_SHARES}, got k={k} n={n}")
    secret = bytes(secret)
    set_id = secrets.token_bytes(_SET_ID_BYTES).hex()
    first = Shamir.split(k, n, secret[:_HALF])
    second = Shamir.split(k, n, secret[_HALF:])
    shares = []
    for (index, y1), (index2, y2) in zip(first, second, strict=True):
        if index != index2:  # pragma: no cover - pycryptodome numbers shares 1..n in order
            raise AssertionError("share indices out of step")
        shares.append(_format_share(ShareInfo(k, n, index, set_id), y1 + y2))
    return shares


def _combine_halves(shares: Sequence[_Share]) -> bytes:
    first = Shamir.combine([(s.info.index, s.payload[:_HALF]) for s in shares])
    second = Shamir.combine([(s.info.index, s.payload[_HALF:]) for s in shares])
    return bytes(first) + bytes(second)


def combine_shares(shares: Sequence[str]) -> bytes:
    """Rebuild the 32-byte secret from at least ``k`` share strings of one split.

    Raises :class:`ShareError`:

    * ``malformed_share``: a string is not a valid share (wrong format, bad checksum);
    * ``mixed_sets``: the shares come from different splits;
    * ``duplicate_share``: the same share index appears twice;
    * ``too_few_shares``: fewer than ``k`` shares (interpolating anyway would return a
      plausible-looking wrong secret, so it is refused);
    * ``inconsistent_shares``: more than ``k`` shares were given and they do not all lie on
      the same polynomials, i.e. one of them was altered.

    Cost: one interpolation of ``k`` points (quadratic in ``k``; about 0.1 s for k = 50 in
    pycryptodome's pure-Python field arithmetic), plus one more per share beyond ``k``.
    """
    if isinstance(shares, str):
        raise ShareError("malformed_share", "pass a sequence of share strings, not one string")
    parsed: list[_Share] = []
    for position, text in enumerate(shares):
        try:
            parsed.append(_parse_share(text))
        except ShareError as exc:
            raise ShareError(exc.code, f"share #{position + 1}: {exc}") from None
    if not parsed:
        raise ShareError("too_few_shares", "no shares given")
    first = parsed[0].info
    for share in parsed[1:]:
        if (share.info.set_id, share.info.k, share.info.n) != (first.set_id, first.k, first.n):
            raise ShareError("mixed_sets", "the shares come from different splits")
    by_index: dict[int, _Share] = {}
    for share in parsed:
        if share.info.index in by_index:
            raise ShareError("duplicate_share", f"share index {share.info.index} given twice")
        by_index[share.info.index] = share
    if len(by_index) < first.k:
        raise ShareError(
            "too_few_shares", f"{len(by_index)} distinct shares given, {first.k} needed"
        )
    ordered = [by_index[i] for i in sorted(by_index)]
    base, extra = ordered[: first.k], ordered[first.k :]
    secret = _combine_halves(base)
    # Any k points determine the polynomials; an extra share lies on them iff replacing the
    # k-th base share by it gives the same constant term (two distinct polynomials of degree
    # < k can agree on the k-1 other base points but then not also at x = 0).
    for share in extra:
        if _combine_halves([*base[:-1], share]) != secret:
            raise ShareError(
                "inconsistent_shares", f"share {share.info.index} does not match the others"
            )
    return secret
