"""Red flags on the record (预警信号留痕): the tender's ``signals:<tender id>`` stream, pure.

The service (``evalroom.services.redflags``) computes the signals of a tender at the opening
and during the evaluation and hands them to :func:`record` as facts; this decider turns the
ones not yet on the record into ``signal.raised`` events and closes each run with one
``signals.checked`` event. Both are for supervisors only (``visibility.EVENTS``), in a stream
no one else can read, name or count. Signals are advisory: nothing here reads or writes a
result of the opening or the evaluation.

A signal's identity is its code and the SHA-256 of its evidence's canonical JSON
(:func:`signal_id`): a run that finds the same signal again (a retry, another node, the
evaluation re-finding what the opening found) adds nothing.

The read-out's figures are turned into the price checks' input here too
(:func:`read_out_bids`, :func:`session_bids`, :func:`control_of`), so the offline verifier
recomputes the price signals from a bundle exactly as the server did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from evalroom.domain.commands import Command, Decision, NewEvent
from evalroom.domain.redflags import PRICE_FIELD, PricedBid
from evalroom.domain.rules import RuleError
from evalroom.domain.session_state import SYSTEM

PHASES = ("opening", "evaluation")


def stream_of(tender: str) -> str:
    """``signals:<tender id>`` for ``tender:<tender id>``."""
    return "signals:" + tender.removeprefix("tender:")


def _canonical(value: Any) -> bytes:
    # Evidence is strings, lists and objects only (figures are strings), so sorted keys and
    # no whitespace are RFC 8785's canonical form for it.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signal_id(signal: Mapping[str, Any]) -> str:
    """``<code>:<first 16 hex digits of SHA-256(evidence)>``: the same evidence, the same id."""
    digest = hashlib.sha256(_canonical(signal["evidence"])).hexdigest()[:16]
    return f"{signal['code']}:{digest}"


def run_key(phase: str, stage: str, section: str, session: str | None) -> str:
    """What one run looked at: ``opening:<stage>:<section>`` or
    ``evaluation:<session>:<stage>:<section>`` (the evaluation's stage: ``review``/``scores``)."""
    if phase == "opening":
        return f"opening:{stage}:{section}"
    return f"evaluation:{session}:{stage}:{section}"


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _form_fields(form: Mapping[str, Any]) -> dict[str, Decimal]:
    """The decimal fields of a bid form other than the total price."""
    out = {}
    for name, value in form.items():
        if name == PRICE_FIELD or not isinstance(value, str):
            continue
        d = _decimal(value)
        if d is not None:
            out[name] = d
    return out


def read_out_bids(entries: Iterable[Mapping[str, Any]], section: str) -> list[PricedBid]:
    """The priced bids of ``section`` in an ``opening.read_out`` payload's ``entries``: every
    decrypted bid with a positive price; a bid the read-out rejected (above the control price,
    否决) is disqualified."""
    bids = []
    for entry in entries:
        if entry.get("section") != section or entry.get("status") != "decrypted":
            continue
        form = entry.get("form") or {}
        price = _decimal(form.get(PRICE_FIELD))
        if price is None or price <= 0:
            continue
        bids.append(
            PricedBid(
                str(entry["number"]),
                price,
                _form_fields(form),
                disqualified="rejected" in entry,
            )
        )
    return bids


def session_bids(state: Mapping[str, Any]) -> list[PricedBid]:
    """The session's bids with the committee's marks: disqualified when rejected at the
    opening or failed in the preliminary review (初步评审)."""
    prelim = state.get("preliminary")
    passed = None if not prelim else set(prelim.get("passed", []))
    bids = []
    for bid in state.get("bids", []):
        price = _decimal(bid.get("price"))
        if price is None or price <= 0:
            continue
        out = passed is not None and bid["bid_id"] not in passed
        bids.append(PricedBid(str(bid["bid_id"]), price, {}, disqualified=out))
    for bid in state.get("rejected") or []:
        price = _decimal(bid.get("price"))
        if price is not None and price > 0:
            bids.append(PricedBid(str(bid["bid_id"]), price, {}, disqualified=True))
    return bids


def control_of(sections: Sequence[Mapping[str, Any]], section: str) -> dict[str, Decimal]:
    """The control figures of ``section`` as published (``tender.configured``'s sections):
    ``{"price": limit}`` when it has a control price, else empty."""
    for s in sections:
        if s.get("id") == section:
            limit = _decimal((s.get("control_price") or {}).get("limit"))
            return {} if limit is None or limit <= 0 else {PRICE_FIELD: limit}
    return {}


# -- the decider ---------------------------------------------------------------------------


def record(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``signals.compute`` (system) {phase, stage, section, session?}: facts ``signals`` (each
    ``{source, signal, bidders}``), ``sources`` (names run), ``failed`` (names that raised),
    ``thresholds`` and ``inputs`` (what was read, for the verifier).

    Emits ``signal.raised`` for each signal whose id is not on the record yet, then
    ``signals.checked`` for the run unless the same run was checked before and found nothing
    new (a repeat adds nothing)."""
    body = cmd.body
    phase = str(body.get("phase"))
    if phase not in PHASES:
        raise RuleError("invalid", f"phase is one of {', '.join(PHASES)}")
    section, stage = str(body["section"]), str(body["stage"])
    session = body.get("session")
    key = run_key(phase, stage, section, session)
    raised: dict[str, int] = dict(state.get("raised", {}))
    checked: dict[str, list[str]] = {k: list(v) for k, v in state.get("checked", {}).items()}
    where = {"phase": phase, "stage": stage, "section": section}
    if session:
        where["session"] = str(session)
    events: list[NewEvent] = []
    found: list[str] = []
    for item in cmd.facts.get("signals", []):
        signal = item["signal"]
        sid = signal_id(signal)
        if sid in found:
            continue
        found.append(sid)
        if sid in raised:
            continue
        raised[sid] = len(raised) + 1
        payload = {
            "id": sid,
            "source": item["source"],
            **signal,
            **where,
            "bidders": dict(item.get("bidders", {})),
        }
        events.append(NewEvent("signal.raised", payload))
    new_ids = [e.payload["id"] for e in events]
    if key in checked and not new_ids:
        return Decision([], state)
    checked[key] = found
    events.append(
        NewEvent(
            "signals.checked",
            {
                **where,
                "run": key,
                "sources": list(cmd.facts.get("sources", [])),
                "failed": list(cmd.facts.get("failed", [])),
                "found": found,
                "raised": new_ids,
                "thresholds": dict(cmd.facts.get("thresholds", {})),
                "inputs": dict(cmd.facts.get("inputs", {})),
            },
        )
    )
    tender = state.get("tender") or cmd.facts.get("tender", "")
    return Decision(events, {"tender": tender, "raised": raised, "checked": checked})


DECIDERS = {"signals.compute": record}
COMMAND_ROLES = {"signals.compute": frozenset({SYSTEM})}
