"""Method rules in the session that need a command of their own (docs/methods.md):

- 算术错误 found in review: the chair records each bid's count (``session.arithmetic_errors``);
  the method's penalty then comes off the total or the price score as it states.
- A price score computed elsewhere (工程量清单 scoring, ``price_rule.formula: "external"``):
  the agency feeds every bid's figure (``session.price_scores``) and a supervisor approves
  (``session.price_scores_approve``) or refuses it (``session.price_scores_reject``); only an
  approved figure is scored, and who fed and who approved it are recorded in the report.
- Corrections after a 复核 (:mod:`evalroom.domain.corrections`): in the signing phase the chair
  asks to correct one expert's score or the base price, with a reason
  (``session.correction_request``); a supervisor approves (``session.correction_approve``:
  the ranking is recomputed on top of the record, the report redrawn and signed again) or
  refuses (``session.correction_reject``). The sheets as handed in are never changed.

- Recommendation by the experts' votes or ranks (投票法 / 排序法, ``recommend_by`` in the
  method): once the ranking is drawn up, each expert sends a ballot (``session.rank_vote``);
  when all are in, :func:`evalroom.domain.votes.recommend_by_votes` (or ``_ranks``) fills the
  seats, a group tied across the last seats votes again among itself for the seats left, and
  the report names the candidates; signing waits for it (``recommendation_pending``).

Scales, chair-only items, deduction items, vote rules and the chair election are enforced in
the deciders of the commands they govern (:mod:`evalroom.domain.session_review`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from evalroom.domain.commands import Command, Decision
from evalroom.domain.corrections import Correction, CorrectionKind, correct_scores
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import CriterionKind, PriceFormula
from evalroom.domain.session_report import aggregate, publish_report, recorded_corrections
from evalroom.domain.session_review import check_entry
from evalroom.domain.session_state import (
    REVIEW,
    Phase,
    Session,
    decimal_text,
    optional_text,
    text_field,
)
from evalroom.domain.votes import Recommendation, recommend_by_ranks, recommend_by_votes

MAX_ERRORS = 999

# --- arithmetic errors (算术错误) ---------------------------------------------------------------


def arithmetic_errors(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.arithmetic_errors``: the chair records how many arithmetic errors one bid's
    form holds (a later entry replaces an earlier one), before the ranking."""
    s = Session(state, cmd)
    chair = s.chair(*REVIEW)
    bid = text_field(cmd.body, "bid")
    if bid not in s.bid_ids():
        raise RuleError("unknown_bid", f"no bid {bid} in this section")
    count = cmd.body.get("errors")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_ERRORS:
        raise RuleError("invalid", f"errors must be a whole number from 0 to {MAX_ERRORS}")
    reason = optional_text(cmd.body, "reason")
    if count and reason is None:
        raise RuleError("reason_required", "name the arithmetic errors found")
    s.s["bids"] = [
        {**b, "arithmetic_errors": count} if b["bid_id"] == bid else b for b in s.s["bids"]
    ]
    penalty = s.method.arithmetic_error_penalty
    payload = {
        "bid": bid,
        "errors": count,
        "reason": reason,
        "penalty_each": str(penalty),
        "from": s.method.penalty_from.value,
        "by": chair,
    }
    s.emit("session.arithmetic_errors", payload)
    return s.decision()


# --- a price score computed elsewhere (外部计算的价格得分) ----------------------------------------


def _open_for_figures(s: Session) -> None:
    s.require_live()
    if s.phase in (Phase.SIGNING, Phase.CLOSED):
        raise RuleError("wrong_phase", "the ranking is drawn up: correct it after a 复核 instead")


def feed_price_scores(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.price_scores``: the agency feeds every bid's price score computed elsewhere
    (e.g. 工程量清单 scoring), with the basis; it waits for a supervisor's approval."""
    s = Session(state, cmd)
    _open_for_figures(s)
    rule = s.method.price_rule
    if rule is None or rule.formula is not PriceFormula.EXTERNAL:
        raise RuleError("price_score_unexpected", "this method computes its own price score")
    full = s.method.of_kind(CriterionKind.PRICE)[0].max_points or Decimal(0)
    raw = cmd.body.get("scores")
    if not isinstance(raw, Mapping):
        raise RuleError("invalid", "scores is {bid: price score}")
    unknown = sorted(set(raw) - set(s.bid_ids()))
    if unknown:
        raise RuleError("unknown_bid", f"no bid {unknown[0]} in this section")
    scores: dict[str, str] = {}
    for bid in s.bid_ids():
        if bid not in raw:
            raise RuleError("missing_price_score", f"{bid} 缺少价格得分 · no price score for {bid}")
        points = decimal_text(raw[bid], f"price score of {bid}", "invalid_score")
        if not 0 <= points <= full:
            raise RuleError(
                "price_score_out_of_range",
                f"{bid} 的价格得分 {points} 超出 0 至 {full} 分 · {bid}: {points} is outside 0"
                f" to {full}",
            )
        scores[bid] = format(points, "f")
    basis = text_field(cmd.body, "basis", "reason_required")
    pending = {"scores": scores, "basis": basis, "fed_by": cmd.actor.user_id, "at": s.now}
    s.s["price_scores"] = pending
    s.emit("session.price_scores_fed", {k: pending[k] for k in ("scores", "basis", "fed_by")})
    return s.decision()


def _pending_scores(s: Session) -> dict[str, Any]:
    _open_for_figures(s)
    pending: dict[str, Any] | None = s.s.get("price_scores")
    if pending is None or pending.get("approved_by"):
        raise RuleError("no_request", "no price scores await approval")
    return pending


def approve_price_scores(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.price_scores_approve``: a supervisor approves the fed figures; they are the
    bids' price scores from now on."""
    s = Session(state, cmd)
    pending = _pending_scores(s)
    scores = pending["scores"]
    s.s["bids"] = [{**b, "price_score": scores[b["bid_id"]]} for b in s.s["bids"]]
    approved = {**pending, "approved_by": cmd.actor.user_id, "approved_at": s.now}
    s.s["price_scores"] = approved
    payload = {k: approved[k] for k in ("scores", "basis", "fed_by", "approved_by")}
    s.emit("session.price_scores_approved", payload)
    return s.decision()


def reject_price_scores(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.price_scores_reject``: a supervisor refuses the fed figures, with a reason."""
    s = Session(state, cmd)
    pending = _pending_scores(s)
    reason = text_field(cmd.body, "reason", "reason_required")
    s.s["price_scores"] = None
    s.emit("session.price_scores_rejected", {"fed_by": pending["fed_by"], "rejection": reason})
    return s.decision()


# --- corrections after a review (复核更正) -----------------------------------------------------


def _original(s: Session, body: Mapping[str, Any]) -> dict[str, Any]:
    """The correction asked, with the figure it replaces as the record holds it now (the
    sheets as handed in with the corrections approved so far; the report's base price)."""
    kind = body.get("kind")
    if kind == CorrectionKind.BASE_PRICE.value:
        base = (s.s["report"] or {}).get("ranking", {}).get("base_price")
        if not base:
            raise RuleError("invalid_correction", "this ranking has no computed base price")
        return {"kind": kind, "original": str(base["value"])}
    if kind != CorrectionKind.SCORE.value:
        raise RuleError("invalid_correction", "kind must be score or base_price")
    expert = s.member(text_field(body, "expert", "invalid_correction"))
    bid = text_field(body, "bid", "invalid_correction")
    criterion = text_field(body, "criterion", "invalid_correction")
    c = s.scored().get(criterion)
    if c is None:
        raise RuleError("unknown_criterion", f"{criterion} is not a scored criterion")
    table = {e: {b: dict(r) for b, r in rows.items()} for e, rows in s.s["scores"].items()}
    current = correct_scores(
        {
            e: {b: {k: Decimal(v) for k, v in r.items()} for b, r in rows.items()}
            for e, rows in table.items()
        },
        recorded_corrections(s),
    )
    value = current.get(expert, {}).get(bid, {}).get(criterion)
    if value is None:
        raise RuleError("correction_stale", f"{expert} has no score on {criterion} for {bid}")
    return {
        "kind": kind,
        "expert_id": expert,
        "bid_id": bid,
        "criterion_id": criterion,
        "original": format(value, "f"),
    }


def request_correction(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.correction_request``: the chair asks, after a 复核, to correct one expert's
    score or the base price, with the reason; it waits for a supervisor."""
    s = Session(state, cmd)
    chair = s.chair(Phase.SIGNING)
    if s.s.get("correction") is not None:
        raise RuleError("already_requested", "a correction awaits the supervisor")
    asked = _original(s, cmd.body)
    corrected = decimal_text(cmd.body.get("corrected"), "corrected", "invalid_correction")
    exponent = corrected.as_tuple().exponent
    if not (isinstance(exponent, int) and -6 <= exponent and abs(corrected) < 10**15):
        raise RuleError("invalid_correction", "a corrected figure has at most 6 decimals")
    if asked["kind"] == CorrectionKind.SCORE.value:
        check_entry(s.scored()[asked["criterion_id"]], corrected)
    reason = text_field(cmd.body, "reason", "reason_required")
    request = {**asked, "corrected": format(corrected, "f"), "reason": reason}
    # The checks a recorded correction makes, before anyone approves it (approver to come).
    Correction.from_dict({**request, "approved_by": "pending"})
    s.s["correction"] = {**request, "by": chair, "at": s.now}
    s.emit("session.correction_requested", {**request, "by": chair})
    return s.decision()


def _pending_correction(s: Session) -> dict[str, Any]:
    s.require_live()
    s.require_phase(Phase.SIGNING)
    pending: dict[str, Any] | None = s.s.get("correction")
    if pending is None:
        raise RuleError("no_request", "no correction awaits approval")
    return pending


def approve_correction(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.correction_approve``: a supervisor approves; the correction joins the record,
    the ranking is recomputed on top of it and the report is drawn up and signed again."""
    s = Session(state, cmd)
    pending = _pending_correction(s)
    fields = {k: v for k, v in pending.items() if k not in ("by", "at")}
    correction = Correction.from_dict({**fields, "approved_by": cmd.actor.user_id})
    entry = {**correction.to_dict(), "requested_by": pending["by"], "approved_at": s.now}
    s.s["corrections"] = [*s.s.get("corrections", []), entry]
    s.s["correction"] = None
    s.emit("session.correction_approved", {k: v for k, v in entry.items() if k != "approved_at"})
    aggregate(s)
    return s.decision()


def reject_correction(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.correction_reject``: a supervisor refuses the correction, with a reason."""
    s = Session(state, cmd)
    pending = _pending_correction(s)
    reason = text_field(cmd.body, "reason", "reason_required")
    s.s["correction"] = None
    fields = {k: v for k, v in pending.items() if k != "at"}
    s.emit("session.correction_rejected", {**fields, "rejection": reason})
    return s.decision()


# --- recommendation by votes or ranks (投票法 / 排序法) ------------------------------------------


def tally_ballots(
    kind: str, candidates: list[str], ballots: Mapping[str, list[str]], seats: int, picks: int
) -> Recommendation:
    """One round of the recommendation vote, as :mod:`evalroom.domain.votes` counts it."""
    if kind == "ranks":
        return recommend_by_ranks(candidates, ballots, seats)
    return recommend_by_votes(candidates, ballots, seats, min(picks, seats))


def rank_vote(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.rank_vote`` {bids}: an expert's ballot for the round's candidates (signed):
    up to ``picks`` bids (投票法) or every candidate in order, best first (排序法)."""
    s = Session(state, cmd)
    expert = s.expert(Phase.SIGNING)
    vote: dict[str, Any] | None = s.s.get("rank_vote")
    by = s.method.recommend_by
    if not vote or by is None:
        raise RuleError("wrong_phase", "no recommendation vote is open")
    if expert in vote["ballots"]:
        raise RuleError("already_voted", f"you voted in round {vote['round']}")
    chosen = cmd.body.get("bids")
    if not isinstance(chosen, list) or not all(isinstance(b, str) for b in chosen):
        raise RuleError("invalid_vote", "bids is a list of bid ids")
    picks = by.picks or 1
    # The one ballot, checked as the tally checks every ballot.
    tally_ballots(by.kind, vote["candidates"], {expert: chosen}, vote["seats"], picks)
    vote["ballots"][expert] = list(chosen)
    s.emit("session.rank_vote", {"round": vote["round"], "bids": list(chosen)}, signed=True)
    s.progress("recommendation", len(vote["ballots"]), len(s.committee))
    if len(vote["ballots"]) == len(s.committee):
        _count_recommendation(s, vote, by.kind, picks)
    return s.decision()


def _count_recommendation(s: Session, vote: dict[str, Any], kind: str, picks: int) -> None:
    """Count the round: the seats filled join the chosen; a group tied across the last seats
    votes again among itself; once every seat is filled the report names the candidates."""
    result = tally_ballots(kind, vote["candidates"], vote["ballots"], vote["seats"], picks)
    recorded = {
        "round": vote["round"],
        "candidates": vote["candidates"],
        "seats": vote["seats"],
        "ballots": vote["ballots"],
        **result.to_dict(),
    }
    rounds = [*vote.get("rounds", []), recorded]
    chosen = [*vote.get("chosen", []), *result.recommended]
    s.emit("session.rank_round", recorded)
    if result.tied:
        s.s["rank_vote"] = {
            "round": vote["round"] + 1,
            "candidates": list(result.tied),
            "seats": result.open_seats,
            "ballots": {},
            "rounds": rounds,
            "chosen": chosen,
        }
        return
    s.s["rank_vote"] = None
    companies = {b["bid_id"]: b["company"] for b in s.s["bids"]}
    report = {**s.s["report"]}
    report["recommendation"] = {**report["recommendation"], "rounds": rounds, "done": True}
    report["recommended"] = [
        {"rank": i, "bid_id": bid, "company": companies[bid]} for i, bid in enumerate(chosen, 1)
    ]
    publish_report(s, report)
