"""Aggregation, ranking and the report (汇总排序 · 评标报告), its signing, and the ratings of
the experts after closing (一标一评).

The report is one JSON object holding everything an offline verifier needs to re-run
:func:`evalroom.domain.scoring.evaluate` (the method, the bids' figures, the floating point
and every final sheet) next to the ranking it must reproduce. Its digest is the SHA-256 of
its RFC 8785 canonical JSON; each expert signs a command carrying that digest, so a
signature binds the exact report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crypto.canonical import canonical_json
from evalroom.domain.commands import Command, Decision
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, Ranking, evaluate
from evalroom.domain.session_state import (
    Phase,
    Session,
    optional_text,
    plain_copy,
    text_field,
)

RATING_RANGE = range(1, 6)


def report_digest(report: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(report))).hexdigest()


def fail_reasons(s: Session) -> dict[str, Any]:
    """否决理由: bid -> criterion -> expert -> the reason each fail verdict gave."""
    reasons: dict[str, Any] = {}
    for expert in s.committee:
        for bid, row in s.s["verdicts"].get(expert, {}).items():
            for criterion, verdict in row.items():
                if not verdict["pass"]:
                    at = reasons.setdefault(bid, {}).setdefault(criterion, {})
                    at[expert] = verdict["reason"]
    return reasons


def aggregate(s: Session) -> None:
    """汇总排序: evaluate the sheets under the method, draw up the report, open the signing."""
    figures = [
        BidFigures.from_dict({k: v for k, v in b.items() if k != "company"}) for b in s.s["bids"]
    ]
    fp = s.s["floating_point"]
    sheets = s.sheets()
    ranking = evaluate(
        s.method, figures, sheets, None if fp is None else Decimal(fp), chair=s.s["chair"]
    )
    report = _report(s, ranking, [sheet.to_dict() for sheet in sheets])
    s.s.update(report=report, report_digest=report_digest(report), signatures={})
    s.emit("session.ranking", {"report": report, "report_digest": s.s["report_digest"]})
    s.move_to(Phase.SIGNING)


def _report(s: Session, ranking: Ranking, sheets: list[dict[str, Any]]) -> dict[str, Any]:
    record = s.s["draw"]["record"]
    companies = {b["bid_id"]: b["company"] for b in s.s["bids"]}
    report = {
        "session": s.cmd.stream,
        "tender": s.s["tender"],
        "section": s.s["section"],
        "method": s.s["method"],
        "floating_point": s.s["floating_point"],
        "deviation_threshold": s.s["deviation_threshold"],
        "bids": s.s["bids"],
        # 否决投标 at the opening (by the control price): not evaluated, listed with reasons.
        **({"rejected_bids": s.s["rejected"]} if s.s.get("rejected") else {}),
        "draw": {k: record[k] for k in ("seed_commitment", "pool_digest", "request_digest")},
        "committee": [
            {"expert": e, **m, "chair": e == s.s["chair"]} for e, m in s.committee.items()
        ],
        "withdrawn": [{"expert": e, **w} for e, w in s.s["withdrawn"].items()],
        "sheets": sheets,
        "ranking": ranking.to_dict(),
        "recommended": [
            {"rank": i, "bid_id": bid, "company": companies[bid]}
            for i, bid in enumerate(ranking.recommended, 1)
        ],
        "expert_totals": _expert_totals(sheets),
        "fail_reasons": fail_reasons(s),
        "deviations": [
            {**d, "reason": s.s["deviation_reasons"][d["expert"]][d["bid"]][d["criterion"]]}
            for d in s.s["deviations"]
        ],
        "revisions": s.s["revisions"],
        "clarifications": [{"id": cid, **c} for cid, c in s.s["clarifications"].items()],
        "gobacks": s.s["gobacks"],
    }
    copied: dict[str, Any] = plain_copy(report)  # shares nothing with the working state
    return copied


def _expert_totals(sheets: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each expert's own total per bid: the sum of their scores (before any aggregation)."""
    return {
        sheet["expert_id"]: {
            bid: format(sum((Decimal(v) for v in row.values()), Decimal(0)), "f")
            for bid, row in sheet["scores"].items()
        }
        for sheet in sheets
    }


def sign_report(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.sign_report``: an expert signs the report's digest, dissent recorded (signed).

    The last signature closes the session and announces the recommended candidates (评定分离:
    the award is the tenderer's, outside the session).
    """
    s = Session(state, cmd)
    expert = s.expert(Phase.SIGNING)
    digest = cmd.body.get("report_digest")
    if digest != s.s["report_digest"]:
        raise RuleError("report_changed", "the digest is not the report under signature")
    if expert in s.s["signatures"]:
        raise RuleError("already_signed", "you signed this report")
    dissent = optional_text(cmd.body, "dissent")
    s.s["signatures"][expert] = {"dissent": dissent, "at": s.now}
    payload = {"expert": expert, "report_digest": digest, "dissent": dissent}
    s.emit("session.report_signed", payload, signed=True)
    s.progress("signing", len(s.s["signatures"]), len(s.committee))
    if len(s.s["signatures"]) == len(s.committee):
        s.move_to(Phase.CLOSED)
        s.emit("session.closed", {"recommended": s.s["report"]["recommended"]})
        final = {k: s.s[k] for k in ("report", "report_digest", "signatures")}
        s.emit("session.report_final", final)
    return s.decision()


def rate_expert(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.rate_expert``: after closing, the agency and each supervisor rate each expert
    once (1 to 5); the service feeds ratings into the pool's credit."""
    s = Session(state, cmd)
    s.require_phase(Phase.CLOSED)
    expert = s.member(text_field(cmd.body, "expert"))
    score = cmd.body.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or score not in RATING_RANGE:
        raise RuleError("rating_out_of_range", "a rating is a whole number from 1 to 5")
    mine = s.s["ratings"].setdefault(cmd.actor.user_id, {})
    if expert in mine:
        raise RuleError("already_rated", f"you rated {expert}")
    role = Role.SUPERVISOR if Role.SUPERVISOR in cmd.actor.roles else Role.AGENCY
    rating = {"score": score, "comment": optional_text(cmd.body, "comment"), "role": role.value}
    mine[expert] = {**rating, "at": s.now}
    s.emit("session.expert_rated", {"expert": expert, **rating})
    return s.decision()
