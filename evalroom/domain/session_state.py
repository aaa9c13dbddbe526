"""The evaluation session's state (评标会话) as plain JSON, and the checks its deciders share.

The pipeline stores a session's state as a JSON object; :class:`Session` is a working copy of
it for one decision, with the events and role grants the decision adds. Nothing here does I/O.
The shape of the state is documented in :mod:`evalroom.domain.session`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Any

from evalroom.domain.commands import Command, Decision, GrantRole, NewEvent
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import (
    Criterion,
    CriterionKind,
    Entry,
    ExpertSheet,
    ScoredBy,
    ScoringMethod,
)

Decider = Callable[[Mapping[str, Any], Command], Decision]

SYSTEM = "system"  # the role of commands the service issues itself (presence, clock)


class Phase(StrEnum):
    DRAW = "draw"  # 抽取
    CHECK_IN = "check_in"  # 签到
    CHAIR_ELECTION = "chair_election"  # 推选组长
    PRELIMINARY = "preliminary_review"  # 初步评审
    DETAILED = "detailed_review"  # 详细评审
    DEVIATION = "deviation_check"  # 评分偏离
    SIGNING = "signing"  # 评标报告签署
    CLOSED = "closed"
    AWAITING_TENDERER = "awaiting_tenderer_decision"  # a venue did not come back before start
    SEALED = "sealed"  # 封存: a venue did not come back during evaluation
    RESCHEDULED = "rescheduled"  # the tenderer chose to evaluate another day


PRE_START = (Phase.DRAW, Phase.CHECK_IN)
# In order: going back moves to an earlier one; a venue lost in one of these pauses the session.
EVALUATION = (
    Phase.CHAIR_ELECTION,
    Phase.PRELIMINARY,
    Phase.DETAILED,
    Phase.DEVIATION,
    Phase.SIGNING,
)
REVIEW = (Phase.PRELIMINARY, Phase.DETAILED, Phase.DEVIATION)
ENDED = (Phase.CLOSED, Phase.SEALED, Phase.RESCHEDULED)

# When a venue was lost: before the evaluation started, or during it (which pauses it).
BEFORE_START = "before_start"
DURING_EVALUATION = "during_evaluation"


# Written once and afterwards only ever replaced whole: a decision may share them with its input.
REPLACED_WHOLE = frozenset(
    {"venues", "method", "bids", "draw_request", "draw", "report", "opening_record"}
)


def plain_copy(value: Any) -> Any:
    """A copy of plain JSON (what the state is), for a decision to change freely."""
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def text_field(body: Mapping[str, Any], name: str, code: str = "invalid") -> str:
    """A required non-blank string of the body."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(code, f"{name} must be a non-empty text")
    return value


def optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RuleError("invalid", f"{name} must be a text")
    return value


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RuleError("invalid", f"{name} must be a positive whole number")
    return value


def decimal_text(value: object, name: str, code: str = "invalid") -> Decimal:
    """A decimal written as a string (``"26.5"``); floats are refused, they are not exact."""
    if not isinstance(value, str):
        raise RuleError(code, f'{name} must be a decimal written as a string, e.g. "26.5"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RuleError(code, f"{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise RuleError(code, f"{name} must be finite")
    return number


class Session:
    """A working copy of one session's state, and what the decision adds to the stream."""

    def __init__(self, state: Mapping[str, Any], cmd: Command) -> None:
        self.s: dict[str, Any] = {
            k: v if k in REPLACED_WHOLE else plain_copy(v) for k, v in state.items()
        }
        self.cmd = cmd
        self.events: list[NewEvent] = []
        self.grants: list[GrantRole] = []

    # --- output -----------------------------------------------------------------------------

    def emit(self, type_: str, payload: Mapping[str, Any], *, signed: bool = False) -> None:
        """Add an event; who sees it is declared in ``evalroom.domain.visibility``."""
        self.events.append(NewEvent(type_, dict(payload), signed=signed))

    def grant(self, user_id: str, role: Role, venue_id: str) -> None:
        self.grants.append(GrantRole(user_id, self.cmd.stream, role, venue_id))

    def decision(self, reply: Mapping[str, Any] | None = None) -> Decision:
        return Decision(self.events, self.s, self.grants, reply=reply or {})

    # --- phase ------------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return Phase(self.s["phase"])

    @property
    def now(self) -> str:
        return iso(self.cmd.now)

    def require_phase(self, *phases: Phase) -> None:
        if self.phase not in phases:
            allowed = ", ".join(p.value for p in phases)
            raise RuleError("wrong_phase", f"allowed in {allowed}; the session is {self.phase}")

    def require_live(self) -> None:
        if self.phase in ENDED:
            raise RuleError("wrong_phase", f"the session is {self.phase}")

    def move_to(self, phase: Phase) -> None:
        """Change phase (staff see every change); a going back asked in the old phase lapses."""
        before, self.s["phase"] = self.phase, phase.value
        lapsed, self.s["goback"] = self.s["goback"], None
        payload = {"phase": phase.value, "from": before.value}
        self.emit(
            "session.phase", payload if lapsed is None else {**payload, "goback_lapsed": True}
        )

    def progress(self, step: str, done: int, of: int) -> None:
        """Counts only: the agency sees progress, never who did what or any figure."""
        self.emit("session.progress", {"step": step, "done": done, "of": of})

    # --- pauses -----------------------------------------------------------------------------

    def fault_venues(self) -> list[str]:
        """Venues lost during evaluation: each pauses the whole session."""
        faults = self.s["faults"]
        return sorted(v for v, f in faults.items() if f["stage"] == DURING_EVALUATION)

    @property
    def paused(self) -> bool:
        return self.s["pause"] is not None or bool(self.fault_venues())

    def require_running(self) -> None:
        if self.s["pause"] is not None:
            raise RuleError(
                "paused", f"the supervisor paused the session: {self.s['pause']['reason']}"
            )
        lost = self.fault_venues()
        if lost:
            raise RuleError("paused", f"paused until venue {', '.join(lost)} is back")

    def announce_running_again(self, why: str) -> None:
        """After a pause ends (by the supervisor or a venue coming back), if nothing else holds."""
        if not self.paused:
            self.emit("session.resumed", {"reason": why})
            self.maybe_start()

    # --- the committee ----------------------------------------------------------------------

    @property
    def committee(self) -> dict[str, Any]:
        """Seated experts (withdrawn ones left), in the draw's seat order."""
        members: dict[str, Any] = self.s["committee"]
        return members

    def member(self, user_id: str | None = None) -> str:
        """The committee member ``user_id`` (default: the actor), refusing outsiders."""
        who = self.cmd.actor.user_id if user_id is None else user_id
        if who in self.committee:
            return who
        if who in self.s["withdrawn"]:
            raise RuleError("withdrawn", f"{who} withdrew from this committee")
        raise RuleError("not_a_committee_member", f"{who} is not on this committee")

    def expert(self, *phases: Phase) -> str:
        """The acting expert, in one of ``phases``, while the session runs."""
        who = self.member()
        self.require_live()
        self.require_running()
        self.require_phase(*phases)
        return who

    def chair(self, *phases: Phase) -> str:
        who = self.expert(*phases)
        if self.s["chair"] != who:
            raise RuleError("not_the_chair", "only the chair (组长) may do this")
        return who

    # --- the method and the bids -----------------------------------------------------------

    @cached_property
    def method(self) -> ScoringMethod:
        return ScoringMethod.from_dict(self.s["method"])

    def criteria(self, kind: CriterionKind) -> dict[str, Any]:
        """Criterion id -> max points (None for pass/fail) of one kind, in method order."""
        return {c.id: c.max_points for c in self.method.of_kind(kind)}

    # --- method rules in the session ------------------------------------------------------

    def scored(self) -> dict[str, Criterion]:
        """Criteria the experts enter figures on: expert items and deduction items (扣分项)."""
        kinds = (CriterionKind.EXPERT, CriterionKind.DEDUCTION)
        return {c.id: c for c in self.method.criteria if c.kind in kinds}

    def needed_of(self, expert: str) -> list[str]:
        """The scored criteria ``expert`` must enter: chair-only items for the chair alone."""
        chair = self.s["chair"]
        return [
            cid
            for cid, c in self.scored().items()
            if c.scored_by is ScoredBy.EXPERTS or expert == chair
        ]

    def deviation_sheets(self) -> list[ExpertSheet]:
        """The sheets the deviation check (评分偏离) compares: the panel's expert items only
        (never a chair-only item or a deduction item), an item entered by deduction as the
        score it gives (max_points − entry)."""
        panel = {
            c.id: c
            for c in self.method.of_kind(CriterionKind.EXPERT)
            if c.scored_by is ScoredBy.EXPERTS
        }
        out = []
        for sheet in self.sheets():
            scores = {}
            for bid, row in sheet.scores.items():
                kept = {}
                for cid, points in row.items():
                    c = panel.get(cid)
                    if c is None:
                        continue
                    if c.entry is Entry.DEDUCTION and c.max_points is not None:
                        points = c.max_points - points
                    kept[cid] = points
                scores[bid] = kept
            out.append(ExpertSheet(sheet.expert_id, scores, sheet.verdicts))
        return out

    def bid_ids(self) -> list[str]:
        return [b["bid_id"] for b in self.s["bids"]]

    def passing_bids(self) -> list[str]:
        """Bids through the preliminary review (all of them before it closes)."""
        prelim = self.s["preliminary"]
        return self.bid_ids() if prelim is None else list(prelim["passed"])

    def companies(self) -> dict[str, str]:
        return {b["company"]: b["bid_id"] for b in self.s["bids"]}

    def sheets(self) -> list[ExpertSheet]:
        """评分表 of the seated committee: verdicts, and scores of the bids still in review."""
        passing = set(self.passing_bids())
        sheets = []
        for expert in self.committee:
            scores = self.s["scores"].get(expert, {})
            verdicts = self.s["verdicts"].get(expert, {})
            sheet = {
                "expert_id": expert,
                "scores": {bid: row for bid, row in scores.items() if bid in passing},
                "verdicts": {
                    bid: {c: v["pass"] for c, v in row.items()} for bid, row in verdicts.items()
                },
            }
            sheets.append(ExpertSheet.from_dict(sheet))
        return sheets

    # --- start ------------------------------------------------------------------------------

    def maybe_start(self) -> None:
        """评标开始: check-in done, no venue down, not paused -> chair election."""
        if self.phase is not Phase.CHECK_IN or self.s["faults"] or self.paused:
            return
        if len(self.s["checked_in"]) == len(self.committee):
            self.move_to(Phase.CHAIR_ELECTION)

    def deadline_after(self, seconds: int) -> str:
        return iso(self.cmd.now + timedelta(seconds=seconds))
