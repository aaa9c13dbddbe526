"""Where a bid was sealed (投标文件制作环境), as keyed hashes only: ``evalroom-origin.json``.

The bidder's client reads identifiers of the machine that seals (MAC addresses, the OS machine
id, the hostname, disk serials; in a browser, a random per-browser install id) and writes
into the bid package only their HMAC-SHA256 under the tender's *origin key*. Two bids sealed on
the same machine carry the same hash, so the platform can compare them after the opening; the
identifier itself is not in the package.

The origin key is derived from what every bidder of the tender already holds, offline: the
tender's id and its opening recipient (``age1…``), see :func:`origin_key`. It is public to the
tender's bidders by design; docs/threat-model.md ("Sealing-machine identifiers") says what that
protects and what it does not: whoever holds the key can test guesses, so a hostname or a MAC
address (24 bits once the vendor prefix is guessed) can be recovered by brute force. A random
machine id or install id cannot.

Pure: no I/O. Collecting the identifiers is the client's job (``clients/origin.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "KINDS",
    "ORIGIN_FORMAT",
    "ORIGIN_NAME",
    "OriginError",
    "keyed_hash",
    "normalise",
    "origin_document",
    "origin_key",
    "parse_origin",
]

ORIGIN_NAME = "evalroom-origin.json"
ORIGIN_FORMAT = "evalroom-origin/1"
KEY_LABEL = b"evalroom-origin-key/1"
# What a client may report; each hash is over "<kind>:<normalised value>", so the same text
# as a hostname and as a disk serial never collides.
KINDS = ("machine_id", "mac", "hostname", "disk_serial", "install_id")
MAX_PER_KIND = 32
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class OriginError(ValueError):
    """An origin document that is not ``evalroom-origin/1``."""

    code = "invalid_origin"


def origin_key(tender: str, opening_recipient: str) -> bytes:
    """The tender's origin key: SHA-256 over a label, the tender id and its opening recipient.

    Every bidder of the tender derives the same key from the published tender, with no server
    round trip (sealing is offline); another tender has another key, so hashes do not link a
    machine across tenders."""
    tender = tender.removeprefix("tender:")
    material = b"\x00".join(
        [KEY_LABEL, tender.encode("utf-8"), opening_recipient.strip().encode("ascii")]
    )
    return hashlib.sha256(material).digest()


def normalise(kind: str, value: str) -> str | None:
    """The form an identifier is hashed in, or None for a value that identifies nothing
    (empty, an all-zero MAC, a placeholder serial)."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if kind == "mac":
        text = text.replace("-", ":")
        if not _MAC.fullmatch(text) or text in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            return None
    elif kind == "machine_id":
        text = text.replace("-", "")
    elif kind == "disk_serial":
        text = re.sub(r"\s+", "", text)
        if set(text) <= {"0", "f"} or text in ("none", "default", "tobefilledbyo.e.m."):
            return None
    return text or None


def keyed_hash(key: bytes, kind: str, value: str) -> str | None:
    """HMAC-SHA256 of the normalised identifier under the origin key, hex; None if it names
    nothing."""
    if kind not in KINDS:
        raise OriginError(f"unknown identifier kind {kind!r}")
    text = normalise(kind, value)
    if text is None:
        return None
    return hmac.new(key, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()


def origin_document(
    key: bytes, identifiers: Mapping[str, Iterable[str]], client: str
) -> dict[str, Any]:
    """The ``evalroom-origin.json`` value: for each kind, the sorted distinct keyed hashes."""
    hashes: dict[str, list[str]] = {}
    for kind, values in identifiers.items():
        found = {h for v in values if (h := keyed_hash(key, kind, v)) is not None}
        if found:
            hashes[kind] = sorted(found)[:MAX_PER_KIND]
    return {"format": ORIGIN_FORMAT, "client": client, "hashes": hashes}


def parse_origin(value: Any) -> dict[str, frozenset[str]]:
    """The hashes by kind of an origin document; ``OriginError`` for anything else."""
    if not isinstance(value, dict) or value.get("format") != ORIGIN_FORMAT:
        raise OriginError(f"not an {ORIGIN_FORMAT} document")
    hashes = value.get("hashes")
    if not isinstance(hashes, dict):
        raise OriginError("the origin has no hashes")
    out: dict[str, frozenset[str]] = {}
    for kind, items in hashes.items():
        if kind not in KINDS or not isinstance(items, list) or len(items) > MAX_PER_KIND:
            raise OriginError(f"origin hashes of kind {kind!r} are not allowed")
        if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in items):
            raise OriginError(f"origin hashes of kind {kind!r} must be 64 hex digits")
        out[kind] = frozenset(items)
    return out
