"""The red flags' part of the offline verifier (预警信号): are the recorded signals the ones
the bundle's own figures raise?

Given a tender's ``signals:<id>`` stream (already checked by ``clients/verify.py``: numbering,
leaf hashes, checkpoints), its tender stream and the sessions in the bundle, this checks:

- every ``signal.raised`` carries the id its code and evidence give
  (``evalroom.domain.redflag_record.signal_id``), and no id is raised twice;
- every ``signals.checked`` run names only ids raised at or before it, and the ids it says it
  raised are raised in it;
- for every run in which the price source ran (``price_source`` listed, not ``failed``), the
  price signals recomputed with ``evalroom.domain.redflags.price_signals`` from the bundle —
  the ``opening.read_out`` the run names (``inputs.read_out_seq``) and the control price of
  the last ``tender.configured`` before it, or, in the evaluation, the session's
  ``session.bids`` with its ``session.preliminary_result`` up to ``inputs.session_head`` —
  at the thresholds the run recorded, are exactly the price signals the run found.

Other sources' signals (identity, documents, across tenders) are checked for their ids and
their place in the runs only; their inputs are not in the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalroom.domain.redflag_record import control_of, read_out_bids, session_bids, signal_id
from evalroom.domain.redflags import Thresholds, price_signals
from evalroom.domain.rules import RuleError

PRICE_SOURCE = "price_source"


@dataclass
class SignalsCheck:
    summary: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (subject, reason)
    notes: list[str] = field(default_factory=list)


def check_signals(
    name: str,
    events: Sequence[Mapping[str, Any]],
    tender: Sequence[Mapping[str, Any]] | None,
    sessions: Mapping[str, Sequence[Mapping[str, Any]]],
) -> SignalsCheck:
    """Check the signals stream ``name``'s events (in seq order) against the bundle."""
    out = SignalsCheck()
    source_of: dict[str, str] = {}
    runs = recomputed = 0
    for event in events:
        subject = f"event {name}#{event['seq']}"
        payload = event["payload"]
        if event["type"] == "signal.raised":
            sid = payload.get("id")
            if sid != signal_id(payload):
                out.problems.append((subject, f"signal id {sid} is not its code and evidence"))
            if sid in source_of:
                out.problems.append((subject, f"signal {sid} raised twice"))
            source_of[str(sid)] = str(payload.get("source"))
        elif event["type"] == "signals.checked":
            runs += 1
            found = [str(i) for i in payload.get("found", [])]
            for sid in found:
                if sid not in source_of:
                    out.problems.append((subject, f"signal {sid} found but never raised"))
            ran = PRICE_SOURCE in payload.get("sources", [])
            if ran and PRICE_SOURCE not in payload.get("failed", []):
                claimed = {sid for sid in found if source_of.get(sid) == PRICE_SOURCE}
                ids = _recompute(out, subject, payload, tender, sessions)
                if ids is not None:
                    recomputed += 1
                    for sid in sorted(ids - claimed):
                        out.problems.append((subject, f"price signal {sid} was not recorded"))
                    for sid in sorted(claimed - ids):
                        out.problems.append((subject, f"price signal {sid} does not recompute"))
    out.summary.append(
        f"signals of {name}: {len(source_of)} raised in {runs} run(s);"
        f" the price signals of {recomputed} run(s) recomputed from the bundle"
    )
    return out


def _recompute(
    out: SignalsCheck,
    subject: str,
    run: Mapping[str, Any],
    tender: Sequence[Mapping[str, Any]] | None,
    sessions: Mapping[str, Sequence[Mapping[str, Any]]],
) -> set[str] | None:
    if tender is None:
        out.problems.append((subject, "the tender stream is not in the bundle"))
        return None
    inputs = run.get("inputs", {})
    section = str(run.get("section"))
    if run.get("phase") == "opening":
        seq = inputs.get("read_out_seq")
        read = [e for e in tender if e["seq"] == seq and e["type"] == "opening.read_out"]
        if not read:
            out.problems.append((subject, f"no opening.read_out at seq {seq} of the tender"))
            return None
        bids = read_out_bids(read[0]["payload"].get("entries", []), section)
    else:
        session = sessions.get(str(inputs.get("session")))
        if session is None:
            out.notes.append(f"{subject}: session {inputs.get('session')} not in the bundle")
            return None
        upto = int(inputs.get("session_head", 0))
        state: dict[str, Any] = {}
        for e in session:
            if e["seq"] > upto:
                break
            if e["type"] == "session.bids":
                state["bids"] = e["payload"].get("bids", [])
                state["rejected"] = e["payload"].get("rejected") or []
            elif e["type"] == "session.preliminary_result":
                state["preliminary"] = {"passed": e["payload"].get("passed", [])}
        bids = session_bids(state)
        seq = None
    configured = [
        e
        for e in tender
        if e["type"] == "tender.configured" and (seq is None or e["seq"] < int(seq))
    ]
    sections = configured[-1]["payload"].get("sections", []) if configured else []
    try:
        thresholds = Thresholds.from_dict(run.get("thresholds") or {})
        if not bids:
            return set()
        found = price_signals(bids, control_of(sections, section), thresholds)
    except RuleError as exc:
        out.problems.append((subject, f"price signals cannot be recomputed: {exc.message}"))
        return None
    return {signal_id(s.to_dict()) for s in found}
