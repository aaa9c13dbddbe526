"""Red flags live and on the record (issue 12): the signals a tender's prices raise at the
opening become events of its ``signals:`` stream, once; its supervisors see them live; no
other role sees them, their stream or their count; the bundle carries them and the verifier
recomputes them. Real PostgreSQL, real sockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.keyfile import ParticipantKey, save_key_file
from clients.sdk import Client, ClientError
from clients.verify import verify_bundle
from clients.verify_signals import check_signals
from evalroom.audit.bundle import export_bundle, uncovered
from evalroom.db.identity import grant_role
from evalroom.domain.redflag_record import signal_id
from evalroom.domain.redflags import Signal
from evalroom.services import redflags
from evalroom.services.redflags import SYSTEM, RedFlagWatch, SignalContext
from tests.support import InProcessNode, eventually, slack
from tests.test_clients_cli import Cli
from tests.test_opening import Opening, _wait_until

pytestmark = pytest.mark.slow

CONTROL = {"limit": "1000000.00"}
# a: within 1 % under the control price; b and c: the same price; d: the lowest.
PRICES = {"a": "995000.00", "b": "900000.00", "c": "900000.00", "d": "850000.00"}


async def opened(node: InProcessNode, pool: asyncpg.Pool, tmp: Path, tender: str) -> Opening:
    o = Opening(node, pool, tmp)
    opening_at = await o.setup(tender, opening_in=5.0, window=60, control_price=CONTROL)
    for name, price in PRICES.items():
        await o.bidder(name)
        await o.bid(name, price)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    await o.ceremony(tuple(PRICES))
    return o


async def head(pool: asyncpg.Pool, stream: str) -> int | None:
    value = await pool.fetchval("SELECT head FROM streams WHERE name = $1", stream)
    return None if value is None else int(value)


async def checked(pool: asyncpg.Pool, stream: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE stream = $1 AND type = 'signals.checked'", stream
        )
    )


async def everything(client: Client, stream: str) -> list[dict[str, Any]]:
    """Every event ``client`` is sent on ``stream``, replayed from the start."""
    sub = await client.subscribe(stream)
    events = []
    while True:
        try:
            events.append(await sub.next(timeout=1.0))
        except TimeoutError:
            return events


async def broken_source(ctx: SignalContext) -> list[Signal]:
    """A source that fails: named in the run, and it blocks neither the others nor a result."""
    raise RuntimeError(f"cannot read {ctx.tender}")


async def test_price_signals_at_the_opening_are_on_the_record_once_and_only_supervisors_see_them(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redflags, "SOURCES", [*redflags.SOURCES, broken_source])
    o = await opened(node, pool, tmp_path, "RF1")
    signals = "signals:RF1"
    await eventually(lambda: checked(pool, signals), timeout=20)

    # The supervisor follows the stream: each signal with its sentence and its evidence.
    seen = await everything(o.clients["sup"], signals)
    raised = [e["payload"] for e in seen if e["type"] == "signal.raised"]
    codes = {p["code"] for p in raised}
    assert {"price.identical", "price.just_under_control"} <= codes
    companies = {
        e["number"]: e["org"]
        for e in (
            await pool.fetchval(
                "SELECT payload FROM events WHERE stream = $1 AND type = 'opening.read_out'",
                o.stream,
            )
        )["entries"]
    }
    identical = next(p for p in raised if p["code"] == "price.identical")
    assert sorted(identical["bidders"].values()) == ["company-b", "company-c"]
    assert identical["evidence"]["figures"]["price"] == "900000.00"
    assert identical["bidders"] == {b: companies[b] for b in identical["evidence"]["bids"]}
    under = next(p for p in raised if p["code"] == "price.just_under_control")
    assert list(under["bidders"].values()) == ["company-a"]
    assert under["threshold"]["control_margin"] and "控制价" in under["message"]["zh-CN"]
    assert all(p["id"] == signal_id(p) and p["phase"] == "opening" for p in raised)
    assert all(e["visibility"] == "supervisor" for e in seen)
    check = next(e["payload"] for e in seen if e["type"] == "signals.checked")
    assert check["sources"] == [
        "price_source",
        "evidence_source",
        "history_source",
        "expert_source",
        "broken_source",
    ]
    assert check["failed"] == ["broken_source"]
    # Advisory: the opening went on to its signed record whatever the signals.
    phase = await pool.fetchval("SELECT state->>'phase' FROM streams WHERE name = $1", o.stream)
    assert phase == "opened"
    assert sorted(check["found"]) == sorted(p["id"] for p in raised)

    # Idempotent: the same run again, under its own id or a new one, adds nothing.
    before = await head(pool, signals)
    watch = node.node.extras["redflag_watch"]
    assert isinstance(watch, RedFlagWatch)
    await watch.tick()
    body = {"phase": "opening", "stage": "single", "section": "S1"}
    await watch.compute(o.stream, body)
    await node.node.pipeline.execute(SYSTEM, "rf-again", o.stream, "signals.compute", body, None)
    assert await head(pool, signals) == before

    # Nobody else can read, name or count the stream: it answers as a made-up name, to the
    # agency, bidders, a keyholder, the authority, and an expert or the tenderer of the tender.
    for name, role in (("expert", "expert"), ("owner", "tenderer")):
        await o.person(name)
        await grant_role(pool, o.people[name].user_id, o.stream, role)
    tender_head = await head(pool, o.stream)
    for name in ("agency", "a", "d", "kh1", "authority", "expert", "owner"):
        client = o.clients[name]
        for stream in (signals, "signals:NOPE"):
            with pytest.raises(ClientError) as refused:
                await client.subscribe(stream)
            assert refused.value.code == "unknown_stream"
        if name != "authority":  # no role in the tender (appoints supervisors only)
            for event in await everything(client, o.stream):
                assert not event["type"].startswith("signal")
        async with httpx.AsyncClient(base_url=node.url) as http:
            await client.login()
            auth = {"authorization": f"Bearer {client.token}"}
            answers = [
                (await http.get(f"/api/log/{s}/checkpoint", headers=auth)).json()
                for s in (signals, "signals:NOPE")
            ]
        assert answers[0]["code"] == "unknown_stream"
        assert answers[0] == {**answers[1], "detail": answers[0]["detail"]}
    # The tender's own stream does not move for a signal: its seqs count no signal.
    assert await head(pool, o.stream) == tender_head

    # The bundle carries them, and the verifier recomputes the price signals from it.
    bundle = await covered_bundle(node, pool, o.stream)
    assert signals in [s["name"] for s in bundle["streams"]]
    result = verify_bundle(bundle)
    assert result.ok, result.problems
    assert any(f"signals of {signals}: {len(raised)} raised" in line for line in result.summary)
    # A read-out that does not give the recorded signals is named, signal by signal.
    streams = {s["name"]: s["events"] for s in bundle["streams"]}
    tender_events = json.loads(json.dumps(streams[o.stream]))
    for event in tender_events:
        if event["type"] == "opening.read_out":
            for entry in event["payload"]["entries"]:
                if entry["org"] == "company-c":
                    entry["form"]["price"] = "910000.00"
    check = check_signals(signals, streams[signals], tender_events, {})
    reasons = [reason for _subject, reason in check.problems]
    assert f"price signal {identical['id']} does not recompute" in reasons

    # The supervisor's CLI lists them with their evidence; the agency's shows nothing.
    cli = Cli(node.url, tmp_path)
    for name in ("sup", "agency"):
        person = o.people[name]
        save_key_file(cli.key(name), ParticipantKey(person.user_id, person.key, cli.key(name)))
    listed = await cli.ok(
        "supervisor", "signals", "RF1", "--evidence", "--lang", "en", *cli.as_("sup")
    )
    assert "Red flags of tender RF1" in listed.out
    assert "[price.identical] section S1 (opening): 2 bids have the same price" in listed.out
    assert "company-b" in listed.out and "control_margin=0.01" in listed.out
    zh = await cli.ok("supervisor", "signals", "tender:RF1", *cli.as_("sup"))
    assert "风险提示 [price.just_under_control]" in zh.out
    hidden = await cli.ok("supervisor", "signals", "RF1", "--lang", "en", *cli.as_("agency"))
    assert "No red flags to show" in hidden.out and "price." not in hidden.out
    for c in o.clients.values():
        await c.close()


async def covered_bundle(node: InProcessNode, pool: asyncpg.Pool, target: str) -> dict[str, Any]:
    """The bundle of ``target`` once a checkpoint covers every event of its streams."""
    audit = node.node.extras["audit"]
    bundle = json.loads(json.dumps(await export_bundle(pool, target)))
    for name, _first, _last in uncovered(bundle):
        await audit.checkpoint_now(name, "test")
    bundle = json.loads(json.dumps(await export_bundle(pool, target)))
    assert not uncovered(bundle)
    return bundle


async def test_a_bad_red_flags_threshold_in_the_tender_is_refused_naming_the_field(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    await o.setup("RF2", opening_in=60.0, window=60)
    agency = o.clients["agency"]
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    for bad, field in (({"control_margin": "1.5"}, "control_margin"), ({"nope": 1}, "nope")):
        config = {**state["config"], "red_flags": bad}
        with pytest.raises(ClientError) as refused:
            await agency.command("tender:RF2x", "tender.create", {"title": "x", "config": config})
        assert refused.value.code == "invalid_config"
        assert "red_flags" in refused.value.detail and field in refused.value.detail
    assert await head(pool, "tender:RF2x") is None
    for c in o.clients.values():
        await c.close()


# -- the report's annex for the supervising authority ------------------------------------


def _raised_for_report() -> list[dict[str, Any]]:
    from decimal import Decimal

    from evalroom.domain.redflags import PricedBid, price_signals

    bids = [PricedBid("B1", Decimal("980000.00")), PricedBid("B2", Decimal("980000.00"))]
    return [
        {
            **s.to_dict(),
            "id": signal_id(s.to_dict()),
            "phase": "opening",
            "section": "01",
            "bidders": {"B1": "C-B1", "B2": "C-B2"},
        }
        for s in price_signals(bids)
    ]


def test_the_report_has_the_red_flag_annex_only_when_asked_with_the_signals() -> None:
    from evalroom.report import ANNEX_TITLE, document, render_html, render_pdf
    from tests.test_report import STREAM, pdf_text, sources

    state, signatures, tender = sources()
    raised = _raised_for_report()
    plain = render_html(STREAM, state, signatures, tender)
    assert "风险提示" not in plain and "price." not in plain and ANNEX_TITLE not in plain
    annexed = render_html(STREAM, state, signatures, tender, signals=raised)
    assert f"<h2>{ANNEX_TITLE}</h2>" in annexed
    assert "price.identical" in annexed and "B1（C-B1）" in annexed and "不改变" in annexed
    doc = document(STREAM, state, signatures, tender, [])
    assert doc.sections[-1].title == ANNEX_TITLE and "未产生风险提示" in repr(doc)
    pdf = pdf_text(render_pdf(STREAM, state, signatures, tender, signals=raised))
    assert "风险提示" in pdf and "price.identical" in pdf
    assert "风险提示" not in pdf_text(render_pdf(STREAM, state, signatures, tender))


async def test_the_supervisors_watch_shows_a_signal_raised_during_the_session_live(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The session's bids (tests.test_session's PRICES: 980,000 / 990,000 / 1,000,000 among
    them) raise a series when the evaluation's run comes; ``evalroom-supervisor watch`` shows
    it as it lands, with its evidence."""
    from tests.test_session_cli import Evaluation

    ev = Evaluation(node, pool, tmp_path)
    await ev.create()
    timeout = str(round(slack(15.0)))  # the watch runs this long, whatever the machine's load
    watching = await ev.tools.start(
        "supervisor", "watch", ev.sid, "--plain", "--no-log-check", "--timeout", timeout,
        *ev.as_("sup"),
    )  # fmt: skip
    await asyncio.sleep(2.0)  # the watch is starting or following the session, no signal yet
    watch = node.node.extras["redflag_watch"]
    body = {"phase": "evaluation", "stage": "review", "section": "S1", "session": ev.stream}
    await watch.compute(f"tender:{ev.tender}", body)
    assert await head(pool, f"signals:{ev.tender}") == 2  # signal.raised, signals.checked
    done = await watching
    assert done.rc == 4, done  # it ran until its timeout
    assert "⚠ 风险提示 [price.arithmetic_series] 标段 S1（评标）" in done.out
    assert "涉及投标：S1-B02 (company-b), S1-B04 (company-d), S1-B01 (company-a)" in done.out
    await ev.close()
