"""定标 (评定分离): the tenderer's award after a closed evaluation session, as phases of the
session's stream (``session:<id>``), kept in ``state["award"]`` beside the closed session.

Why in the session's stream: the candidates are the session's signed report's, the award's
events then sit in the same Merkle log and evidence bundle as the votes that produced the
report, and the roles follow the stream's parent (the tenderer and the bidders hold their
roles in the tender; the 定标委员会 members are granted ``award_member`` in the session).

Phases of ``state["award"]["phase"]``::

    [draw ->] sign_in -> voting (rounds) -> [lot] -> signing -> publicity -> publicity_over
        -> awarded
    sign_in -> deliberation -> signing -> ...
    sign_in -> signing -> ...                                   (价格竞争定标法, no tie vote)

Commands (body fields; ``?`` optional; *signed*: the actor signs the command):

- ``award.setup`` (tenderer; the session is closed): ``method`` {``kind`` vote | vote_lot |
  deliberation | price, ``finalists``? (N, vote_lot, default 2), ``price_tie``? rank | vote,
  ``max_rounds``? (3)}, ``members`` [user ids] (appointed by name; granted ``award_member``,
  checked by :mod:`evalroom.domain.duties`), ``draw``? {``panel`` [user ids], ``count``,
  ``commitment`` (hex SHA-256 of the seed)}: ``count`` more members drawn from the tenderer's
  own panel (定标委员会成员库) with a seed committed here, before the draw; the committee
  (appointed and drawn) is odd, at least 5. ``chair`` (定标委员会组长): one of the appointed
  members; when drawing it may be left out and the first member drawn chairs.
  ``objection_days``? (1..30, default 3) or ``objection_seconds``? (a short window for trials
  and demonstrations). No candidates: they are the signed report's ``recommended`` (prices
  from the session's bids, i.e. the signed opening record). -> ``award.set_up`` public,
  ``award.committee`` award, ``award.phase`` staff; when drawing, ``award.panel`` award
  instead of the committee, and the phase is ``draw``.
- ``award.draw_members`` (tenderer; draw phase, a supervisor signed in): ``seed`` hex ->
  ``award.members_drawn`` award {seed, commitment, panel, count, drawn}
  (:func:`award_rules.draw_members`), ``award.committee`` award; the members are granted
  ``award_member``; phase sign_in.
- ``award.sign_in`` *signed* (award_member, supervisor; a supervisor may sign in during the
  draw too): {} -> ``award.signed_in`` award, ``award.progress`` staff. Voting opens once every member and a supervisor signed in (and,
  for vote_lot, the seed is committed).
- ``award.commit_seed`` (supervisor; vote_lot; before voting): ``commitment`` (hex SHA-256)
  -> ``award.seed_committed`` public.
- ``award.vote`` *signed* (award_member): ``round``, ``candidate`` -> ``award.vote`` actor
  (secret until the round closes), progress; the last vote of a round: ``award.round`` award
  {counts, votes, chosen, tied, ...}, then the next round (``award.voting_opened`` staff), the
  lot phase, or the report.
- ``award.reveal_seed`` (supervisor; lot phase): ``seed`` hex -> ``award.lot_drawn`` public
  {seed, commitment, finalists, pick}.
- ``award.opinion`` *signed* (award_member; deliberation): ``candidate``, ``opinion`` ->
  ``award.opinion`` award. ``award.decide`` *signed* (the chair, after every opinion):
  ``candidate``, ``reasons`` -> ``award.decided`` award.
- ``award.sign_report`` *signed* (award_member; signing): ``award_digest``, ``dissent``? ->
  ``award.report_signed`` award; the last: ``award.report_final`` staff,
  ``award.publicity`` public (中标候选人公示 {winner, until}), phase publicity.
- ``award.object`` *signed* (bidder; before the window ends): ``text`` -> ``award.objection``
  public {id, company, text}. ``award.answer`` (tenderer): ``id``, ``answer`` ->
  ``award.objection_answered`` public.
- ``award.clock`` (system): the window passed -> ``award.publicity_closed`` public.
- ``award.notify`` (tenderer; window over, every objection answered) -> ``award.notice``
  public (中标通知), phase awarded.

The 定标报告 (``award.report``) holds everything :func:`award_rules.recompute` needs — the
method, the candidates, the members, every round's votes, the seed and its commitment, the
opinions and the decision — and the winner it gives; its digest is the SHA-256 of its RFC 8785
canonical JSON, and every member signs that digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from evalroom.domain.award_rules import (
    AwardMethod,
    Candidate,
    Kind,
    Outcome,
    count_round,
    draw_members,
    first_round,
    next_round,
    recompute,
)
from evalroom.domain.commands import Command, Decision, GrantRole
from evalroom.domain.duties import Roster, check_grant
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.session_report import report_digest
from evalroom.domain.session_state import (
    SYSTEM,
    Decider,
    Phase,
    Session,
    iso,
    optional_text,
    parse_time,
    text_field,
)

MIN_MEMBERS = 5  # 定标委员会: five or more, an odd number (as local 定标 rules require)
DEFAULT_OBJECTION_DAYS = 3  # 中标候选人公示: usually 3 days
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AwardPhase:
    DRAW = "draw"  # the members drawn from the tenderer's panel, a supervisor present
    SIGN_IN = "sign_in"
    VOTING = "voting"
    LOT = "lot"
    DELIBERATION = "deliberation"
    SIGNING = "signing"
    PUBLICITY = "publicity"  # 中标候选人公示, objections accepted
    PUBLICITY_OVER = "publicity_over"
    AWARDED = "awarded"  # 中标通知


class Award:
    """The award's working copy inside a session's decision."""

    def __init__(self, state: Mapping[str, Any], cmd: Command) -> None:
        self.s = Session(state, cmd)
        self.cmd = cmd
        found = self.s.s.get("award")
        if found is None:
            raise RuleError("wrong_phase", "no award is set up for this session")
        self.a: dict[str, Any] = found

    @property
    def phase(self) -> str:
        return str(self.a["phase"])

    def require(self, *phases: str) -> None:
        if self.phase not in phases:
            raise RuleError(
                "wrong_phase", f"allowed in award phase {', '.join(phases)}; it is {self.phase}"
            )

    def move_to(self, phase: str) -> None:
        before, self.a["phase"] = self.phase, phase
        self.s.emit("award.phase", {"phase": phase, "from": before})

    def progress(self, step: str, done: int, of: int) -> None:
        self.s.emit("award.progress", {"step": step, "done": done, "of": of})

    def member(self) -> str:
        who = self.cmd.actor.user_id
        if who not in self.a["members"]:
            raise RuleError("not_an_award_member", f"{who} is not on this 定标委员会")
        return who

    @property
    def method(self) -> AwardMethod:
        return AwardMethod.from_dict(self.a["method"])

    def candidate(self) -> str:
        """The body's ``candidate``, one of the signed report's candidates."""
        candidate = text_field(self.cmd.body, "candidate", "invalid_candidate")
        if candidate not in {c["bid_id"] for c in self.a["candidates"]}:
            raise RuleError("invalid_candidate", f"{candidate} is not a candidate")
        return candidate

    def candidates(self) -> list[Candidate]:
        return [Candidate.from_dict(c) for c in self.a["candidates"]]

    def decision(self) -> Decision:
        return self.s.decision()

    def outcome(self) -> Outcome:
        seed = self.a.get("seed")
        return recompute(
            self.method,
            self.candidates(),
            self.a["rounds"],
            seed=None if seed is None else bytes.fromhex(seed),
            commitment=self.a.get("seed_commitment"),
            decision=self.a.get("decision"),
            chair=self.a["chair"],
            members=self.a["members"],
            opinions=self.a["opinions"],
        )

    # --- moving on once something is decided -----------------------------------------------

    def advance(self) -> None:
        """After the sign-in, a round, the lot or the chair's decision: what comes next is
        whatever :func:`recompute` says of the record so far (so the verifier agrees)."""
        method = self.method
        if method.kind is Kind.DELIBERATION and self.a.get("decision") is None:
            if self.phase != AwardPhase.DELIBERATION:
                self.move_to(AwardPhase.DELIBERATION)
            return
        outcome = self.outcome()
        if outcome.problems:  # the deciders prevent these; kept safe
            raise RuleError("internal", "; ".join(outcome.problems))
        if outcome.winner is not None:
            self.draw_up(outcome)
            return
        ballot, seats = (
            next_round(outcome.rounds[-1])
            if outcome.rounds
            else first_round(method, self.candidates())
        )
        if seats:
            number = len(self.a["rounds"]) + 1
            self.a["round"] = {"number": number, "candidates": ballot, "seats": seats, "votes": {}}
            if self.phase != AwardPhase.VOTING:
                self.move_to(AwardPhase.VOTING)
            payload = {"round": number, "candidates": ballot, "seats": seats}
            self.s.emit("award.voting_opened", payload)
            return
        self.a["finalists"] = list(outcome.finalists)
        self.move_to(AwardPhase.LOT)

    def draw_up(self, outcome: Outcome) -> None:
        """定标报告: everything the verifier recomputes, and the winner; members sign it."""
        winner = next(c for c in self.a["candidates"] if c["bid_id"] == outcome.winner)
        s = self.s.s
        report = {
            "session": self.cmd.stream,
            "tender": s["tender"],
            "section": s["section"],
            "evaluation_report_digest": s["report_digest"],
            "method": self.a["method"],
            "candidates": self.a["candidates"],
            "members": self.a["members"],
            "chair": self.a["chair"],
            "appointed": self.a.get("appointed", self.a["members"]),
            "draw": self.a.get("draw"),
            "signed_in": self.a["signed_in"],
            "seed_commitment": self.a.get("seed_commitment"),
            "seed": self.a.get("seed"),
            "rounds": [
                {**r.to_dict(), "votes": recorded["votes"]}
                for r, recorded in zip(outcome.rounds, self.a["rounds"], strict=True)
            ],
            "finalists": list(outcome.finalists),
            "opinions": self.a["opinions"],
            "decision": self.a.get("decision"),
            "winner": winner,
            "basis": outcome.basis,
        }
        self.a.update(report=report, award_digest=report_digest(report), signatures={}, round=None)
        self.s.emit("award.report", {"report": report, "award_digest": self.a["award_digest"]})
        self.move_to(AwardPhase.SIGNING)

    def maybe_open(self) -> None:
        """Voting (or deliberation) opens once every member and a supervisor signed in, and,
        for 票决抽签法, the seed of the lot is committed (before any vote can be cast)."""
        signed = self.a["signed_in"]
        members_in = all(m in signed for m in self.a["members"])
        supervisor_in = any(v["as"] == "supervisor" for v in signed.values())
        seed_ready = self.method.kind is not Kind.VOTE_LOT or self.a.get("seed_commitment")
        if self.phase == AwardPhase.SIGN_IN and members_in and supervisor_in and seed_ready:
            self.advance()


# --- set-up ------------------------------------------------------------------------------------


def _ids(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise RuleError("invalid_award", f"{what} must be a list of user ids")
    if len(set(value)) != len(value):
        raise RuleError("invalid_award", f"someone is listed twice in {what}")
    return list(value)


def _panel(body: Mapping[str, Any], appointed: list[str]) -> dict[str, Any] | None:
    """``draw``: {panel, count, commitment}, the draw from the tenderer's own panel, or None."""
    draw = body.get("draw")
    if draw is None:
        return None
    if not isinstance(draw, Mapping):
        raise RuleError("invalid_award", "draw is {panel, count, commitment}")
    panel = _ids(draw.get("panel"), "draw.panel")
    count = draw.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count < len(panel):
        raise RuleError("invalid_award", "draw.count is at least 1 and less than the panel")
    commitment = draw.get("commitment")
    if not isinstance(commitment, str) or not HEX64.match(commitment):
        raise RuleError("invalid_award", "draw.commitment is the hex SHA-256 of the seed")
    both = sorted(set(panel) & set(appointed))
    if both:
        raise RuleError("invalid_award", f"appointed and in the panel: {', '.join(both)}")
    return {"panel": sorted(panel), "count": count, "commitment": commitment}


def _size(appointed: list[str], draw: Mapping[str, Any] | None) -> int:
    size = len(appointed) + (draw["count"] if draw else 0)
    if size < MIN_MEMBERS or size % 2 == 0:
        raise RuleError(
            "invalid_award", f"the 定标委员会 has an odd number of members, at least {MIN_MEMBERS}"
        )
    return size


def _window(body: Mapping[str, Any]) -> int:
    """The objection window in seconds: ``objection_days`` (default 3), or
    ``objection_seconds`` where a trial needs a short one."""
    seconds, days = body.get("objection_seconds"), body.get("objection_days")
    if seconds is not None and days is not None:
        raise RuleError("invalid_award", "give objection_days or objection_seconds, not both")
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds:
            raise RuleError("invalid_award", "objection_seconds must be a positive whole number")
        return min(seconds, 30 * 86400)
    days = DEFAULT_OBJECTION_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 30:
        raise RuleError("invalid_award", "objection_days must be a whole number from 1 to 30")
    return days * 86400


def candidates_of(state: Mapping[str, Any]) -> list[Candidate]:
    """The signed report's recommended candidates, priced from the session's bids (the signed
    opening record's): never from a command's body."""
    prices = {b["bid_id"]: b["price"] for b in state["bids"]}
    recommended = state["report"]["recommended"]
    if not recommended:
        raise RuleError("invalid_award", "the signed report recommends no candidate")
    return [
        Candidate.from_dict({**r, "price": prices[r["bid_id"]]})
        for r in sorted(recommended, key=lambda r: r["rank"])
    ]


def setup(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.setup`` (tenderer): the method, the 定标委员会 and the objection window."""
    s = Session(state, cmd)
    s.require_phase(Phase.CLOSED)
    if s.s.get("award") is not None:
        raise RuleError("already_exists", "this session's award is set up already")
    method = AwardMethod.from_dict(cmd.body.get("method"))
    candidates = candidates_of(s.s)
    appointed = _ids(cmd.body.get("members", []), "members")
    draw = _panel(cmd.body, appointed)
    size = _size(appointed, draw)
    chair = optional_text(cmd.body, "chair") if draw else None
    if draw is None:
        chair = text_field(cmd.body, "chair", "invalid_award")
    if chair is not None and chair not in appointed:
        raise RuleError("invalid_award", "the chair (组长) is one of the appointed members")
    window = _window(cmd.body)
    roster = Roster.from_facts(cmd.facts)
    for member in appointed:
        person = check_grant(
            Role.AWARD_MEMBER,
            member,
            command="award.setup",
            actor=cmd.actor,
            phase=None,
            roster=roster,
        )
        roster = roster.with_grant(person, Role.AWARD_MEMBER, cmd.stream)
        if draw is None:
            s.grants.append(GrantRole(member, cmd.stream, Role.AWARD_MEMBER))
    # Everyone on the panel could be drawn: each is held to the separation of duties now,
    # before the seed is revealed, so no draw has to be set aside afterwards.
    for member in draw["panel"] if draw else []:
        check_grant(
            Role.AWARD_MEMBER,
            member,
            command="award.setup",
            actor=cmd.actor,
            phase=None,
            roster=roster,
        )
    listed = [c.to_dict() for c in candidates]
    known = cmd.facts.get("names")
    found = known if isinstance(known, Mapping) else {}
    everyone = [*appointed, *(draw["panel"] if draw else [])]
    names = {u: str(found[u]) for u in everyone if found.get(u)}
    s.s["award"] = {
        "phase": AwardPhase.DRAW if draw else AwardPhase.SIGN_IN,
        "names": names,  # user id -> name, of the appointed and the panel
        "method": method.to_dict(),
        "candidates": listed,
        "members": [] if draw else appointed,
        "appointed": appointed,
        "draw": None if draw is None else {**draw, "seed": None, "drawn": None},
        "chair": chair,
        "by": cmd.actor.user_id,
        "objection_seconds": window,
        "seed_commitment": None,
        "seed": None,
        "signed_in": {},
        "round": None,
        "rounds": [],
        "finalists": [],
        "opinions": {},
        "decision": None,
        "report": None,
        "award_digest": None,
        "signatures": {},
        "publicity": None,
        "objections": {},
        "notice": None,
    }
    public: dict[str, Any] = {
        "method": method.to_dict(),
        "candidates": listed,
        "members": size,
        "objection_seconds": window,
        "evaluation_report_digest": s.s["report_digest"],
    }
    if draw:
        public["draw"] = {
            "count": draw["count"],
            "panel_size": len(draw["panel"]),
            "commitment": draw["commitment"],
        }
    s.emit("award.set_up", public)
    if draw:
        s.emit("award.panel", {"appointed": appointed, "chair": chair, **draw, "names": names})
        s.emit("award.phase", {"phase": AwardPhase.DRAW, "from": None})
    else:
        committee = {"members": appointed, "chair": chair, "names": names}
        s.emit("award.committee", committee)
        s.emit("award.phase", {"phase": AwardPhase.SIGN_IN, "from": None})
    return s.decision()


def draw_committee(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.draw_members`` (tenderer, a supervisor signed in): reveal the seed committed in
    the set-up; the draw (:func:`award_rules.draw_members`) completes the 定标委员会."""
    a = Award(state, cmd)
    a.require(AwardPhase.DRAW)
    if not any(v["as"] == "supervisor" for v in a.a["signed_in"].values()):
        raise RuleError("supervisor_absent", "a supervisor signs in before the members are drawn")
    draw = a.a["draw"]
    seed = cmd.body.get("seed")
    try:
        raw = bytes.fromhex(seed) if isinstance(seed, str) else b""
    except ValueError:
        raise RuleError("invalid_award", "seed must be hex") from None
    drawn = draw_members(draw["panel"], draw["count"], raw, draw["commitment"])
    draw.update(seed=raw.hex(), drawn=drawn)
    members = [*a.a["appointed"], *drawn]
    a.a["members"] = members
    if a.a["chair"] is None:
        a.a["chair"] = drawn[0]
    for member in members:
        a.s.grants.append(GrantRole(member, cmd.stream, Role.AWARD_MEMBER))
    payload = {
        "seed": raw.hex(),
        "commitment": draw["commitment"],
        "panel": draw["panel"],
        "count": draw["count"],
        "drawn": drawn,
    }
    a.s.emit("award.members_drawn", payload)
    names = {m: n for m, n in (a.a.get("names") or {}).items() if m in members}
    a.s.emit("award.committee", {"members": members, "chair": a.a["chair"], "names": names})
    a.move_to(AwardPhase.SIGN_IN)
    return a.decision()


# --- sign-in and the seed ---------------------------------------------------------------------


def sign_in(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.sign_in`` (signed): a member, or a supervisor present, signs in by signature."""
    a = Award(state, cmd)
    who = cmd.actor.user_id
    drawing = a.phase == AwardPhase.DRAW and who not in a.a["members"]
    if not (drawing and Role.SUPERVISOR in cmd.actor.roles):
        a.require(AwardPhase.SIGN_IN)
    if who in a.a["members"]:
        as_ = "member"
    elif Role.SUPERVISOR in cmd.actor.roles:
        as_ = "supervisor"
    else:
        raise RuleError("not_an_award_member", f"{who} is not on this 定标委员会")
    if who in a.a["signed_in"]:
        raise RuleError("already_signed_in", "you signed in")
    a.a["signed_in"][who] = {"as": as_, "at": a.s.now}
    a.s.emit("award.signed_in", {"who": who, "as": as_}, signed=True)
    done = sum(1 for m in a.a["members"] if m in a.a["signed_in"])
    a.progress("sign_in", done, len(a.a["members"]))
    a.maybe_open()
    return a.decision()


def commit_seed(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.commit_seed`` (supervisor): the lot's seed, committed before any vote."""
    a = Award(state, cmd)
    a.require(AwardPhase.SIGN_IN)
    if a.method.kind is not Kind.VOTE_LOT:
        raise RuleError("invalid_award", "only 票决抽签法 draws a lot")
    if a.a["seed_commitment"] is not None:
        raise RuleError("already_exists", "the lot's seed is committed already")
    commitment = cmd.body.get("commitment")
    if not isinstance(commitment, str) or not HEX64.match(commitment):
        raise RuleError("invalid_award", "commitment is the hex SHA-256 of the seed")
    a.a["seed_commitment"] = commitment
    a.s.emit("award.seed_committed", {"commitment": commitment})
    a.maybe_open()
    return a.decision()


# --- votes, the lot ---------------------------------------------------------------------------


def vote(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.vote`` (signed): one vote for one of the round's candidates, once per round."""
    a = Award(state, cmd)
    who = a.member()
    a.require(AwardPhase.VOTING)
    current = a.a["round"]
    if cmd.body.get("round") != current["number"]:
        raise RuleError("invalid_vote", f"round {current['number']} is being voted")
    candidate = text_field(cmd.body, "candidate", "invalid_candidate")
    if candidate not in current["candidates"]:
        raise RuleError("invalid_candidate", f"{candidate} is not a candidate of this round")
    if who in current["votes"]:
        raise RuleError("already_voted", f"you voted in round {current['number']}")
    current["votes"][who] = candidate
    payload = {"round": current["number"], "candidate": candidate}
    a.s.emit("award.vote", payload, signed=True)
    a.progress(f"round_{current['number']}", len(current["votes"]), len(a.a["members"]))
    if len(current["votes"]) == len(a.a["members"]):
        method = a.method
        result = count_round(
            current["number"],
            current["candidates"],
            current["seats"],
            current["votes"],
            ranked=a.candidates(),
            max_rounds=method.max_rounds,
        )
        a.a["rounds"].append({"round": current["number"], "votes": dict(current["votes"])})
        a.a["round"] = None
        a.s.emit("award.round", {**result.to_dict(), "votes": dict(current["votes"])})
        a.advance()
    return a.decision()


def reveal_seed(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.reveal_seed`` (supervisor): the seed whose hash was published before the vote;
    the lot picks one finalist, reproducibly (``award_rules.draw_lot``)."""
    a = Award(state, cmd)
    a.require(AwardPhase.LOT)
    seed = cmd.body.get("seed")
    try:
        raw = bytes.fromhex(seed) if isinstance(seed, str) else b""
    except ValueError:
        raise RuleError("invalid_award", "seed must be hex") from None
    a.a["seed"] = raw.hex()
    outcome = a.outcome()
    if outcome.pick is None:
        problem = "; ".join(outcome.problems) or "no lot was drawn"
        code = "seed_mismatch" if "commitment" in problem else "invalid_award"
        raise RuleError(code, problem)
    payload = {
        "seed": raw.hex(),
        "commitment": a.a["seed_commitment"],
        "finalists": list(outcome.finalists),
        "pick": outcome.pick,
    }
    a.s.emit("award.lot_drawn", payload)
    a.advance()
    return a.decision()


# --- 集体议事法 -------------------------------------------------------------------------------


def opinion(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.opinion`` (signed): a member's opinion — a candidate and why — once."""
    a = Award(state, cmd)
    who = a.member()
    a.require(AwardPhase.DELIBERATION)
    candidate = a.candidate()
    if who in a.a["opinions"]:
        raise RuleError("already_submitted", "you gave your opinion")
    text = text_field(cmd.body, "opinion")
    a.a["opinions"][who] = {"candidate": candidate, "opinion": text, "at": a.s.now}
    payload = {"member": who, "candidate": candidate, "opinion": text}
    a.s.emit("award.opinion", payload, signed=True)
    a.progress("opinions", len(a.a["opinions"]), len(a.a["members"]))
    return a.decision()


def decide(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.decide`` (signed, the chair): after every opinion, the award, with reasons."""
    a = Award(state, cmd)
    who = a.member()
    a.require(AwardPhase.DELIBERATION)
    if who != a.a["chair"]:
        raise RuleError("not_the_award_chair", "only the 定标委员会组长 decides")
    missing = [m for m in a.a["members"] if m not in a.a["opinions"]]
    if missing:
        raise RuleError("opinions_missing", f"no opinion yet from {', '.join(missing)}")
    candidate = a.candidate()
    reasons = text_field(cmd.body, "reasons", "reason_required")
    a.a["decision"] = {"by": who, "candidate": candidate, "reasons": reasons}
    a.s.emit("award.decided", {"candidate": candidate, "reasons": reasons}, signed=True)
    a.advance()
    return a.decision()


# --- the 定标报告, the publicity, the notice -----------------------------------------------------


def sign_report(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.sign_report`` (signed): a member signs the 定标报告's digest; the last
    signature publishes the result (中标候选人公示) and opens the objection window."""
    a = Award(state, cmd)
    who = a.member()
    a.require(AwardPhase.SIGNING)
    if cmd.body.get("award_digest") != a.a["award_digest"]:
        raise RuleError("award_changed", "the digest is not the 定标报告 under signature")
    if who in a.a["signatures"]:
        raise RuleError("already_signed", "you signed this 定标报告")
    dissent = optional_text(cmd.body, "dissent")
    a.a["signatures"][who] = {"dissent": dissent, "at": a.s.now}
    payload = {"member": who, "award_digest": a.a["award_digest"], "dissent": dissent}
    a.s.emit("award.report_signed", payload, signed=True)
    a.progress("signing", len(a.a["signatures"]), len(a.a["members"]))
    if len(a.a["signatures"]) == len(a.a["members"]):
        until = iso(cmd.now + timedelta(seconds=a.a["objection_seconds"]))
        a.a["publicity"] = {"from": a.s.now, "until": until}
        final = {k: a.a[k] for k in ("report", "award_digest", "signatures")}
        a.s.emit("award.report_final", final)
        report = a.a["report"]
        a.s.emit(
            "award.publicity",
            {
                "winner": report["winner"],
                "candidates": a.a["candidates"],
                "method": a.a["method"]["kind"],
                "basis": report["basis"],
                "award_digest": a.a["award_digest"],
                "from": a.s.now,
                "until": until,
            },
        )
        a.move_to(AwardPhase.PUBLICITY)
    return a.decision()


def _window_over(a: Award) -> bool:
    return a.phase == AwardPhase.PUBLICITY and a.cmd.now >= parse_time(a.a["publicity"]["until"])


def _close_publicity(a: Award) -> None:
    unanswered = [i for i, o in a.a["objections"].items() if o["answer"] is None]
    payload = {"objections": len(a.a["objections"]), "unanswered": unanswered}
    a.s.emit("award.publicity_closed", payload)
    a.move_to(AwardPhase.PUBLICITY_OVER)


def raise_objection(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.object`` (signed, a bidder): 异议 against the published result, in the window."""
    a = Award(state, cmd)
    a.require(AwardPhase.PUBLICITY)
    if _window_over(a):
        raise RuleError("objection_window_closed", "the 公示 period is over")
    company = cmd.actor.org
    if not company:
        raise RuleError("not_a_company", "an objection is raised for a bidder company")
    oid = f"O{len(a.a['objections']) + 1}"
    text = text_field(cmd.body, "text")
    a.a["objections"][oid] = {
        "company": company,
        "text": text,
        "at": a.s.now,
        "answer": None,
        "answered_at": None,
    }
    a.s.emit("award.objection", {"id": oid, "company": company, "text": text}, signed=True)
    return Decision(a.s.events, a.s.s, reply={"id": oid})


def answer(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.answer`` (tenderer): the answer to an objection, recorded and published."""
    a = Award(state, cmd)
    a.require(AwardPhase.PUBLICITY, AwardPhase.PUBLICITY_OVER)
    oid = text_field(cmd.body, "id")
    found = a.a["objections"].get(oid)
    if found is None:
        raise RuleError("unknown_objection", oid)
    if found["answer"] is not None:
        raise RuleError("already_answered", oid)
    found.update(answer=text_field(cmd.body, "answer"), answered_at=a.s.now)
    payload = {"id": oid, "company": found["company"], "answer": found["answer"]}
    a.s.emit("award.objection_answered", payload)
    return a.decision()


def clock(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.clock`` (system): the objection window passed; nothing otherwise (repeats)."""
    a = Award(state, cmd)
    if _window_over(a):
        _close_publicity(a)
    return a.decision()


def notify(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``award.notify`` (tenderer): 中标通知, once the window is over and every objection
    is answered."""
    a = Award(state, cmd)
    if _window_over(a):
        _close_publicity(a)
    if a.phase == AwardPhase.PUBLICITY:
        raise RuleError("publicity_running", f"the 公示 runs until {a.a['publicity']['until']}")
    a.require(AwardPhase.PUBLICITY_OVER)
    open_ = [i for i, o in a.a["objections"].items() if o["answer"] is None]
    if open_:
        raise RuleError("objection_open", f"unanswered: {', '.join(open_)}")
    winner = a.a["report"]["winner"]
    a.a["notice"] = {"winner": winner["bid_id"], "at": a.s.now, "by": cmd.actor.user_id}
    payload = {"winner": winner, "award_digest": a.a["award_digest"], "at": a.s.now}
    a.s.emit("award.notice", payload)
    a.move_to(AwardPhase.AWARDED)
    return a.decision()


def next_deadline(state: Mapping[str, Any]) -> datetime | None:
    """When the platform's clock should issue ``award.clock`` (the end of the 公示)."""
    award = state.get("award") if state else None
    if not award or award.get("phase") != AwardPhase.PUBLICITY:
        return None
    return parse_time(award["publicity"]["until"])


DECIDERS: dict[str, Decider] = {
    "award.setup": setup,
    "award.draw_members": draw_committee,
    "award.sign_in": sign_in,
    "award.commit_seed": commit_seed,
    "award.vote": vote,
    "award.reveal_seed": reveal_seed,
    "award.opinion": opinion,
    "award.decide": decide,
    "award.sign_report": sign_report,
    "award.object": raise_objection,
    "award.answer": answer,
    "award.clock": clock,
    "award.notify": notify,
}

_MEMBER = frozenset({Role.AWARD_MEMBER})
# The tenderer and its 定标委员会 decide; a supervisor is present; the agency and the experts
# watch the progress only (docs/domain.md, 评定分离).
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "award.setup": frozenset({Role.TENDERER}),
    "award.draw_members": frozenset({Role.TENDERER}),
    "award.sign_in": frozenset({Role.AWARD_MEMBER, Role.SUPERVISOR}),
    "award.commit_seed": frozenset({Role.SUPERVISOR}),
    "award.vote": _MEMBER,
    "award.reveal_seed": frozenset({Role.SUPERVISOR}),
    "award.opinion": _MEMBER,
    "award.decide": _MEMBER,
    "award.sign_report": _MEMBER,
    "award.object": frozenset({Role.BIDDER}),
    "award.answer": frozenset({Role.TENDERER}),
    "award.clock": frozenset({SYSTEM}),
    "award.notify": frozenset({Role.TENDERER}),
}

SIGNED = frozenset(
    {
        "award.sign_in",
        "award.vote",
        "award.opinion",
        "award.decide",
        "award.sign_report",
        "award.object",
    }
)
