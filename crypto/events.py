"""The audit leaf of an event: what the Merkle log hashes and what a verifier recomputes.

An event's leaf is the canonical JSON (RFC 8785) of exactly these fields, ``at`` written as
UTC ISO 8601 with microseconds (``2026-11-26T20:15:58.123456Z``) and ``sig`` null where the
actor does not sign.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crypto.canonical import canonical_json

LEAF_FIELDS = ("stream", "seq", "type", "actor", "at", "payload", "visibility", "sig")


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_record(
    *,
    stream: str,
    seq: int,
    type: str,
    actor: str | None,
    at: datetime | str,
    payload: Mapping[str, Any],
    visibility: str,
    sig: str | None,
) -> dict[str, Any]:
    return {
        "stream": stream,
        "seq": seq,
        "type": type,
        "actor": actor,
        "at": at if isinstance(at, str) else format_time(at),
        "payload": dict(payload),
        "visibility": visibility,
        "sig": sig,
    }


def event_leaf(record: Mapping[str, Any]) -> bytes:
    """The leaf bytes: canonical JSON of the record's audit fields only."""
    return canonical_json({name: record[name] for name in LEAF_FIELDS})


def event_leaf_hash(record: Mapping[str, Any]) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + event_leaf(record)).digest()


def command_signing_bytes(
    *, client_id: str, stream: str, type: str, body: Mapping[str, Any]
) -> bytes:
    """What a participant signs when a command needs the actor's signature."""
    return canonical_json({"id": client_id, "stream": stream, "type": type, "body": dict(body)})


def login_signing_bytes(*, user: str, nonce: str) -> bytes:
    """What a participant signs to log in (challenge-response)."""
    return canonical_json({"purpose": "evalroom-login", "user": user, "nonce": nonce})


def check_in_statement(session_stream: str, expert: str, seat: str) -> bytes:
    """What an expert signs at check-in (签到): proves the person in the seat holds the key."""
    return canonical_json(
        {"purpose": "evalroom-check-in", "session": session_stream, "expert": expert, "seat": seat}
    )
