"""The red-flag pipeline (围标串标预警): signals computed live and put on the record.

At the opening (once a stage is read out, 唱标) and during the evaluation (once the
preliminary review has closed, and again once the scores are revealed), every node's
:class:`RedFlagWatch` issues ``signals.compute`` as the platform's own actor, one command per
section. The command runs through the ordinary pipeline: addressed to the tender, routed to
the tender's ``signals:<tender id>`` stream (created on first use, parent the tender), its
``gather`` step runs every source of :data:`SOURCES` inside the transaction, and the pure
decider (``evalroom.domain.redflag_record``) records each new signal as ``signal.raised``
and the run as ``signals.checked``. Nothing is acked or published before it is committed;
the client id is derived from the run, so several nodes (or a node after a crash) apply it
once. A source that fails is named in ``signals.checked``'s ``failed`` and never blocks the
others, the opening or the evaluation: **signals are advisory and never change a result**.

Who sees them: the tender's supervisors, nobody else. The stream answers anyone else as a
name that does not exist (``services.bids.visible_grants``), so no other role learns that
signals exist, how many, or the stream's size; the events themselves are ``supervisor``.

Adding a source (the interface other signal families plug into)::

    async def my_source(ctx: SignalContext) -> list[Signal]: ...
    SOURCES.append(my_source)      # its ``__name__`` is its stable name on the record

A source gets one :class:`SignalContext` per (tender, phase, stage, section) and returns
``evalroom.domain.redflags.Signal`` values (stable ``code``, zh-CN and English sentences,
``Evidence`` with bid ids as read out, fields and figures, the thresholds used). It may read
the database through ``ctx.db`` (the command's own connection, inside its transaction: read,
never write) and must be deterministic for the same inputs, since a signal's identity is its
code and the digest of its evidence. ``ctx.bidders`` maps bid ids to companies, so the record
names them; ``ctx.red_flags`` is the merged raw configuration object for a source's own keys.

Thresholds: :func:`thresholds_for` — the tender config's optional ``red_flags`` object over
the platform's (``EVALROOM_RED_FLAGS``, JSON), over the defaults of
``evalroom.domain.redflags.Thresholds`` (docs/red-flags.md lists them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import Field

from evalroom.db import Conn
from evalroom.db import events as store
from evalroom.db import redflags as db
from evalroom.db.identity import User
from evalroom.domain import redflag_record
from evalroom.domain.opening import config_of
from evalroom.domain.redflag_record import control_of, read_out_bids, session_bids
from evalroom.domain.redflags import Signal, Thresholds, price_signals
from evalroom.domain.redflags.families import merge_settings, read_settings
from evalroom.domain.rules import RuleError
from evalroom.errors import Refusal
from evalroom.services.periodic import Periodic
from evalroom.services.redflag_evidence import evidence_signals
from evalroom.services.redflag_history import expert_signals, history_signals
from evalroom.services.spec import Body, CommandSpec, ServiceContext, specs_from

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SignalContext:
    """What a source sees for one run: ``phase`` is ``opening`` (``stage`` the envelope read
    out) or ``evaluation`` (``stage`` ``review`` or ``scores``, ``session`` set)."""

    db: Conn
    tender: str
    phase: str
    stage: str
    section: str
    session: str | None
    thresholds: Thresholds
    tender_state: Mapping[str, Any]
    session_state: Mapping[str, Any] | None = None
    read_out: Mapping[str, Any] | None = None  # the stage's opening.read_out payload
    bidders: Mapping[str, str] = field(default_factory=dict)  # bid id -> company
    red_flags: Mapping[str, Any] = field(default_factory=dict)


Source = Callable[[SignalContext], Awaitable[list[Signal]]]


def published_sections(tender_state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sections as ``tender.configured`` published them (with their control prices);
    none for a tender without a configuration (then no control-price check applies)."""
    if not tender_state.get("config"):
        return []
    return config_of(tender_state).sections_public()


async def price_source(ctx: SignalContext) -> list[Signal]:
    """The price rule checks and screens (``evalroom.domain.redflags.price_signals``): at
    the opening on the stage's read-out (a bid rejected above the control price counts as
    disqualified), during the evaluation on the session's bids with the committee's marks."""
    if ctx.phase == "opening":
        if ctx.read_out is None:
            return []
        bids = read_out_bids(ctx.read_out.get("entries", []), ctx.section)
    else:
        bids = session_bids(ctx.session_state or {})
    if not bids:
        return []
    control = control_of(published_sections(ctx.tender_state), ctx.section)
    return price_signals(bids, control, ctx.thresholds)


async def evidence_source(ctx: SignalContext) -> list[Signal]:
    """Identity and documents (``services.redflag_evidence``): at the opening, over every bid
    decrypted so far (the same machine, address or login key behind two bidders; the same
    person named; identical files, metadata, near-duplicate text, identical form errors)."""
    if ctx.phase != "opening":
        return []
    # A later stage sees the same bids again with more documents: a pair flagged for a kind
    # of evidence at an earlier stage is not flagged again with slightly other figures.
    seen = {
        (p.get("code"), tuple(sorted((p.get("evidence") or {}).get("bids") or [])))
        for p in await db.signals_raised(ctx.db, ctx.tender)
    }
    found = await evidence_signals(ctx.db, ctx.tender, ctx.thresholds)
    return [s for s in found if (s.code, tuple(sorted(s.evidence.bids))) not in seen]


async def history_source(ctx: SignalContext) -> list[Signal]:
    """Across tenders (``services.redflag_history``): at the opening, the flags over the
    platform's history that involve this stage's bidders (co-bidding, rotation, never
    winning), with the ``history`` settings of ``red_flags``."""
    companies = sorted({c for c in ctx.bidders.values() if c})
    if ctx.phase != "opening" or not companies:
        return []
    return await history_signals(ctx.db, read_settings(ctx.red_flags).history, companies)


async def expert_source(ctx: SignalContext) -> list[Signal]:
    """The committee's experts across sessions (``services.redflag_history``): once the
    scores are revealed, each member's deviation rate, favour and agreement."""
    if ctx.phase != "evaluation" or ctx.stage != "scores":
        return []
    committee = sorted((ctx.session_state or {}).get("committee") or {})
    if not committee:
        return []
    return await expert_signals(ctx.db, read_settings(ctx.red_flags).experts, committee)


# The signal sources, run in this order; a failing one is named on the run, never blocking.
SOURCES: list[Source] = [price_source, evidence_source, history_source, expert_source]


def thresholds_for(
    platform: Mapping[str, Any] | None, config: Mapping[str, Any] | None
) -> tuple[Thresholds, dict[str, Any]]:
    """The thresholds of a tender: its config's ``red_flags`` over the platform's over the
    defaults; with the merged raw object. ``invalid_config`` names the field at fault."""
    tender = (config or {}).get("red_flags")
    if tender is not None and not isinstance(tender, Mapping):
        raise RuleError("invalid_config", "red_flags must be a JSON object")
    merged = merge_settings(platform, tender)
    return read_settings(merged).tender, merged


def _platform_red_flags(ctx: ServiceContext) -> Mapping[str, Any]:
    settings = ctx.extras.get("settings")
    value = getattr(settings, "red_flags", None)
    return value if isinstance(value, Mapping) else {}


class Compute(Body):
    phase: str = Field(pattern="^(opening|evaluation)$")
    stage: str = Field(min_length=1, max_length=40)
    section: str = Field(min_length=1, max_length=40)
    session: str | None = Field(default=None, min_length=1, max_length=80)


async def route_signals(ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]) -> str:
    return redflag_record.stream_of(stream)


async def gather_signals(
    ctx: ServiceContext, conn: Conn, tender: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Run every source for the run the body names, under the command's locks."""
    tender_state = await store.stream_state(conn, tender) or {}
    thresholds, raw = thresholds_for(_platform_red_flags(ctx), tender_state.get("config"))
    phase, stage, section = body["phase"], body["stage"], body["section"]
    session = body.get("session")
    inputs: dict[str, Any] = {}
    read_out: dict[str, Any] | None = None
    session_state: dict[str, Any] | None = None
    bidders: dict[str, str] = {}
    if phase == "opening":
        found = await db.read_out_event(conn, tender, stage)
        if found is None:
            raise RuleError("not_ready", f"the {stage} stage is not read out")
        inputs["read_out_seq"], read_out = found
        bidders = {str(e["number"]): str(e.get("org", "")) for e in read_out.get("entries", [])}
    else:
        if not session:
            raise RuleError("invalid", "an evaluation run names its session")
        info = await store.stream_info(conn, session)
        if info is None or info[1] != tender:
            raise RuleError("unknown_stream", session)
        session_state = await store.stream_state(conn, session) or {}
        inputs["session"], inputs["session_head"] = session, info[2]
        for bid in [*session_state.get("bids", []), *(session_state.get("rejected") or [])]:
            bidders[str(bid["bid_id"])] = str(bid.get("company", ""))
    context = SignalContext(
        conn,
        tender,
        phase,
        stage,
        section,
        session,
        thresholds,
        tender_state,
        session_state,
        read_out,
        bidders,
        raw,
    )
    signals: list[dict[str, Any]] = []
    failed: list[str] = []
    for source in SOURCES:
        name = getattr(source, "__name__", repr(source))
        try:
            for signal in await source(context):
                named = {b: bidders[b] for b in signal.evidence.bids if b in bidders}
                signals.append({"source": name, "signal": signal.to_dict(), "bidders": named})
        except Exception as exc:  # advisory: a failing source never blocks the run
            log.warning("redflag_source_failed", source=name, tender=tender, error=repr(exc))
            failed.append(name)
    return {
        "signals": signals,
        "sources": [getattr(s, "__name__", repr(s)) for s in SOURCES],
        "failed": failed,
        "thresholds": thresholds.to_dict(),
        "inputs": inputs,
        "tender": tender,
    }


SPECS: list[CommandSpec] = specs_from(
    redflag_record.DECIDERS,
    redflag_record.COMMAND_ROLES,
    "tender",
    {"signals.compute": Compute},
    creates_stream={"signals.compute": True},
    creates_kind={"signals.compute": "signals"},
    route={"signals.compute": route_signals},
    gather={"signals.compute": gather_signals},
)


# -- the watch: every node issues the runs that are due ----------------------------------


# The platform's own actor (``pipeline.SYSTEM_USER``; the pipeline imports this module).
SYSTEM = User("system", "平台", None, "")


class RedFlagWatch(Periodic):
    """Each tick: the read-out stages and the sessions whose signals are due, computed as
    ``signals.compute`` commands of the system actor (client ids derived from the run)."""

    name = "redflag_watch"

    def __init__(self, pipeline: Any, interval: float) -> None:
        self.pipeline = pipeline
        self.interval = interval

    async def tick(self) -> None:
        pool = self.pipeline.pool
        for tender, stage, sections in await db.openings_due(pool):
            for section in sections:
                await self.compute(tender, {"phase": "opening", "stage": stage, "section": section})
        for session, tender, section, stage in await db.sessions_due(pool):
            body = {"phase": "evaluation", "stage": stage, "section": section, "session": session}
            await self.compute(tender, body)

    async def compute(self, tender: str, body: dict[str, Any]) -> None:
        key = redflag_record.run_key(
            body["phase"], body["stage"], body["section"], body.get("session")
        )
        client_id = "rf-" + hashlib.sha256(f"{tender}|{key}".encode()).hexdigest()[:40]
        try:
            await self.pipeline.execute(SYSTEM, client_id, tender, "signals.compute", body, None)
        except Refusal as refusal:
            log.info("redflag_compute_refused", tender=tender, run=key, code=refusal.code)
