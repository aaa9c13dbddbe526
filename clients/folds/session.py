"""The evaluation session (评标会话) folded from its events: what one participant knows.

Pure: no I/O, no click. Feed :class:`SessionView` the events of ``session:<id>`` the
participant may see (replayed history, then live) and it holds what that participant knows —
phase, progress counts, the committee and rosters when visible, check-ins, pauses and venue
faults, deviations, clarifications, going back, the report under signature, the bids the
opening rejected by the control price (否决投标) or flagged below its floor (低于成本 review),
the fewer-than-three-valid-bids decision, and the award after the session
(:mod:`clients.folds.award`). Each event type is folded here and nowhere else on the Python
side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clients.folds.award import AwardView

ENDED = ("closed", "sealed", "rescheduled")


def session_stream(value: str) -> str:
    """``session:<id>`` from ``<id>`` or ``session:<id>``."""
    return value if value.startswith("session:") else f"session:{value}"


def session_id(stream: str) -> str:
    return stream.removeprefix("session:")


def criteria_of(method: dict[str, Any]) -> list[dict[str, Any]]:
    found = method.get("criteria", [])
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


@dataclass
class SessionView:
    """What one participant knows of a session, from the events it may see."""

    stream: str
    last_seq: int = 0
    # The seq of the last event of each type folded, to name the event a fact comes from.
    seq_of: dict[str, int] = field(default_factory=dict)
    phase: str | None = None
    tender: str = ""
    section: str = ""
    # The signed opening record the bids come from: [{stage, seq, digest}], and the bids.
    opening_record: list[dict[str, Any]] = field(default_factory=list)
    bids: list[dict[str, Any]] | None = None
    # 否决投标 at the opening by the control price (never scored), and 低于成本 review flags:
    # each {bid_id, company, price, reason, detail, detail_en, by, at}.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    # session.few_valid: {valid, minimum, rejected_at_opening, rule, decision, detail, ...}.
    few_valid: dict[str, Any] | None = None
    venues: dict[str, dict[str, Any]] = field(default_factory=dict)
    criteria: list[dict[str, Any]] = field(default_factory=list)
    bid_count: int | None = None
    expert_count: int | None = None
    seed_commitment: str | None = None
    pool_digest: str | None = None
    draw_failed: dict[str, Any] | None = None
    committee: dict[str, dict[str, Any]] = field(default_factory=dict)
    rosters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    experts_per_venue: dict[str, int] = field(default_factory=dict)
    checked_in: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    chair: str | None = None
    election_round: int = 1
    votes: dict[str, int] = field(default_factory=dict)  # voter -> round (own votes only)
    pause: dict[str, Any] | None = None
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    passed: list[str] | None = None
    scores: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    revealed: bool = False
    deviations: list[dict[str, Any]] = field(default_factory=list)
    explained: set[tuple[str, str, str]] = field(default_factory=set)
    clarifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    goback: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    report_digest: str | None = None
    signatures: dict[str, str | None] = field(default_factory=dict)
    recommended: list[dict[str, Any]] | None = None
    all_rejected: bool = False  # closed by 否决所有投标: no ranking, the tender is re-run
    award: AwardView | None = None  # 定标 after the session closed, once set up
    # -- method rules in the session (docs/methods.md) ----------------------------------
    runoff: list[str] = field(default_factory=list)  # the tied leaders the next round is among
    arithmetic_errors: dict[str, int] = field(default_factory=dict)  # bid -> errors recorded
    price_scores: dict[str, Any] | None = None  # {scores, basis, fed_by, approved_by?}
    correction: dict[str, Any] | None = None  # asked after a 复核, awaiting the supervisor
    corrections: list[dict[str, Any]] = field(default_factory=list)  # approved, in order
    rank_rounds: list[dict[str, Any]] = field(default_factory=list)  # 投票法/排序法 rounds

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    @property
    def paused(self) -> bool:
        lost = any(f.get("stage") == "during_evaluation" for f in self.faults.values())
        return self.pause is not None or lost

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        """Experts with their venue: the committee if visible, else this venue's roster."""
        if self.committee:
            return self.committee
        return {m["expert"]: m for ms in self.rosters.values() for m in ms}

    def name(self, expert: str | None) -> str:
        if not expert:
            return "-"
        member = self.members.get(expert)
        return f"{member['name']}({expert})" if member and member.get("name") else expert

    def venue_name(self, venue: str) -> str:
        v = self.venues.get(venue)
        return str(v["name"]) if v and v.get("name") else venue

    def criterion(self, cid: str) -> dict[str, Any] | None:
        return next((c for c in self.criteria if c.get("id") == cid), None)

    def expert_criteria(self) -> list[dict[str, Any]]:
        return [c for c in self.criteria if c.get("kind") == "expert"]

    def scored_criteria(self, me: str | None = None) -> list[dict[str, Any]]:
        """What an expert enters figures on: expert and deduction items (扣分项); a chair-only
        item only for the chair (``me`` the expert; None: every item)."""
        kinds = ("expert", "deduction")
        return [
            c
            for c in self.criteria
            if c.get("kind") in kinds
            and (me is None or c.get("scored_by", "experts") == "experts" or me == self.chair)
        ]

    def unexplained(self) -> list[dict[str, Any]]:
        return [
            d
            for d in self.deviations
            if (d["expert"], d["bid"], d["criterion"]) not in self.explained
        ]

    def apply(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        kind = str(event.get("type", ""))
        if kind.startswith("award."):
            self.seq_of[kind] = int(event.get("seq", 0))
            if self.award is None:
                self.award = AwardView()
            self.award.apply(event)
            return
        if not kind.startswith("session."):
            return
        self.seq_of[kind] = int(event.get("seq", 0))
        handler = getattr(self, "_on_" + kind.removeprefix("session."), None)
        if handler is not None:
            handler(event.get("payload") or {}, event)

    # -- handlers (payload, event) ---------------------------------------------------------
    def _on_created(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = self.phase or "draw"
        self.tender, self.section = str(p.get("tender", "")), str(p.get("section", ""))
        self.venues = dict(p.get("venues") or {})
        self.criteria = criteria_of(p.get("method") or {})
        self.bid_count, self.expert_count = p.get("bids"), p.get("experts")
        found = p.get("opening_record")
        self.opening_record = list(found) if isinstance(found, list) else []

    def _on_bids(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.bids = list(p.get("bids") or [])
        self.rejected = [r for r in p.get("rejected") or [] if isinstance(r, dict)]
        self.flagged = [f for f in p.get("flagged") or [] if isinstance(f, dict)]

    def _on_few_valid(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.few_valid = dict(p)

    def _on_phase(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = str(p["phase"])
        if p.get("goback_lapsed"):
            self.goback = None

    def _on_seed_committed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.seed_commitment, self.pool_digest = p.get("commitment"), p.get("pool_digest")
        self.draw_failed = None

    def _on_draw_failed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.draw_failed = p
        self.seed_commitment = self.pool_digest = None

    def _on_committee(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.committee = {m["expert"]: m for m in p.get("members", [])}
        for gone in set(self.checked_in) - set(self.committee):
            self.checked_in.pop(gone, None)

    def _on_venue_roster(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.rosters[str(p["venue"])] = list(p.get("members", []))
        seated = {m["expert"] for m in p.get("members", [])}
        for expert, c in list(self.checked_in.items()):
            if c.get("venue") == p["venue"] and expert not in seated:
                self.checked_in.pop(expert)

    def _on_draw_announced(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.experts_per_venue = dict(p.get("experts_per_venue") or {})

    def _on_checked_in(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.checked_in[str(p["expert"])] = {
            "venue": p.get("venue"),
            "seat": p.get("seat"),
            "at": e.get("at"),
        }

    def _on_progress(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.progress[str(p["step"])] = (int(p["done"]), int(p["of"]))

    def _on_chair_vote(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.votes[str(e.get("actor") or "")] = int(p.get("round", 1))

    def _on_chair_round(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if p.get("elected"):
            self.chair = str(p["elected"])
            self.runoff = []
        else:
            self.election_round = int(p.get("round", 1)) + 1
            self.runoff = [str(c) for c in p.get("runoff") or []]

    # -- method rules in the session ---------------------------------------------------
    def _on_arithmetic_errors(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.arithmetic_errors[str(p["bid"])] = int(p.get("errors", 0))

    def _on_price_scores_fed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.price_scores = dict(p)

    def _on_price_scores_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.price_scores = dict(p)

    def _on_price_scores_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.price_scores = None

    def _on_correction_requested(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.correction = dict(p)

    def _on_correction_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.correction = None
        self.corrections.append(dict(p))

    def _on_correction_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.correction = None

    def _on_rank_round(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.rank_rounds.append(dict(p))

    def _on_preliminary_result(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.passed = list(p.get("passed", []))

    def _on_score(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        expert = str(e.get("actor") or "")
        self.scores.setdefault(expert, {}).setdefault(p["bid"], {})[p["criterion"]] = p["score"]

    def _on_scores_submitted(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        expert = str(e.get("actor") or "")
        self.submitted.add(expert)
        self.scores[expert] = {b: dict(row) for b, row in (p.get("scores") or {}).items()}

    def _on_scores_revealed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.revealed = True
        for sheet in p.get("sheets", []):
            rows = sheet.get("scores") or {}
            self.scores[sheet["expert_id"]] = {b: dict(r) for b, r in rows.items()}
            self.submitted.add(sheet["expert_id"])

    def _on_score_revised(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        row = self.scores.setdefault(p["expert"], {}).setdefault(p["bid"], {})
        row[p["criterion"]] = p["to"]

    def _on_deviations(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.deviations = list(p.get("deviations", []))

    def _on_deviation_reason(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.explained.add((p["expert"], p["bid"], p["criterion"]))

    def _on_clarification_asked(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.clarifications[str(p["id"])] = {**p, "status": "asked"}

    def _clar(self, p: dict[str, Any], status: str) -> None:
        entry = self.clarifications.setdefault(str(p["id"]), {"id": p["id"]})
        entry.update({k: v for k, v in p.items() if k != "id"}, status=status)

    def _on_clarification_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "approved")

    def _on_clarification_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "rejected")

    def _on_clarification_answered(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "answered")

    def _on_clarification_expired(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "expired")

    def _on_goback_requested(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = dict(p)

    def _on_goback_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = None
        self.report = self.report_digest = None
        self.signatures = {}
        target = p.get("to_phase")
        if target != "deviation_check":
            self.submitted, self.revealed = set(), False
            self.deviations, self.explained = [], set()
        self.correction, self.corrections = None, []  # the redone review supersedes them
        if target == "preliminary_review":
            self.passed = None
            self.few_valid = None  # closing the review again decides it again

    def _on_goback_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = None

    def _on_ranking(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.report_digest = p.get("report"), p.get("report_digest")
        self.signatures = {}
        recommendation = (self.report or {}).get("recommendation") or {}
        if not recommendation.get("done"):
            self.rank_rounds = []  # a new vote starts with this report

    def _on_report_final(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.report_digest = p.get("report"), p.get("report_digest")
        self.signatures = {e: (s or {}).get("dissent") for e, s in p.get("signatures", {}).items()}

    def _on_report_signed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.signatures[str(p["expert"])] = p.get("dissent")

    def _on_closed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.recommended = list(p.get("recommended", []))
        self.all_rejected = bool(p.get("all_rejected"))

    def _on_paused(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if p.get("cause") == "supervisor":
            self.pause = dict(p)

    def _on_resumed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.pause = None

    def _on_pause_lifted(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.pause = None

    def _on_venue_lost(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.faults[str(p["venue"])] = dict(p)

    def _on_venue_restored(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.faults.pop(str(p["venue"]), None)
