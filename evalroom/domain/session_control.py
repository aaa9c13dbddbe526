"""Keeping the session in hand: the supervisor's pause, resume, warnings and notes (监督), the
venue fault rules (网络中断), the tenderer's decision, and the clock.

Venue faults, as the rules put them: a venue lost before the evaluation starts makes the
start wait up to ``start_wait`` seconds, then the tenderer decides (continue waiting, or
reschedule); a venue lost during the evaluation pauses every venue, and unless it is back
within ``resume_wait`` seconds the materials are sealed and a new committee must be formed.
The evaluation starts when check-in completes (chair election onwards).

The service's presence tracking issues ``session.venue_lost`` / ``session.venue_restored``;
its clock issues ``session.clock`` at :func:`next_deadline`. A deadline has passed when
``now >= deadline``. Every decider applies passed deadlines first, so the outcome does not
depend on whether the clock ticked before a late restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from evalroom.domain.commands import Command, Decision
from evalroom.domain.rules import RuleError
from evalroom.domain.session_clarify import expire_clarifications
from evalroom.domain.session_state import (
    BEFORE_START,
    DURING_EVALUATION,
    ENDED,
    EVALUATION,
    PRE_START,
    Phase,
    Session,
    optional_text,
    parse_time,
    text_field,
)

# --- the supervisor -------------------------------------------------------------------------


def pause(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.pause``: every expert command and check-in is refused until resumed."""
    s = Session(state, cmd)
    s.require_live()
    if s.s["pause"] is not None:
        raise RuleError("already_paused", "the session is paused")
    reason = text_field(cmd.body, "reason", "reason_required")
    s.s["pause"] = {"reason": reason, "by": cmd.actor.user_id, "at": s.now}
    s.emit("session.paused", {"reason": reason, "cause": "supervisor"})
    return s.decision()


def resume(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.resume``: lift the supervisor's pause (a lost venue still holds the session)."""
    s = Session(state, cmd)
    s.require_live()
    if s.s["pause"] is None:
        raise RuleError("not_paused", "the supervisor has not paused the session")
    s.s["pause"] = None
    if s.paused:
        s.emit("session.pause_lifted", {"waiting_for_venues": s.fault_venues()})
    s.announce_running_again("supervisor")
    return s.decision()


def warn(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.warn``: a warning to one expert, or to the whole committee."""
    s = Session(state, cmd)
    s.require_live()
    text, named = text_field(cmd.body, "text"), cmd.body.get("expert")
    to = "committee" if named is None else "expert"
    expert = None if named is None else s.member(str(named))
    s.emit("session.warning", {"expert": expert, "text": text, "to": to})
    return s.decision()


def annotate(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.annotate``: a supervisor's note, for supervisors only (signed)."""
    s = Session(state, cmd)
    s.emit("session.note", {"text": text_field(cmd.body, "text")}, signed=True)
    return s.decision()


# --- venue faults ---------------------------------------------------------------------------


def _venue(s: Session) -> str:
    vid = text_field(s.cmd.body, "venue")
    if vid not in s.s["venues"]:
        raise RuleError("unknown_venue", f"no venue {vid} in this session")
    return vid


def venue_lost(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.venue_lost`` (system): a venue's connection is gone. Repeats change nothing."""
    s = Session(state, cmd)
    vid = _venue(s)
    apply_deadlines(s)
    if s.phase in ENDED or vid in s.s["faults"]:
        return s.decision()
    during = s.phase in EVALUATION
    was_paused = s.paused
    wait = s.s["waits"]["resume" if during else "start"]
    deadline = None if s.phase is Phase.AWAITING_TENDERER else s.deadline_after(wait)
    fault = {
        "stage": DURING_EVALUATION if during else BEFORE_START,
        "lost_at": s.now,
        "deadline": deadline,
    }
    s.s["faults"][vid] = fault
    s.emit("session.venue_lost", {"venue": vid, **fault})
    if during and not was_paused:
        s.emit("session.paused", {"reason": f"venue {vid} lost", "cause": "venue_fault"})
    return s.decision()


def venue_restored(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.venue_restored`` (system): the venue is back; in time, the session goes on."""
    s = Session(state, cmd)
    vid = _venue(s)
    apply_deadlines(s)  # back after its deadline is too late
    if s.phase in ENDED or vid not in s.s["faults"]:
        return s.decision()
    fault = s.s["faults"].pop(vid)
    s.emit(
        "session.venue_restored",
        {"venue": vid, "stage": fault["stage"], "lost_at": fault["lost_at"]},
    )
    if fault["stage"] == DURING_EVALUATION:
        s.announce_running_again("venue_restored")
    else:
        s.maybe_start()
    return s.decision()


def tenderer_decision(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.tenderer_decision``: after the start wait ran out, ``continue`` waiting (a new
    ``start_wait`` for each venue still lost) or ``reschedule`` (the session ends)."""
    s = Session(state, cmd)
    s.require_phase(Phase.AWAITING_TENDERER)
    choice = cmd.body.get("decision")
    if choice not in ("continue", "reschedule"):
        raise RuleError("invalid", "decision is continue or reschedule")
    s.emit(
        "session.tenderer_decided",
        {"decision": choice, "reason": optional_text(cmd.body, "reason")},
    )
    if choice == "reschedule":
        s.move_to(Phase.RESCHEDULED)
        s.emit("session.rescheduled", {"tender": s.s["tender"], "section": s.s["section"]})
        return s.decision()
    for fault in s.s["faults"].values():
        fault["deadline"] = s.deadline_after(s.s["waits"]["start"])
    resume_phase, s.s["resume_phase"] = Phase(s.s["resume_phase"]), None
    s.move_to(resume_phase)
    s.maybe_start()
    return s.decision()


# --- the clock ------------------------------------------------------------------------------


def _fault_due(s: Session) -> list[str]:
    now = s.cmd.now
    faults = s.s["faults"]
    return sorted(
        v for v, f in faults.items() if f["deadline"] and now >= parse_time(f["deadline"])
    )


def apply_deadlines(s: Session) -> None:
    """Whatever deadline has passed at ``now``: clarifications expire, a venue still lost
    seals the session (during evaluation) or hands the start to the tenderer (before)."""
    if s.phase in ENDED:
        return
    expire_clarifications(s)
    due = _fault_due(s)
    if not due:
        return
    first = s.s["faults"][due[0]]
    if first["stage"] == DURING_EVALUATION:
        s.move_to(Phase.SEALED)
        sealed = {"venue": due[0], "lost_at": first["lost_at"], "reason": "venue_fault"}
        s.emit("session.sealed", sealed)
        s.emit(
            "session.new_committee_required", {"tender": s.s["tender"], "section": s.s["section"]}
        )
    elif s.phase in PRE_START:
        for fault in s.s["faults"].values():
            fault["deadline"] = None
        s.s["resume_phase"] = s.phase.value
        s.emit("session.start_wait_over", {"venues": due})
        s.move_to(Phase.AWAITING_TENDERER)


def clock(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.clock`` (system): apply whatever deadline passed; nothing when none did."""
    s = Session(state, cmd)
    apply_deadlines(s)
    return s.decision()


def next_deadline(state: Mapping[str, Any]) -> datetime | None:
    """When the service's clock should next issue ``session.clock`` (None: no deadline runs)."""
    if not state or Phase(state["phase"]) in ENDED:
        return None
    times = [f["deadline"] for f in state["faults"].values() if f["deadline"]]
    times += [c["deadline"] for c in state["clarifications"].values() if c["status"] == "approved"]
    return min((parse_time(t) for t in times), default=None)
