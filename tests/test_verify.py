"""The evidence bundle and the offline verifier: a real tender made by real clients, signed
heads, then tampering directly in PostgreSQL; each change must be caught and named."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from clients.sdk import Client
from clients.verify import Result, verify_bundle
from crypto.canonical import canonical_json
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.events import event_leaf_hash, event_record
from crypto.keys import SigningKey
from evalroom.audit import KEY_NAME, Audit, log_signing_key
from evalroom.audit.bundle import FORMAT, export_bundle, uncovered, write_bundle
from evalroom.db import events as store
from evalroom.db.identity import secret
from evalroom.domain.handover import record_digest
from evalroom.domain.scoring import BidFigures, ExpertSheet, ScoringMethod, evaluate
from evalroom.settings import Settings
from tests import test_session as real_session
from tests.support import (
    ROOT,
    InProcessNode,
    Participant,
    add_participant,
    eventually,
    in_process_node,
)
from tests.test_opening import Opening, _wait_until

SIGNED_SEQ = 4  # the supervisor's signed note in the tender below
LAST_SEQ = 8


@dataclass
class Tender:
    name: str
    node: InProcessNode
    clients: list[Client]

    @property
    def audit(self) -> Audit:
        audit = self.node.node.extras["audit"]
        assert isinstance(audit, Audit)
        return audit


@pytest_asyncio.fixture(loop_scope="session")
async def tender(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Tender]:
    """A tender with 8 events from an agency and a supervisor (one signed note), a bidder's
    own stream (its registration), and a signed checkpoint after every event."""
    quiet = replace(settings, extra={"audit_checkpoint_seconds": "3600"})
    async with in_process_node(quiet) as node:
        name = f"tender:V{uuid.uuid4().hex[:8]}"
        agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
        supervisor = await add_participant(pool, "sup")
        authority = await add_participant(pool, "authority", roles=[("authority", "platform")])
        bidder = await add_participant(pool, "bidder", org="路桥建设有限公司")
        a = await agency.client(node.url)
        t = Tender(name, node, [a])
        await a.command(name, "tender.create", {"title": "国道改建工程"})
        await t.audit.checkpoint_now(name, "created")
        await a.command(name, "tender.publish")
        await t.audit.checkpoint_now(name, "phase:bidding")
        appointer = await authority.client(node.url)
        t.clients.append(appointer)
        await appointer.command(
            name, "tender.grant", {"user": supervisor.user_id, "role": "supervisor"}
        )
        await t.audit.checkpoint_now(name, "test")
        s = await supervisor.client(node.url)
        b = await bidder.client(node.url)
        t.clients += [s, b]
        await s.command(name, "tender.annotate", {"text": "开标前检查完毕"}, sign=True)
        await t.audit.checkpoint_now(name, "test")
        joined = await b.command(name, "tender.join")  # into the bidder's own stream
        await t.audit.checkpoint_now(joined["stream"], "test")
        await a.command(name, "tender.notice", {"text": "报名已开始"})
        await t.audit.checkpoint_now(name, "test")
        for i in range(3):
            await a.command(name, "tender.notice", {"text": f"补遗 {i}"})
            await t.audit.checkpoint_now(name, "test")
        yield t
        for client in t.clients:
            await client.close()


async def bundle_of(pool: asyncpg.Pool, target: str) -> dict[str, Any]:
    return json.loads(json.dumps(await export_bundle(pool, target)))


async def verified(pool: asyncpg.Pool, target: str, **kw: Any) -> Result:
    return verify_bundle(await bundle_of(pool, target), **kw)


def failures(result: Result) -> list[str]:
    return [str(p) for p in result.problems]


def named(result: Result, prefix: str) -> list[str]:
    return [line for line in failures(result) if line.startswith(f"FAIL {prefix}:")]


def run_verifier(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "clients.verify", str(path), *args)


def run_python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def in_thread(run: Any, *args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
    """A subprocess off the event loop, so the in-process node keeps serving meanwhile."""
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(run, *args, **kw)
    return done


async def rewrite(pool: asyncpg.Pool, stream: str, seq: int, payload: dict[str, Any]) -> None:
    """Change an event's payload and recompute its leaf hash, as a careful forger would."""
    row = await pool.fetchrow(
        "SELECT stream, seq, type, actor, at, visibility, sig FROM events"
        " WHERE stream = $1 AND seq = $2",
        stream,
        seq,
    )
    leaf = event_leaf_hash(event_record(**{**dict(row), "payload": payload}))
    await pool.execute(
        "UPDATE events SET payload = $3, leaf_hash = $4 WHERE stream = $1 AND seq = $2",
        stream,
        seq,
        payload,
        leaf,
    )


# -- an honest bundle ------------------------------------------------------------------------


async def test_exported_bundle_of_a_real_tender_verifies_offline_with_exit_0(
    tender: Tender, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.json"
    env = {**os.environ, "DATABASE_URL": database_url}
    export = await in_thread(
        run_python, "-m", "evalroom", "export-bundle", tender.name, str(out), env=env
    )
    assert export.returncode == 0, export.stderr
    done = await in_thread(run_verifier, out)
    assert done.returncode == 0, done.stdout
    assert "OK: every check holds" in done.stdout
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["format"] == FORMAT and len(bundle["streams"][0]["events"]) == LAST_SEQ


async def test_gzipped_bundle_verifies_offline(
    tender: Tender, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.json.gz"
    write_bundle(await export_bundle(pool, tender.name), out)
    assert (await in_thread(run_verifier, out)).returncode == 0


async def test_signed_note_is_checked_with_the_supervisors_key(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    bundle = await bundle_of(pool, tender.name)
    event = bundle["streams"][0]["events"][SIGNED_SEQ - 1]
    assert event["sig"] and event["payload"]["command"]["type"] == "tender.annotate"
    result = verify_bundle(bundle)
    assert result.ok, failures(result)
    assert "1 actor signatures" in next(line for line in result.summary if tender.name in line)


async def test_bundle_without_a_report_says_the_ranking_was_not_checked(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    session = f"session:{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn, conn.transaction():
        await store.create_stream(conn, session, "session", tender.name, {})
    result = await verified(pool, session)
    assert result.ok and any("ranking not checked" in n for n in result.notes)


# -- tampering in PostgreSQL -----------------------------------------------------------------


async def test_payload_changed_in_postgresql_is_named_by_the_verifier_process(
    tender: Tender, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await pool.execute(
        "UPDATE events SET payload = jsonb_set(payload, '{text}', '\"补遗 0（已改）\"')"
        " WHERE stream = $1 AND seq = 6",
        tender.name,
    )
    out = tmp_path / "tampered.json"
    write_bundle(await export_bundle(pool, tender.name), out)
    done = await in_thread(run_verifier, out)
    assert done.returncode == 1
    assert f"FAIL event {tender.name}#6: record does not hash to the leaf hash" in done.stdout
    assert f"FAIL checkpoint {tender.name}@6:" in done.stdout


async def test_payload_and_leaf_rewritten_together_are_named_by_the_signed_heads(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    await rewrite(pool, tender.name, 7, {"text": "补遗 1（伪造）"})
    result = await verified(pool, tender.name)
    assert named(result, f"event {tender.name}#7")
    assert "checkpoint @6 still matches" in named(result, f"event {tender.name}#7")[0]
    assert not named(result, f"event {tender.name}#6")


async def test_deleted_row_is_named_as_missing(tender: Tender, pool: asyncpg.Pool) -> None:
    await pool.execute("DELETE FROM events WHERE stream = $1 AND seq = 5", tender.name)
    result = await verified(pool, tender.name)
    assert named(result, f"event {tender.name}#5") == [
        f"FAIL event {tender.name}#5: missing: the seqs jump from #4 to #6"
    ]


async def test_deleted_last_row_is_named_as_missing(tender: Tender, pool: asyncpg.Pool) -> None:
    await pool.execute("DELETE FROM events WHERE stream = $1 AND seq = $2", tender.name, LAST_SEQ)
    result = await verified(pool, tender.name)
    assert named(result, f"event {tender.name}#{LAST_SEQ}")
    assert named(result, f"checkpoint {tender.name}@{LAST_SEQ}")


async def test_forged_row_inserted_after_the_last_head_is_named(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    forged = event_record(
        stream=tender.name,
        seq=LAST_SEQ + 1,
        type="tender.notice",
        actor=None,
        at="2030-01-01T00:00:00.000000Z",
        payload={"text": "中标人已内定"},
        visibility="public",
        sig=None,
    )
    await pool.execute(
        "INSERT INTO events (stream, seq, type, actor, at, payload, visibility, sig, leaf_hash)"
        " VALUES ($1, $2, 'tender.notice', NULL, '2030-01-01Z', $3, 'public', NULL, $4)",
        tender.name,
        LAST_SEQ + 1,
        forged["payload"],
        event_leaf_hash(forged),
    )
    result = await verified(pool, tender.name)
    lines = named(result, f"event {tender.name}#{LAST_SEQ + 1}")
    assert any("not covered by any signed checkpoint" in line for line in lines)


async def test_row_inserted_in_the_middle_by_renumbering_is_named(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        shift = "UPDATE events SET seq = seq + $2 WHERE stream = $1 AND seq >= $3"
        await conn.execute(shift, tender.name, 1000, 6)
        await conn.execute(shift, tender.name, -999, 1000)
        await conn.execute(
            'INSERT INTO events SELECT stream, 6, type, actor, at, \'{"text": "插入"}\','
            " visibility, sig, leaf_hash FROM events WHERE stream = $1 AND seq = 7",
            tender.name,
        )
    result = await verified(pool, tender.name)
    assert named(result, f"event {tender.name}#6")
    assert named(result, f"event {tender.name}#7")  # the old #6, renumbered


async def test_two_rows_with_swapped_seqs_are_named_as_reordered(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        move = "UPDATE events SET seq = $3 WHERE stream = $1 AND seq = $2"
        await conn.execute(move, tender.name, 6, 1000)
        await conn.execute(move, tender.name, 7, 6)
        await conn.execute(move, tender.name, 1000, 7)
    result = await verified(pool, tender.name)
    assert f"FAIL event {tender.name}#6: was committed as #7: events reordered" in failures(result)
    assert f"FAIL event {tender.name}#7: was committed as #6: events reordered" in failures(result)


async def test_signed_note_rewritten_with_its_leaf_fails_the_supervisors_signature(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    row = await pool.fetchrow(
        "SELECT payload FROM events WHERE stream = $1 AND seq = $2", tender.name, SIGNED_SEQ
    )
    payload = row["payload"]
    payload["text"] = payload["command"]["body"]["text"] = "无异常"
    await rewrite(pool, tender.name, SIGNED_SEQ, payload)
    result = await verified(pool, tender.name)
    assert any(
        "does not verify over the signed command" in line
        for line in named(result, f"event {tender.name}#{SIGNED_SEQ}")
    )


# -- forks -----------------------------------------------------------------------------------


async def _forked_note(pool: asyncpg.Pool, audit: Audit, stream: str, size: int) -> str:
    key = await log_signing_key(pool)
    forked = Checkpoint(audit.checkpoints.origin(stream), size, b"\x42" * 32)
    return sign_checkpoint(forked, KEY_NAME, key)


async def test_stored_checkpoint_replaced_by_a_validly_signed_fork_is_caught(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    note = await _forked_note(pool, tender.audit, tender.name, 5)
    await pool.execute(
        "UPDATE checkpoints SET note = $3, root = $4 WHERE stream = $1 AND size = $2",
        tender.name,
        5,
        note,
        b"\x42" * 32,
    )
    result = await verified(pool, tender.name)
    lines = named(result, f"checkpoint {tender.name}@5")
    assert any("signed root does not match the events #1..#5" in line for line in lines)
    assert any("not shown consistent with checkpoint @4" in line for line in lines)


async def test_two_signed_checkpoints_of_one_size_with_different_roots_are_a_fork(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    bundle = await bundle_of(pool, tender.name)
    note = await _forked_note(pool, tender.audit, tender.name, 3)
    bundle["streams"][0]["checkpoints"].append(
        {"size": 3, "root": "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=", "note": note}
    )
    result = verify_bundle(bundle)
    assert any("the log forked" in line for line in named(result, f"checkpoint {tender.name}@3"))


async def test_checkpoint_kept_by_a_participant_exposes_a_rewritten_history(
    tender: Tender, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    kept = await tender.audit.checkpoints.at(tender.name, LAST_SEQ)
    assert kept is not None
    (tmp_path / "kept.note").write_text(kept.note, encoding="utf-8")
    # The whole history is rewritten and re-signed with the log key: self-consistent.
    await rewrite(pool, tender.name, 6, {"text": "补遗 0（伪造）"})
    await pool.execute("DELETE FROM checkpoints WHERE stream = $1", tender.name)
    tender.audit.logs.forget(tender.name)  # the forger's node reads the rewritten events
    for size in range(1, LAST_SEQ + 1):
        await tender.audit.checkpoint_now(tender.name, "test", size=size)
    out = tmp_path / "rewritten.json"
    write_bundle(await export_bundle(pool, tender.name), out)
    assert (
        await in_thread(run_verifier, out)
    ).returncode == 0  # nothing in the bundle alone gives it away
    done = await in_thread(run_verifier, out, "--checkpoint", str(tmp_path / "kept.note"))
    assert done.returncode == 1
    assert f"FAIL checkpoint {tender.name}@{LAST_SEQ} ({tmp_path / 'kept.note'}):" in done.stdout
    assert "the log forked" in done.stdout


async def test_pinned_log_key_rejects_heads_signed_by_another_key(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    from crypto.checkpoint import verifier_key

    other = verifier_key(KEY_NAME, SigningKey.generate().public)
    result = await verified(pool, tender.name, log_key=other)
    assert named(result, f"checkpoint {tender.name}@1")


# -- receipts --------------------------------------------------------------------------------


async def _receipt_ack(pool: asyncpg.Pool, stream: str, seq: int) -> dict[str, Any]:
    """An ack carrying a platform-signed receipt, as the bid service writes it."""
    platform = SigningKey.from_raw(await secret(pool, "platform_ed25519"))
    row = await pool.fetchrow(
        "SELECT type, actor, at, payload FROM events WHERE stream = $1 AND seq = $2", stream, seq
    )
    body = {"kind": row["type"], "stream": stream, "seq": seq, "sha256": "ab" * 32, "size": 9}
    reply = {"receipt": body, "sig": platform.sign_json(body)}
    ack = {"t": "ack", "id": f"bid-{seq}", "stream": stream, "seq": seq, "reply": reply}
    await pool.execute(
        "INSERT INTO commands (actor, client_id, digest, stream, seq, result)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        row["actor"],
        f"bid-{uuid.uuid4().hex[:6]}",
        b"\x00" * 32,
        stream,
        seq,
        ack,
    )
    return reply


async def test_receipt_in_an_ack_is_exported_with_its_inclusion_proof_and_verifies(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    await _receipt_ack(pool, tender.name, 5)
    bundle = await bundle_of(pool, tender.name)
    assert [r["receipt"]["seq"] for r in bundle["receipts"]] == [5]
    assert bundle["receipts"][0]["inclusion"]["size"] == LAST_SEQ
    result = verify_bundle(bundle)
    assert result.ok, failures(result)


async def test_receipt_with_a_forged_signature_is_named(tender: Tender, pool: asyncpg.Pool) -> None:
    await _receipt_ack(pool, tender.name, 5)
    bundle = await bundle_of(pool, tender.name)
    bundle["receipts"][0]["receipt"]["size"] = 10
    result = verify_bundle(bundle)
    assert named(result, f"receipt {tender.name}#5") == [
        f"FAIL receipt {tender.name}#5: the platform's signature does not verify"
    ]


async def test_receipt_whose_event_was_rewritten_fails_its_inclusion_proof(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    reply = await _receipt_ack(pool, tender.name, 5)
    reply["inclusion"] = await tender.audit.inclusion(tender.name, 5)  # as the bidder kept it
    bundle = await bundle_of(pool, tender.name)
    bundle["receipts"] = [reply]
    await rewrite(pool, tender.name, 5, {"org": "另一家公司", "user": "x"})
    tampered = await bundle_of(pool, tender.name)
    tampered["receipts"] = [reply]
    assert verify_bundle(bundle).ok
    lines = named(verify_bundle(tampered), f"receipt {tender.name}#5")
    assert any("inclusion proof does not verify" in line for line in lines)


# -- a session and its report ----------------------------------------------------------------

METHOD = {
    "kind": "comprehensive",
    "criteria": [
        {"id": "tech", "name": "技术方案", "kind": "expert", "max_points": "40"},
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "60"},
    ],
    "price_rule": {
        "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    },
}
BIDS = [
    {"bid_id": "B1", "price": "9650000.00"},
    {"bid_id": "B2", "price": "9800000.00"},
    {"bid_id": "B3", "price": "10100000.00"},
]


def _signed(
    expert: Participant, session: str, n: int, type_: str, body: dict[str, Any]
) -> tuple[str, dict[str, Any], str]:
    command = {"id": f"{type_}-{n}", "stream": session, "type": type_, "body": body}
    # As the pipeline stores a signed event: what the server made of it, and the command.
    return type_, {**body, "command": command}, expert.key.sign(canonical_json(command))


async def _signed_record(pool: asyncpg.Pool, tender: Tender) -> list[dict[str, Any]]:
    """Append a signed opening record of BIDS to the tender (agency and supervisor sign it);
    return the reference a session created from it keeps."""
    signers = {role: await add_participant(pool, role) for role in ("agency", "supervisor")}
    entries = [
        {
            "number": b["bid_id"],
            "section": "S1",
            "org": f"company-{b['bid_id']}",
            "status": "decrypted",
            "sha256": "ab" * 32,
            "plain_sha256": "cd" * 32,
            "form": {"price": b["price"]},
            "via": "bidder",
            "reason": None,
        }
        for b in BIDS
    ]
    signed_by = {role: p.user_id for role, p in signers.items()}
    record = {
        "stage": "single",
        "bids": entries,
        "confirmed": [],
        "objections": [],
        "signed_by": signed_by,
        "failed_sections": [],
        "min_bids": 3,
        "phase": "opened",
    }
    async with pool.acquire() as conn, conn.transaction():
        row = await store.lock_stream(conn, tender.name)
        assert row is not None
        # The stage opens first: its record, and the signatures on it, belong to it.
        started = {
            "stage": "single",
            "window_ends": "2026-01-01T00:00:00+00:00",
            "bids": [{k: e[k] for k in ("number", "section", "status")} for e in entries],
        }
        events = [("opening.started", "system", started, "public", None)]
        for n, (role, p) in enumerate(signers.items()):
            type_, payload, sig = _signed(p, tender.name, n, "opening.sign_record", {})
            payload = {"role": role, "by": p.user_id, **payload}
            events.append(("opening.record_signed", p.user_id, payload, "public", sig))
        events.append(("opening.record", signed_by["supervisor"], record, "public", None))
        stored = await store.append_events(conn, row, events, row.state)
    await tender.audit.checkpoint_now(tender.name, "phase:opened")
    return [{"stage": "single", "seq": stored[-1].seq, "digest": record_digest(record)}]


async def _session_with_report(
    pool: asyncpg.Pool, tender: Tender, experts: list[Participant], *, signers: int = 3
) -> str:
    """A session, created from the tender's signed opening record, whose experts signed every
    score and then the report drawn up from them. (Written through the storage layer the
    pipeline uses; the real session engine is exercised in
    ``test_bundle_of_a_whole_real_session_verifies_offline``.)"""
    session = f"session:{uuid.uuid4().hex[:8]}"
    reference = await _signed_record(pool, tender)
    created = {
        "tender": tender.name.removeprefix("tender:"),
        "section": "S1",
        "opening_record": reference,
    }
    handed = [{**b, "company": f"company-{b['bid_id']}"} for b in BIDS]
    sheets = [
        {
            "expert_id": e.user_id,
            "scores": {b["bid_id"]: {"tech": str(30 + i + j)} for j, b in enumerate(BIDS)},
            "verdicts": {},
        }
        for i, e in enumerate(experts)
    ]
    signed = [
        (
            expert,
            _signed(
                expert,
                session,
                n,
                "session.score",
                {"bid": b, "criterion": "tech", "score": row["tech"]},
            ),
        )
        for n, (expert, sheet) in enumerate(zip(experts, sheets, strict=True))
        for b, row in sheet["scores"].items()
    ]
    ranking = evaluate(
        ScoringMethod.from_dict(METHOD),
        [BidFigures.from_dict(b) for b in BIDS],
        [ExpertSheet.from_dict(s) for s in sheets],
    ).to_dict()
    report = {
        "method": METHOD,
        "bids": BIDS,
        "sheets": sheets,
        "floating_point": None,
        "ranking": ranking,
    }
    digest = hashlib.sha256(canonical_json(report)).hexdigest()
    signed += [
        (e, _signed(e, session, 100 + n, "session.sign_report", {"report_digest": digest}))
        for n, e in enumerate(experts[:signers])
    ]
    async with pool.acquire() as conn, conn.transaction():
        await store.create_stream(conn, session, "session", tender.name, {})
        row = await store.lock_stream(conn, session)
        assert row is not None
        events = [
            ("session.created", experts[0].user_id, created, "public", None),
            ("session.bids", experts[0].user_id, {"bids": handed}, "committee", None),
        ]
        events += [
            (type_, expert.user_id, payload, "committee", sig)
            for expert, (type_, payload, sig) in signed
        ]
        await store.append_events(conn, row, events, {"report": report})
    await tender.audit.checkpoint_now(session, "phase:closed")
    return session


async def test_session_bundle_holds_its_tender_and_its_report_follows_from_signed_scores(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    experts = [await add_participant(pool, "expert") for _ in range(3)]
    session = await _session_with_report(pool, tender, experts)
    bundle = await bundle_of(pool, session)
    names = [s["name"] for s in bundle["streams"]]
    # The tender, the session, and the bidder's own stream the tender's opening commits to.
    assert names[:2] == [tender.name, session] and names[2].startswith("bid:")
    result = verify_bundle(bundle)
    assert result.ok, failures(result)
    assert f"report {session}: ranking recomputed from 3 sheets" in result.summary
    assert f"report {session}: 9 scores and verdicts match signed ones" in result.summary
    assert f"report {session}: signed by all 3 experts" in result.summary


async def test_report_ranking_that_does_not_follow_from_the_scores_is_named(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    experts = [await add_participant(pool, "expert") for _ in range(3)]
    session = await _session_with_report(pool, tender, experts)
    await pool.execute(
        "UPDATE streams SET state = jsonb_set(state, '{report,ranking,recommended}',"
        ' \'["B3", "B2", "B1"]\') WHERE name = $1',
        session,
    )
    result = await verified(pool, session)
    lines = named(result, f"report {session}")
    assert any("the ranking does not follow from the scores" in line for line in lines)
    assert any("signed another report" in line for line in lines)


async def test_report_score_that_differs_from_the_signed_one_is_named(
    tender: Tender, pool: asyncpg.Pool
) -> None:
    experts = [await add_participant(pool, "expert") for _ in range(3)]
    session = await _session_with_report(pool, tender, experts, signers=0)
    bundle = await bundle_of(pool, session)
    report = bundle["reports"][0]["report"]
    report["sheets"][0]["scores"]["B3"]["tech"] = "40"
    method, bids = ScoringMethod.from_dict(METHOD), [BidFigures.from_dict(b) for b in BIDS]
    sheets = [ExpertSheet.from_dict(s) for s in report["sheets"]]
    report["ranking"] = evaluate(method, bids, sheets).to_dict()  # consistent, but not signed
    result = verify_bundle(bundle)
    who = f"report {session}: {experts[0].user_id}"
    assert named(result, who) == [
        f"FAIL {who}: score B3/tech is 40 in the report but 32 in their last signed score,"
        f" event {session}#5"
    ]
    assert any("not signed (yet) by" in note for note in result.notes)


async def test_tender_bundle_holds_its_sessions(tender: Tender, pool: asyncpg.Pool) -> None:
    experts = [await add_participant(pool, "expert") for _ in range(3)]
    session = await _session_with_report(pool, tender, experts)
    bundle = await bundle_of(pool, tender.name)
    names = [s["name"] for s in bundle["streams"]]
    # The tender, the session, and the bidder's own stream the tender's opening commits to.
    assert names[0] == tender.name and sorted(names[1:])[1] == session
    assert sorted(names[1:])[0].startswith("bid:")
    assert [r["stream"] for r in bundle["reports"]] == [session]
    assert verify_bundle(bundle).ok


async def test_export_of_an_unknown_stream_exits_2(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    args = ("-m", "evalroom", "export-bundle", "tender:nope", str(tmp_path / "x.json"))
    done = await in_thread(run_python, *args, env=env)
    assert done.returncode == 2 and "tender:nope" in done.stderr


@pytest.mark.slow
async def test_bundle_of_a_whole_real_session_verifies_offline(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # The whole remote evaluation of tests/test_session.py: opening, draw, check-in, review,
    # signed scores, deviation, report signed by every expert, ratings.
    await real_session.test_a_whole_evaluation_across_three_venues(node, pool, tmp_path)
    audit = node.node.extras["audit"]

    async def covered_bundle() -> dict[str, Any] | None:
        # Background work (the session clock, presence) may still append: sign, then export.
        for stream in ("tender:EV1", "session:EV1-S1"):
            await audit.checkpoint_now(stream, "export")
        bundle = await export_bundle(pool, "session:EV1-S1")
        return None if uncovered(bundle) else bundle

    out = tmp_path / "session.json.gz"
    write_bundle(await eventually(covered_bundle), out)
    done = await in_thread(run_verifier, out)
    assert done.returncode == 0, done.stdout
    assert "report session:EV1-S1: ranking recomputed from 5 sheets" in done.stdout
    assert "report session:EV1-S1: signed by all 5 experts" in done.stdout
    assert "receipts      4 checked" in done.stdout  # the bidders' signed bid receipts
    assert "session session:EV1-S1: 4 bids as in the signed opening record" in done.stdout


# -- the session's bids against the signed opening record (开标记录) ----------------------------


async def _created_session(node: InProcessNode, pool: asyncpg.Pool, tmp: Path, tender: str) -> str:
    """A real opening (bidders a..d, company-b at 980000.00) and a session created from it."""
    o = await real_session._opened_tender(node, pool, tmp, tender)
    stream = f"session:{tender}-S1"
    await o.clients["agency"].command(stream, "session.create", real_session._create_body(tender))
    for client in o.clients.values():
        await client.close()
    return stream


async def _re_signed(pool: asyncpg.Pool, node: InProcessNode, stream: str) -> None:
    """A forger holding the log key throws the stream's signed heads away and signs afresh."""
    await pool.execute("DELETE FROM checkpoints WHERE stream = $1", stream)
    await node.node.extras["audit"].checkpoint_now(stream, "forged")


async def _covered(pool: asyncpg.Pool, node: InProcessNode, tender: str) -> dict[str, Any]:
    audit = node.node.extras["audit"]
    session = f"session:{tender}-S1"

    async def covered_bundle() -> dict[str, Any] | None:
        for stream in (f"tender:{tender}", session):
            await audit.checkpoint_now(stream, "export")
        bundle = json.loads(json.dumps(await export_bundle(pool, session)))
        return None if uncovered(bundle) else bundle

    bundle: dict[str, Any] = await eventually(covered_bundle)
    return bundle


async def _event(pool: asyncpg.Pool, stream: str, type_: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT seq, payload FROM events WHERE stream = $1 AND type = $2", stream, type_
    )
    assert row is not None
    return row


@pytest.mark.slow
async def test_session_bid_price_changed_under_re_signed_heads_is_named(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    session = await _created_session(node, pool, tmp_path, "VB1")
    honest = verify_bundle(await _covered(pool, node, "VB1"))
    assert honest.ok, failures(honest)
    assert f"session {session}: 4 bids as in the signed opening record" in " ".join(honest.summary)
    row = await _event(pool, session, "session.bids")
    bids = row["payload"]["bids"]
    victim = next(b for b in bids if b["company"] == "company-b")
    forged = [{**b, "price": "1.00"} if b is victim else b for b in bids]
    await rewrite(pool, session, row["seq"], {"bids": forged})
    await _re_signed(pool, node, session)
    result = verify_bundle(await _covered(pool, node, "VB1"))
    # The log is consistent again (the forger signed it); the signed opening record is not.
    assert failures(result) == [
        f"FAIL event {session}#{row['seq']}: session bid {victim['bid_id']} price 1.00 differs"
        " from the signed opening record's 980000.00"
    ]


@pytest.mark.slow
async def test_opening_record_rewritten_after_the_session_took_its_bids_is_named(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    session = await _created_session(node, pool, tmp_path, "VB2")
    row = await _event(pool, "tender:VB2", "opening.record")
    record = row["payload"]
    record["bids"] = [
        {**b, "form": {**b["form"], "price": "1.00"}} if b["org"] == "company-b" else b
        for b in record["bids"]
    ]
    await rewrite(pool, "tender:VB2", row["seq"], record)
    await _re_signed(pool, node, "tender:VB2")
    result = verify_bundle(await _covered(pool, node, "VB2"))
    kept = (await _event(pool, session, "session.created"))["payload"]["opening_record"][0]
    assert (
        f"FAIL event {session}#1: records digest {kept['digest']} of the opening record"
        f" tender:VB2#{row['seq']}, which hashes to {record_digest(record)}"
    ) in failures(result)


# -- the read-out against the published control price (最高投标限价) -----------------------------


async def _tender_covered(pool: asyncpg.Pool, node: InProcessNode, stream: str) -> dict[str, Any]:
    audit = node.node.extras["audit"]

    async def covered_bundle() -> dict[str, Any] | None:
        await audit.checkpoint_now(stream, "export")
        bundle = json.loads(json.dumps(await export_bundle(pool, stream)))
        return None if uncovered(bundle) else bundle

    bundle: dict[str, Any] = await eventually(covered_bundle)
    return bundle


@pytest.mark.slow
async def test_a_record_showing_a_bid_over_the_control_price_as_valid_is_named(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup(
        "VB4", opening_in=5.0, window=60, control_price={"limit": "1000000.00"}
    )
    prices = {"a": "990000.00", "b": "1000000.01", "c": "950000.00", "d": "900000.00"}
    for name, price in prices.items():
        await o.bidder(name)
        await o.bid(name, price)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    await o.ceremony(tuple(prices))
    for client in o.clients.values():
        await client.close()
    honest = verify_bundle(await _tender_covered(pool, node, o.stream))
    assert honest.ok, failures(honest)
    row = await _event(pool, o.stream, "opening.record")
    record = row["payload"]
    over = next(b for b in record["bids"] if b["org"] == "company-b")
    assert over["rejected"]["reason"] == "above_control_price"
    # The forger shows company-b's bid, one fen over the limit, as valid (its 否决投标 dropped)
    # and signs the log afresh: the log is consistent, the published control price is not.
    record["bids"] = [
        {k: v for k, v in b.items() if k != "rejected"} if b is over else b for b in record["bids"]
    ]
    await rewrite(pool, o.stream, row["seq"], record)
    await _re_signed(pool, node, o.stream)
    result = verify_bundle(await _tender_covered(pool, node, o.stream))
    assert failures(result) == [
        f"FAIL opening record of {o.stream}: bid {over['number']} at 1000000.01 is valid in the"
        " single opening record, but the published control price makes it above_control_price"
    ]


# -- input the verifier cannot read ----------------------------------------------------------


def test_unreadable_bundle_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "garbage.json"
    out.write_bytes(b"\x1f\x8bnot gzip")
    assert run_verifier(out).returncode == 2


def test_malformed_bundle_fails_with_a_message_not_a_traceback() -> None:
    result = verify_bundle({"format": FORMAT, "streams": [{"name": "tender:x", "events": 5}]})
    assert not result.ok
    assert all(line.startswith("FAIL ") for line in failures(result))


@pytest.mark.parametrize("format_", [None, "evalroom-bundle/2"])
def test_bundle_of_another_format_is_refused(format_: str | None) -> None:
    assert failures(verify_bundle({"format": format_})) == [
        f"FAIL bundle: format is {format_!r}, expected {FORMAT!r}"
    ]


@pytest.mark.slow
async def test_an_opening_record_signature_the_server_forged_is_named(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await _created_session(node, pool, tmp_path, "VB3")
    row = await pool.fetchrow(
        "SELECT seq, payload, actor FROM events WHERE stream = 'tender:VB3'"
        " AND type = 'opening.record_signed' AND payload->>'role' = 'supervisor'"
    )
    assert row is not None
    record = await _event(pool, "tender:VB3", "opening.record")
    # The server claims the supervisor signed, over a command the supervisor never signed.
    command = {**row["payload"]["command"], "id": "forged"}
    await rewrite(pool, "tender:VB3", row["seq"], {**row["payload"], "command": command})
    await _re_signed(pool, node, "tender:VB3")
    result = verify_bundle(await _covered(pool, node, "VB3"))
    assert failures(result) == [
        f"FAIL event tender:VB3#{row['seq']}: signature by {row['actor']} does not verify over"
        " the signed command",
        f"FAIL event tender:VB3#{record['seq']}: the opening record names {row['actor']} as its"
        " supervisor, but no validly signed opening.record_signed of theirs precedes it",
    ]
