"""The award (定标, 评定分离) folded from the ``award.*`` events of a closed session's stream.

Pure: no I/O, no click. :class:`AwardView` holds what one participant knows of the award
from the events it may see: the method, the 定标委员会 (members see it, bidders see only how
many), who signed in, each round's tally once published, the finalists, the lot's commitment,
reveal and pick, the decision, the 定标报告 under signature, the 中标候选人公示 with its
deadline, objections and their answers, and the 中标通知. Each ``award.*`` event type is
folded here and nowhere else on the Python side (:class:`clients.folds.session.SessionView`
hands them over).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The award's phases in the order they come (evalroom/domain/award.py AwardPhase).
PHASES = (
    "draw",
    "sign_in",
    "voting",
    "lot",
    "deliberation",
    "signing",
    "publicity",
    "publicity_over",
    "awarded",
)


@dataclass
class AwardView:
    """What one participant knows of a session's award."""

    phase: str | None = None
    method: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    member_count: int | None = None
    members: list[str] = field(default_factory=list)
    chair: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # user id -> name, as registered
    objection_seconds: int | None = None
    # The members drawn from the tenderer's panel: {count, panel_size, commitment} as
    # published, then {appointed, panel} (award) and {seed, drawn} once drawn; None if appointed.
    draw: dict[str, Any] | None = None
    signed_in: dict[str, str] = field(default_factory=dict)  # who -> "member" | "supervisor"
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    seed_commitment: str | None = None
    # The round being voted: {round, candidates, seats}; None between rounds.
    voting: dict[str, Any] | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)  # award.round as published
    # Votes seen before their round's tally: one's own (actor), or every one for a supervisor.
    votes: dict[str, dict[int, str]] = field(default_factory=dict)  # voter -> round -> bid
    finalists: list[str] = field(default_factory=list)
    lot: dict[str, Any] | None = None  # {seed, commitment, finalists, pick}
    opinions: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    award_digest: str | None = None
    signatures: dict[str, str | None] = field(default_factory=dict)  # member -> dissent
    publicity: dict[str, Any] | None = None  # {winner, candidates, method, basis, from, until}
    objections: dict[str, dict[str, Any]] = field(default_factory=dict)
    publicity_closed: dict[str, Any] | None = None
    notice: dict[str, Any] | None = None

    @property
    def kind(self) -> str | None:
        found = self.method.get("kind")
        return str(found) if found else None

    @property
    def winner(self) -> dict[str, Any] | None:
        """The winner as published (公示, notice), else as the 定标报告 gives it."""
        for source in (self.notice, self.publicity, self.report):
            found = (source or {}).get("winner")
            if isinstance(found, dict):
                return found
        return None

    def name(self, user: object) -> str:
        """A member as ``马志远（m1）``, the id alone when the name is not known."""
        found = self.names.get(str(user))
        return f"{found}（{user}）" if found else str(user)

    def unanswered(self) -> list[str]:
        return [oid for oid, o in self.objections.items() if o.get("answer") is None]

    def candidate(self, bid: object) -> dict[str, Any] | None:
        return next((c for c in self.candidates if c.get("bid_id") == bid), None)

    def apply(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        handler = getattr(self, "_on_" + kind.removeprefix("award."), None)
        if kind.startswith("award.") and handler is not None:
            handler(event.get("payload") or {}, event)

    # -- handlers (payload, event) ---------------------------------------------------------
    def _on_set_up(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.method = dict(p.get("method") or {})
        self.candidates = [c for c in p.get("candidates") or [] if isinstance(c, dict)]
        members = p.get("members")
        self.member_count = members if isinstance(members, int) else None
        seconds = p.get("objection_seconds")
        self.objection_seconds = seconds if isinstance(seconds, int) else None
        if isinstance(p.get("draw"), dict):
            self.draw = {**(self.draw or {}), **p["draw"]}
        self.phase = self.phase or ("draw" if self.draw else "sign_in")

    def _on_panel(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        fields = ("appointed", "panel", "count", "commitment")
        self.draw = {**(self.draw or {}), **{k: p.get(k) for k in fields}}
        self.draw["panel_size"] = len(p.get("panel") or [])
        self.names.update({str(k): str(v) for k, v in (p.get("names") or {}).items()})
        self.chair = str(p["chair"]) if p.get("chair") else None

    def _on_members_drawn(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.draw = {
            **(self.draw or {}),
            "seed": p.get("seed"),
            "drawn": list(p.get("drawn") or []),
        }

    def _on_committee(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.members = [str(m) for m in p.get("members") or []]
        self.member_count = len(self.members)
        self.names.update({str(k): str(v) for k, v in (p.get("names") or {}).items()})
        self.chair = str(p["chair"]) if p.get("chair") else None

    def _on_phase(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = str(p.get("phase"))

    def _on_progress(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.progress[str(p["step"])] = (int(p["done"]), int(p["of"]))

    def _on_signed_in(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        # The signer is the event's actor (the signed command's), as for every signature.
        self.signed_in[str(e.get("actor") or p.get("who"))] = str(p.get("as", "member"))

    def _on_seed_committed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.seed_commitment = p.get("commitment")

    def _on_voting_opened(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.voting = {
            "round": int(p.get("round", 1)),
            "candidates": list(p.get("candidates") or []),
            "seats": p.get("seats"),
        }

    def _on_vote(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        voter = str(e.get("actor") or "")
        self.votes.setdefault(voter, {})[int(p.get("round", 1))] = str(p.get("candidate"))

    def _on_round(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.rounds.append(dict(p))
        self.voting = None

    def _on_lot_drawn(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.lot = dict(p)
        self.finalists = list(p.get("finalists") or [])
        self.seed_commitment = p.get("commitment") or self.seed_commitment

    def _on_opinion(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        member = str(e.get("actor") or p.get("member"))
        self.opinions[member] = {"candidate": p.get("candidate"), "opinion": p.get("opinion")}

    def _on_decided(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.decision = {**p, "by": e.get("actor")}

    def _on_report(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.award_digest = p.get("report"), p.get("award_digest")
        self.signatures = {}
        if isinstance(self.report, dict) and self.report.get("finalists"):
            self.finalists = list(self.report["finalists"])

    def _on_report_signed(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.signatures[str(e.get("actor") or p.get("member"))] = p.get("dissent")

    def _on_report_final(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.award_digest = p.get("report"), p.get("award_digest")
        signed = p.get("signatures") or {}
        self.signatures = {m: (s or {}).get("dissent") for m, s in signed.items()}

    def _on_publicity(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.publicity = dict(p)
        self.phase = "publicity"  # award.phase is staff-only: bidders learn it here
        self.award_digest = p.get("award_digest") or self.award_digest
        if not self.candidates:
            self.candidates = [c for c in p.get("candidates") or [] if isinstance(c, dict)]

    def _on_objection(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.objections[str(p["id"])] = {
            "company": p.get("company"),
            "text": p.get("text"),
            "at": e.get("at"),
            "answer": None,
        }

    def _on_objection_answered(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        entry = self.objections.setdefault(str(p["id"]), {"company": p.get("company")})
        entry.update(answer=p.get("answer"), answered_at=e.get("at"))

    def _on_publicity_closed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.publicity_closed = dict(p)
        self.phase = "publicity_over"

    def _on_notice(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.notice = dict(p)
        self.phase = "awarded"
