"""Reviewing the bids (评审): chair election, preliminary review, blind detailed review, the
deviation check, closing a phase and going back (评审回退).

Each expert works alone: verdicts and scores are visible to their author (and supervisors)
until every expert has submitted; then the sheets are revealed to the committee at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from evalroom.domain.commands import Command, Decision
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import (
    Criterion,
    CriterionKind,
    PassFailRule,
    ScoredBy,
    find_deviations,
)
from evalroom.domain.session_clarify import pending_clarifications
from evalroom.domain.session_report import aggregate, fail_reasons
from evalroom.domain.session_state import (
    EVALUATION,
    REVIEW,
    Phase,
    Session,
    decimal_text,
    optional_text,
    text_field,
)
from evalroom.domain.tender_config import MIN_COMPETITIVE, few_valid_outcome

SCORE_PLACES = 2  # a score has at most 2 decimals, as score tables print them

# --- chair election (推选组长) ----------------------------------------------------------------


def vote_chair(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.vote_chair``: one secret vote per expert and round."""
    s = Session(state, cmd)
    voter = s.expert(Phase.CHAIR_ELECTION)
    candidate = s.member(text_field(cmd.body, "candidate"))
    election = s.s["election"]
    if voter in election["votes"]:
        raise RuleError("already_voted", f"you voted in round {election['round']}")
    election["votes"][voter] = candidate
    s.emit("session.chair_vote", {"round": election["round"], "candidate": candidate})
    s.progress("chair_election", len(election["votes"]), len(s.committee))
    if len(election["votes"]) == len(s.committee):
        _count_votes(s)
    return s.decision()


def _count_votes(s: Session) -> None:
    """More than half of the committee elects; otherwise the counts are told and a new round
    starts (a tie included)."""
    election = s.s["election"]
    counts = Counter(election["votes"].values())
    result = {"round": election["round"], "counts": dict(sorted(counts.items()))}
    leader, votes = max(counts.items(), key=lambda kv: kv[1])
    if 2 * votes <= len(s.committee):
        s.s["election"] = {"round": election["round"] + 1, "votes": {}}
        s.emit("session.chair_round", {**result, "elected": None})
        return
    s.s["chair"] = leader
    s.grant(leader, Role.CHAIR, s.committee[leader]["venue"])
    s.emit("session.chair_round", {**result, "elected": leader})
    s.move_to(Phase.PRELIMINARY)


# --- preliminary review (初步评审) ------------------------------------------------------------


def _bid(s: Session, body: Mapping[str, Any]) -> str:
    bid = text_field(body, "bid")
    if bid not in s.bid_ids():
        raise RuleError("unknown_bid", f"no bid {bid} in this section")
    return bid


def _criterion(s: Session, body: Mapping[str, Any], kind: CriterionKind) -> str:
    criterion = text_field(body, "criterion")
    if criterion not in s.criteria(kind):
        raise RuleError("unknown_criterion", f"{criterion} is not a {kind.value} criterion")
    return criterion


def _missing_verdict(s: Session, expert: str) -> tuple[str, str] | None:
    mine = s.s["verdicts"].get(expert, {})
    for bid in s.bid_ids():
        for criterion in s.criteria(CriterionKind.PASS_FAIL):
            if criterion not in mine.get(bid, {}):
                return bid, criterion
    return None


def preliminary(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.preliminary``: one expert's pass/fail on one bid and criterion (signed).

    A verdict may be changed until the chair closes the phase; a fail needs a reason (否决理由).
    """
    s = Session(state, cmd)
    expert = s.expert(Phase.PRELIMINARY)
    bid, criterion = _bid(s, cmd.body), _criterion(s, cmd.body, CriterionKind.PASS_FAIL)
    passes, reason = cmd.body.get("pass"), optional_text(cmd.body, "reason")
    if not isinstance(passes, bool):
        raise RuleError("invalid", "pass must be true or false")
    if not passes and reason is None:
        raise RuleError("reason_required", "a fail verdict needs a reason")
    was_done = _missing_verdict(s, expert) is None
    row = s.s["verdicts"].setdefault(expert, {}).setdefault(bid, {})
    row[criterion] = {"pass": passes, "reason": reason}
    payload = {"bid": bid, "criterion": criterion, "pass": passes, "reason": reason}
    s.emit("session.verdict", payload, signed=True)
    if not was_done and _missing_verdict(s, expert) is None:
        done = sum(_missing_verdict(s, e) is None for e in s.committee)
        s.progress("preliminary_review", done, len(s.committee))
    return s.decision()


def _tally(s: Session) -> tuple[dict[str, Any], list[str]]:
    """Each (bid, criterion) by majority or unanimity, as the method says."""
    unanimity = s.method.pass_fail is PassFailRule.UNANIMITY
    results: dict[str, Any] = {}
    for bid in s.bid_ids():
        row = results.setdefault(bid, {})
        for criterion in s.criteria(CriterionKind.PASS_FAIL):
            votes = [s.s["verdicts"][e][bid][criterion]["pass"] for e in s.committee]
            passes = sum(votes)
            ok = passes == len(votes) if unanimity else 2 * passes > len(votes)
            row[criterion] = {"passes": passes, "fails": len(votes) - passes, "passed": ok}
    passed = [b for b in s.bid_ids() if all(c["passed"] for c in results[b].values())]
    return results, passed


def _close_preliminary(s: Session) -> None:
    for expert in s.committee:
        missing = _missing_verdict(s, expert)
        if missing is not None:
            bid, criterion = missing
            raise RuleError("incomplete", f"{expert} has no verdict on {criterion} for {bid}")
    results, passed = _tally(s)
    s.s["preliminary"] = {"passed": passed, "results": results}
    payload = {"results": results, "passed": passed, "fail_reasons": fail_reasons(s)}
    s.emit("session.preliminary_result", payload)
    if _few_valid(s, passed):
        return
    if passed and s.criteria(CriterionKind.EXPERT):
        s.move_to(Phase.DETAILED)
    else:  # nothing to score (lowest evaluated price, or every bid rejected): rank now
        aggregate(s)


def _few_valid(s: Session, passed: list[str]) -> bool:
    """Fewer than three valid bids (those rejected at the opening never were): the tender's
    rule decides, and the decision is recorded. ``reject_all`` (否决所有投标) closes the session
    without a ranking (the tender is re-run); ``continue`` goes on. True when it closed."""
    rule = str(s.s.get("few_valid") or "continue")
    decision = few_valid_outcome(rule, len(passed))
    if decision is None:
        return False
    valid, opening = len(passed), len(s.s.get("rejected") or [])
    if decision == "reject_all":
        zh = f"有效投标仅 {valid} 个（不足 {MIN_COMPETITIVE} 个），按招标文件规定否决所有投标"
        en = (
            f"only {valid} valid bids (fewer than {MIN_COMPETITIVE}):"
            " every bid is rejected, as the tender states"
        )
    else:
        zh = f"有效投标仅 {valid} 个（不足 {MIN_COMPETITIVE} 个），按招标文件规定继续评标"
        en = (
            f"only {valid} valid bids (fewer than {MIN_COMPETITIVE}):"
            " the evaluation continues, as the tender states"
        )
    outcome = {
        "valid": valid,
        "minimum": MIN_COMPETITIVE,
        "rejected_at_opening": opening,
        "rule": rule,
        "decision": decision,
        "detail": zh,
        "detail_en": en,
        "by": s.cmd.actor.user_id,
    }
    s.s["few_valid_decision"] = {**outcome, "at": s.now}
    s.emit("session.few_valid", outcome)
    if decision != "reject_all":
        return False
    s.move_to(Phase.CLOSED)
    s.emit("session.closed", {"recommended": [], "all_rejected": True})
    return True


# --- detailed review (详细评审) ---------------------------------------------------------------


_SCORED = (CriterionKind.EXPERT, CriterionKind.DEDUCTION)


def _scored(s: Session) -> dict[str, Criterion]:
    """The criteria experts enter figures on (评分项, 扣分项), in method order."""
    return {c.id: c for c in s.method.criteria if c.kind in _SCORED}


def _cell(s: Session, body: Mapping[str, Any], expert: str) -> tuple[str, str, str]:
    """(bid, criterion, score) of a score command: a figure the criterion's scale admits
    (0..max points unless the method sets a range, steps or values), on an item ``expert``
    may score (a chair-only item is the chair's)."""
    bid = _bid(s, body)
    if bid not in s.passing_bids():
        raise RuleError("bid_rejected", f"{bid} did not pass the preliminary review")
    criterion = text_field(body, "criterion")
    found = _scored(s).get(criterion)
    if found is None:
        raise RuleError("unknown_criterion", f"{criterion} is not a scored criterion")
    if found.scored_by is ScoredBy.CHAIR and expert != s.s["chair"]:
        raise RuleError("chair_only", f"only the chair scores {criterion}")
    points = decimal_text(body.get("score"), "score", "invalid_score")
    exponent = points.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SCORE_PLACES:
        raise RuleError("invalid_score", f"a score has at most {SCORE_PLACES} decimals")
    found.allowed.check(points, criterion)
    return bid, criterion, format(points, "f")


def _missing_score(s: Session, expert: str) -> tuple[str, str] | None:
    mine = s.s["scores"].get(expert, {})
    for bid in s.passing_bids():
        for criterion, c in _scored(s).items():
            if c.scored_by is ScoredBy.CHAIR and expert != s.s["chair"]:
                continue
            if criterion not in mine.get(bid, {}):
                return bid, criterion
    return None


def score(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.score``: one expert's score on one bid and criterion (signed, blind)."""
    s = Session(state, cmd)
    expert = s.expert(Phase.DETAILED)
    if expert in s.s["submitted"]:
        raise RuleError("already_submitted", "your sheet is submitted: revise with a reason")
    bid, criterion, points = _cell(s, cmd.body, expert)
    s.s["scores"].setdefault(expert, {}).setdefault(bid, {})[criterion] = points
    reason = optional_text(cmd.body, "reason")
    payload = {"bid": bid, "criterion": criterion, "score": points, "reason": reason}
    s.emit("session.score", payload, signed=True)
    return s.decision()


def submit_scores(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.submit_scores``: lock one's sheet; the last submission reveals every sheet."""
    s = Session(state, cmd)
    expert = s.expert(Phase.DETAILED)
    if expert in s.s["submitted"]:
        raise RuleError("already_submitted", "your sheet is already submitted")
    missing = _missing_score(s, expert)
    if missing is not None:
        raise RuleError("incomplete", f"no score on {missing[1]} for {missing[0]} yet")
    s.s["submitted"].append(expert)
    own = next(sheet for sheet in s.sheets() if sheet.expert_id == expert)
    s.emit("session.scores_submitted", {"scores": own.to_dict()["scores"]}, signed=True)
    s.progress("detailed_review", len(s.s["submitted"]), len(s.committee))
    if len(s.s["submitted"]) == len(s.committee):
        s.s["revealed"] = True
        sheets = [sheet.to_dict() for sheet in s.sheets()]
        s.emit("session.scores_revealed", {"sheets": sheets})
        _flag_deviations(s)
        s.move_to(Phase.DEVIATION)
    return s.decision()


def revise_score(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.revise_score``: change a submitted score, with a reason (recorded, signed)."""
    s = Session(state, cmd)
    expert = s.expert(Phase.DETAILED, Phase.DEVIATION)
    if expert not in s.s["submitted"]:
        raise RuleError("not_submitted", "your sheet is open: use session.score")
    reason = text_field(cmd.body, "reason", "reason_required")
    bid, criterion, points = _cell(s, cmd.body, expert)
    row = s.s["scores"][expert][bid]
    revision = {
        "expert": expert,
        "bid": bid,
        "criterion": criterion,
        "from": row[criterion],
        "to": points,
        "reason": reason,
        "phase": s.phase.value,
        "at": s.now,
    }
    row[criterion] = points
    s.s["revisions"].append(revision)
    s.emit("session.score_revised", {**revision, "revealed": s.s["revealed"]}, signed=True)
    if s.phase is Phase.DEVIATION:
        _flag_deviations(s)
    return s.decision()


# --- deviation check (评分偏离) ----------------------------------------------------------------


def _flag_deviations(s: Session) -> None:
    threshold = decimal_text(s.s["deviation_threshold"], "threshold")
    found = find_deviations(s.sheets(), threshold)
    s.s["deviations"] = [
        {
            "expert": d.expert_id,
            "bid": d.bid_id,
            "criterion": d.criterion_id,
            "score": format(d.score, "f"),
            "others_mean": str(d.others_mean),
            "relative": None if d.relative is None else str(d.relative),
        }
        for d in found
    ]
    s.emit("session.deviations", {"deviations": s.s["deviations"]})
    _deviation_progress(s)


def _reason_of(s: Session, d: Mapping[str, Any]) -> str | None:
    reason: str | None = (
        s.s["deviation_reasons"].get(d["expert"], {}).get(d["bid"], {}).get(d["criterion"])
    )
    return reason


def _deviation_progress(s: Session) -> None:
    explained = sum(_reason_of(s, d) is not None for d in s.s["deviations"])
    s.progress("deviation_check", explained, len(s.s["deviations"]))


def deviation_reason(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.deviation_reason``: the flagged expert explains the score in writing (signed)."""
    s = Session(state, cmd)
    expert = s.expert(Phase.DEVIATION)
    bid, criterion = text_field(cmd.body, "bid"), text_field(cmd.body, "criterion")
    flagged = (expert, bid, criterion)
    if not any((d["expert"], d["bid"], d["criterion"]) == flagged for d in s.s["deviations"]):
        raise RuleError("not_flagged", f"your score on {criterion} for {bid} is not a deviation")
    reason = text_field(cmd.body, "reason", "reason_required")
    s.s["deviation_reasons"].setdefault(expert, {}).setdefault(bid, {})[criterion] = reason
    payload = {"expert": expert, "bid": bid, "criterion": criterion, "reason": reason}
    s.emit("session.deviation_reason", payload, signed=True)
    _deviation_progress(s)
    return s.decision()


def _close_deviation(s: Session) -> None:
    for d in s.s["deviations"]:
        if _reason_of(s, d) is None:
            raise RuleError(
                "deviation_reason_missing",
                f"{d['expert']} has not explained {d['score']} on {d['criterion']} for {d['bid']}",
            )
    aggregate(s)


# --- closing a phase, going back --------------------------------------------------------------


def close_phase(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.close_phase``: the chair closes the preliminary review or the deviation check.

    The body names the phase being closed, so a repeated click cannot close the next one.
    """
    s = Session(state, cmd)
    s.chair(Phase.PRELIMINARY, Phase.DEVIATION)
    if cmd.body.get("phase") != s.phase.value:
        raise RuleError("wrong_phase", f"the session is in {s.phase}, not {cmd.body.get('phase')}")
    pending = pending_clarifications(s)
    if pending:
        raise RuleError("clarification_pending", f"clarification {pending[0]} awaits its answer")
    if s.phase is Phase.PRELIMINARY:
        _close_preliminary(s)
    else:
        _close_deviation(s)
    return s.decision()


def goback_request(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.goback_request``: the chair asks to reopen an earlier review phase."""
    s = Session(state, cmd)
    chair = s.chair(Phase.DETAILED, Phase.DEVIATION, Phase.SIGNING)
    earlier = [p.value for p in REVIEW if EVALUATION.index(p) < EVALUATION.index(s.phase)]
    target = cmd.body.get("to_phase")
    if target not in earlier:
        raise RuleError("invalid_goback", f"from {s.phase} one may go back to {', '.join(earlier)}")
    reason = text_field(cmd.body, "reason", "reason_required")
    if s.s["goback"] is not None:
        raise RuleError("already_requested", "a going back awaits the supervisor")
    request = {"to_phase": target, "from_phase": s.phase.value, "reason": reason, "by": chair}
    s.s["goback"] = {**request, "at": s.now}
    s.emit("session.goback_requested", request)
    return s.decision()


def _pending_goback(s: Session) -> dict[str, Any]:
    s.require_live()
    request: dict[str, Any] | None = s.s["goback"]
    if request is None:
        raise RuleError("no_request", "no going back awaits approval")
    return request


def goback_approve(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.goback_approve``: the supervisor reopens the phase; its sheets unlock."""
    s = Session(state, cmd)
    request = _pending_goback(s)
    target = Phase(request["to_phase"])
    s.s.update(report=None, report_digest=None, signatures={})
    if target is not Phase.DEVIATION:
        s.s.update(submitted=[], revealed=False, deviations=[], deviation_reasons={})
    if target is Phase.PRELIMINARY:
        s.s["preliminary"] = None
    s.s["gobacks"].append({**request, "approved_by": cmd.actor.user_id, "approved_at": s.now})
    s.s["goback"] = None
    s.emit("session.goback_approved", request)
    s.move_to(target)
    return s.decision()


def goback_reject(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.goback_reject``: the supervisor refuses, with a reason."""
    s = Session(state, cmd)
    request = _pending_goback(s)
    reason = text_field(cmd.body, "reason", "reason_required")
    s.s["goback"] = None
    s.emit("session.goback_rejected", {**request, "rejection": reason})
    return s.decision()
