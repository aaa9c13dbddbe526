"""The evidence bundle (证据包): one file holding everything an auditor needs to check a
session or a tender offline with ``python -m clients.verify`` (``evalroom-verify``).

Exporting is an administrator's or supervisor's act: the bundle holds every event of every
visibility class (scores, supervisors' notes, bidders' identities), because it is made for
auditors and courts, not for participants. It is written by ``evalroom export-bundle``, which
reads PostgreSQL directly and needs no running node.

Format ``evalroom-bundle/1`` (JSON, gzip when the file name ends in ``.gz``)::

    {"format": "evalroom-bundle/1",
     "target": "session:S1",
     "exported_at": "2026-11-26T20:15:58.123456Z",
     "log": {"key_name": "evalroom-log", "verifier_key": "evalroom-log+<id>+<key>",
             "origin_prefix": "evalroom/<deployment>"},
     "platform_key": "ed25519:<base64url>",
     "users": {"<user id>": {"name": "...", "org": null, "signing_key": "ed25519:..."}},
     "streams": [
       {"name": "tender:T1", "kind": "tender", "parent": null, "head": 12,
        "events": [{<crypto.events.event_record fields>, "leaf_hash": "<base64>"}, ...],
        "checkpoints": [{"size": 5, "root": "<base64>", "note": "<signed note>",
                         "reasons": ["periodic"], "created_at": "..."}, ...],
        "consistency": [{"from": 5, "to": 9, "proof": ["<base64>", ...]}, ...]},
       ...],
     "receipts": [{"receipt": {...}, "sig": "...", "inclusion": {...}}, ...],
     "reports": [{"stream": "session:S1", "report": {...}}]}

``streams`` holds the target, a session's parent tender, a tender's sessions, and the
tender's bid streams (``bid:…``: each bidder company's own record until the opening) and its
red flags (``signals:…``, supervisors only, like the rest of the bundle). Events are in
seq order with the leaf hash written at commit; ``consistency`` links each checkpoint to the
next. ``receipts`` are the signed receipts found in events and acks (shape: see
``clients/verify.py``), with an inclusion proof added where they carry none. ``reports`` are
the ``report`` of each stream's state, where there is one. Hashes are standard base64.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crypto.canonical import canonical_json
from crypto.checkpoint import verifier_key
from crypto.events import format_time
from crypto.keys import SigningKey
from crypto.merkle import MerkleLog
from evalroom.audit import log_signing_key
from evalroom.audit.checkpoints import KEY_NAME, StoredCheckpoint, b64, origin_prefix
from evalroom.db import Conn, Executor, Pool, export
from evalroom.db.checkpoints import checkpoints_of
from evalroom.db.commands import command_results
from evalroom.db.identity import secret

FORMAT = "evalroom-bundle/1"


class BundleError(LookupError):
    """The target cannot be exported (no such tender or session)."""


async def bundle_streams(pool: Executor, target: str) -> list[dict[str, Any]]:
    """Rows (name, kind, parent, head, state) of the streams a bundle of ``target`` holds."""
    row = await export.stream_row(pool, target)
    if row is None:
        raise BundleError(f"no stream {target!r}")
    rows = [row]
    if row["parent"]:
        parent = await export.stream_row(pool, row["parent"])
        if parent is not None:
            rows.insert(0, parent)
    rows.extend(await export.child_stream_rows(pool, target))
    if row["kind"] == "session" and row["parent"]:
        # The bidders' own streams, which the tender's opening committed to.
        rows.extend(await export.bid_stream_rows(pool, row["parent"]))
        # red flags: the tender's signals (a tender's bundle has them among its children).
        rows.extend(await export.signal_stream_rows(pool, row["parent"]))
    return rows


async def _events(pool: Executor, stream: str) -> list[dict[str, Any]]:
    return [
        {**record, "leaf_hash": b64(leaf_hash)}
        for record, leaf_hash in await export.events_with_leaves(pool, stream)
    ]


def _server_log(events: list[dict[str, Any]]) -> MerkleLog:
    """The Merkle log as the server holds it: the stored leaf hashes, in seq order."""
    tree = MerkleLog()
    for event in events:
        try:
            tree.append(base64.b64decode(event["leaf_hash"]))
        except ValueError:
            break  # a malformed stored leaf: the verifier names it; proofs stop here
    return tree


async def _checkpoints(pool: Executor, stream: str) -> list[StoredCheckpoint]:
    return await checkpoints_of(pool, stream)


def _consistency(tree: MerkleLog, sizes: list[int]) -> list[dict[str, Any]]:
    links = []
    for first, second in zip(sizes, sizes[1:], strict=False):
        proof = (
            [b64(p) for p in tree.consistency_proof(first, second)]
            if second <= tree.size
            else None  # the server no longer holds that many events; the verifier says so
        )
        links.append({"from": first, "to": second, "proof": proof})
    return links


def find_receipts(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"receipt": {...}, "sig": "...", ...}`` object nested in ``value``."""
    if isinstance(value, dict):
        if isinstance(value.get("receipt"), dict) and isinstance(value.get("sig"), str):
            yield value
            return
        for item in value.values():
            yield from find_receipts(item)
    elif isinstance(value, list):
        for item in value:
            yield from find_receipts(item)


def _with_inclusion(
    found: dict[str, Any], logs: dict[str, MerkleLog], heads: dict[str, list[int]]
) -> dict[str, Any]:
    item = {"receipt": found["receipt"], "sig": found["sig"]}
    if isinstance(found.get("inclusion"), dict):
        item["inclusion"] = found["inclusion"]
        return item
    stream, seq = found["receipt"].get("stream"), found["receipt"].get("seq")
    tree = logs.get(stream) if isinstance(stream, str) else None
    covering = [s for s in heads.get(str(stream), []) if isinstance(seq, int) and s >= seq]
    if tree is None or not covering or not isinstance(seq, int) or seq < 1:
        item["inclusion"] = None  # no signed head covers it: the verifier reports that
        return item
    size = covering[-1]
    if size > tree.size:
        item["inclusion"] = None
        return item
    proof = [b64(p) for p in tree.inclusion_proof(seq - 1, size)]
    item["inclusion"] = {"stream": stream, "seq": seq, "size": size, "proof": proof}
    return item


async def export_bundle(pool: Pool, target: str) -> dict[str, Any]:
    """Build the evidence bundle of ``target`` (``session:<id>`` or ``tender:<id>``), from one
    read-only snapshot of the database (events, heads and checkpoints agree)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _export(conn, target)


async def _export(pool: Conn, target: str) -> dict[str, Any]:
    rows = await bundle_streams(pool, target)
    log_key = (await log_signing_key(pool)).public
    platform_key = SigningKey.from_raw(await secret(pool, "platform_ed25519")).public
    streams: list[dict[str, Any]] = []
    logs: dict[str, MerkleLog] = {}
    heads: dict[str, list[int]] = {}
    actors: set[str] = set()
    found: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for row in rows:
        name = row["name"]
        events = await _events(pool, name)
        checkpoints = await _checkpoints(pool, name)
        logs[name] = tree = _server_log(events)
        heads[name] = sizes = [c.size for c in checkpoints]
        streams.append(
            {
                "name": name,
                "kind": row["kind"],
                "parent": row["parent"],
                "head": row["head"],
                "events": events,
                "checkpoints": [
                    {k: v for k, v in c.to_json().items() if k != "stream"} for c in checkpoints
                ],
                "consistency": _consistency(tree, sizes),
            }
        )
        actors.update(e["actor"] for e in events if e["actor"])
        for event in events:
            found.extend(find_receipts(event["payload"]))
        for ack in await command_results(pool, name):
            found.extend(find_receipts(ack))
        state = row["state"]
        if isinstance(state, dict) and state.get("report") is not None:
            reports.append({"stream": name, "report": state["report"]})
    users = await export.users_by_id(pool, sorted(actors))
    receipts: dict[bytes, dict[str, Any]] = {}
    for item in found:
        key = canonical_json({"receipt": item["receipt"], "sig": item["sig"]})
        receipts.setdefault(key, _with_inclusion(item, logs, heads))
    return {
        "format": FORMAT,
        "target": target,
        "exported_at": format_time(datetime.now(UTC)),
        "log": {
            "key_name": KEY_NAME,
            "verifier_key": verifier_key(KEY_NAME, log_key),
            "origin_prefix": origin_prefix(log_key),
        },
        "platform_key": platform_key.to_string(),
        "users": {
            u["id"]: {"name": u["name"], "org": u["org"], "signing_key": u["signing_key"]}
            for u in users
        },
        "streams": streams,
        "receipts": list(receipts.values()),
        "reports": reports,
    }


def uncovered(bundle: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(stream, first, last) seqs that no checkpoint in the bundle covers yet."""
    gaps = []
    for stream in bundle["streams"]:
        covered = max((c["size"] for c in stream["checkpoints"]), default=0)
        last = stream["events"][-1]["seq"] if stream["events"] else 0
        if last > covered:
            gaps.append((stream["name"], covered + 1, last))
    return gaps


def write_bundle(bundle: dict[str, Any], out: Path) -> int:
    """Write the bundle (gzip if ``out`` ends in ``.gz``); return the bytes written."""
    data = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
    if out.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    out.write_bytes(data)
    return len(data)
