"""Clarification (澄清): an expert's question to a bidder, approved by the supervisor, answered
by the bidder before a deadline.

The committee sees the whole exchange; the bidder company sees its own question once
approved (without who asked) and its answer; nobody else sees either. States:
``asked`` -> ``approved`` -> ``answered`` | ``expired``, or ``asked`` -> ``rejected``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalroom.domain.commands import Command, Decision
from evalroom.domain.rules import RuleError
from evalroom.domain.session_state import (
    REVIEW,
    Session,
    parse_time,
    positive_int,
    text_field,
)


def _clarification(s: Session) -> tuple[str, dict[str, Any]]:
    cid = text_field(s.cmd.body, "id")
    found: dict[str, Any] | None = s.s["clarifications"].get(cid)
    if found is None:
        raise RuleError("unknown_clarification", f"no clarification {cid}")
    return cid, found


def _due(s: Session, c: Mapping[str, Any]) -> bool:
    return c["status"] == "approved" and s.cmd.now >= parse_time(c["deadline"])


def pending_clarifications(s: Session) -> list[str]:
    """Questions still awaiting the supervisor or, within the deadline, the bidder."""
    return [
        cid
        for cid, c in s.s["clarifications"].items()
        if c["status"] == "asked" or (c["status"] == "approved" and not _due(s, c))
    ]


def expire_clarifications(s: Session) -> None:
    """Approved questions whose deadline passed unanswered: recorded as expired."""
    for cid, c in s.s["clarifications"].items():
        if _due(s, c):
            c["status"] = "expired"
            payload = {"id": cid, "company": c["company"], "deadline": c["deadline"]}
            s.emit("session.clarification_expired", {**payload, "to": "committee"})
            s.emit("session.clarification_expired", {**payload, "to": "bidder"})


def ask(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.clarify_ask``: an expert asks a bidder company a question."""
    s = Session(state, cmd)
    expert = s.expert(*REVIEW)
    company = text_field(cmd.body, "company")
    if company not in s.companies():
        raise RuleError("unknown_bidder", f"{company} has no bid in this section")
    question = text_field(cmd.body, "question")
    seconds = positive_int(cmd.body.get("deadline_seconds"), "deadline_seconds")
    cid = f"Q{len(s.s['clarifications']) + 1}"
    asked = {"company": company, "question": question, "deadline_seconds": seconds}
    s.s["clarifications"][cid] = {
        **asked,
        "asked_by": expert,
        "asked_at": s.now,
        "status": "asked",
        "deadline": None,
        "answer": None,
        "answered_at": None,
        "rejection": None,
    }
    s.emit("session.clarification_asked", {"id": cid, "asked_by": expert, **asked})
    return s.decision(reply={"id": cid})


def _awaiting_supervisor(
    state: Mapping[str, Any], cmd: Command
) -> tuple[Session, str, dict[str, Any]]:
    s = Session(state, cmd)
    s.require_live()
    s.require_phase(*REVIEW)
    cid, c = _clarification(s)
    if c["status"] != "asked":
        raise RuleError("not_pending", f"clarification {cid} is {c['status']}")
    return s, cid, c


def approve(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.clarify_approve``: the supervisor sends the question; the deadline starts."""
    s, cid, c = _awaiting_supervisor(state, cmd)
    c.update(status="approved", deadline=s.deadline_after(c["deadline_seconds"]))
    s.emit("session.clarification_approved", {"id": cid, "deadline": c["deadline"]})
    question = {
        "id": cid,
        "company": c["company"],
        "question": c["question"],
        "deadline": c["deadline"],
    }
    s.emit("session.clarification_request", question)
    return s.decision()


def reject(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.clarify_reject``: the supervisor refuses the question, with a reason."""
    s, cid, c = _awaiting_supervisor(state, cmd)
    c.update(status="rejected", rejection=text_field(cmd.body, "reason", "reason_required"))
    s.emit("session.clarification_rejected", {"id": cid, "reason": c["rejection"]})
    return s.decision()


def answer(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.clarify_answer``: the bidder company answers its own question (signed)."""
    s = Session(state, cmd)
    s.require_live()
    s.require_phase(*REVIEW)
    cid, c = _clarification(s)
    if cmd.actor.org != c["company"]:
        raise RuleError("not_yours", f"clarification {cid} is addressed to another bidder")
    if c["status"] == "expired" or _due(s, c):
        raise RuleError("deadline_passed", f"the answer to {cid} was due by {c['deadline']}")
    if c["status"] != "approved":
        raise RuleError("not_pending", f"clarification {cid} is {c['status']}")
    c.update(status="answered", answer=text_field(cmd.body, "answer"), answered_at=s.now)
    payload = {"id": cid, "company": c["company"], "answer": c["answer"]}
    s.emit("session.clarification_answered", {**payload, "to": "committee"}, signed=True)
    s.emit("session.clarification_answered", {**payload, "to": "bidder"})
    return s.decision()
