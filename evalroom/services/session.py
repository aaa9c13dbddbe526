"""Evaluation session commands (评标): schemas, and the impure steps around the deciders —
the pool snapshot for the draw, the expert's signature at check-in, revoking a withdrawn
expert's role, and feeding ratings into credit (一标一评)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from crypto.events import check_in_statement
from crypto.keys import KeyFormatError, VerifyKey
from evalroom.db import Conn, handover
from evalroom.db.events import StoredEvent
from evalroom.db.experts import expert_pool, rate_expert
from evalroom.db.identity import User, get_user, revoke_seat
from evalroom.domain import session
from evalroom.domain.commands import Decision
from evalroom.domain.rules import RuleError
from evalroom.errors import Refusal
from evalroom.services.spec import (
    Body,
    CommandSpec,
    Empty,
    ServiceContext,
    specs_from,
)

Short = Field(min_length=1, max_length=64)
Long = Field(min_length=1, max_length=2000)
Score = Field(min_length=1, max_length=12, pattern=r"^\d{1,6}(\.\d{1,2})?$")


class Venue(Body):
    id: str = Short
    name: str = Short
    region: str = Short
    seats: int = Field(ge=1, le=200)
    main: bool = False


class Create(Body):
    """The session's rules. Its bids are not among them: they come from the tender's signed
    opening record, read inside the transaction (``gather_handover``)."""

    tender: str = Short
    section: str = Short
    venues: list[Venue] = Field(min_length=1, max_length=20)
    method: dict[str, Any]
    floating_point: str | None = Field(default=None, max_length=12)
    deviation_threshold: str | None = Field(default=None, max_length=8)
    start_wait: int | None = Field(default=None, ge=1, le=86400 * 7)
    resume_wait: int | None = Field(default=None, ge=1, le=86400 * 7)
    draw: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _no_bids(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bids" in data:  # a Refusal passes through pydantic
            raise Refusal(
                "bids_not_accepted",
                "bids: a session's bids come only from the tender's signed opening record",
            )
        return data


class CommitSeed(Body):
    commitment: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
    pool_digest: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class Draw(Body):
    seed: str = Field(min_length=32, max_length=256, pattern=r"^[0-9a-f]+$")


class Conflict(Body):
    reason: str = Long
    expert: str | None = Field(default=None, max_length=64)


class CheckIn(Body):
    expert: str = Short
    seat: str = Short
    expert_signature: str = Field(min_length=10, max_length=200)


class Candidate(Body):
    candidate: str = Short


class Verdict(Body):
    bid: str = Short
    criterion: str = Short
    pass_: bool = Field(alias="pass")
    reason: str | None = Field(default=None, max_length=2000)


class ClosePhase(Body):
    phase: str = Short


class ScoreBody(Body):
    bid: str = Short
    criterion: str = Short
    score: str = Score
    reason: str | None = Field(default=None, max_length=2000)


class Revise(Body):
    bid: str = Short
    criterion: str = Short
    score: str = Score
    reason: str = Long


class DeviationReason(Body):
    bid: str = Short
    criterion: str = Short
    reason: str = Long


class Ask(Body):
    company: str = Short
    question: str = Long
    deadline_seconds: int = Field(ge=1, le=86400 * 7)


class ById(Body):
    id: str = Short


class RejectById(Body):
    id: str = Short
    reason: str = Long


class AnswerBody(Body):
    id: str = Short
    answer: str = Long


class GobackRequest(Body):
    to_phase: str = Short
    reason: str = Long


class ReasonBody(Body):
    reason: str = Long


class Warn(Body):
    text: str = Long
    expert: str | None = Field(default=None, max_length=64)


class TextBody(Body):
    text: str = Long


class VenueBody(Body):
    venue: str = Short


class TendererDecision(Body):
    decision: str = Field(pattern=r"^(continue|reschedule)$")
    reason: str | None = Field(default=None, max_length=2000)


class SignReport(Body):
    report_digest: str = Field(min_length=64, max_length=64)
    dissent: str | None = Field(default=None, max_length=4000)


class Rate(Body):
    expert: str = Short
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


# -- method rules in the session ---------------------------------------------------------


class ArithmeticErrors(Body):
    bid: str = Short
    errors: int = Field(ge=0, le=999)
    reason: str | None = Field(default=None, max_length=2000)


class PriceScores(Body):
    scores: dict[str, str] = Field(min_length=1, max_length=200)
    basis: str = Long


class CorrectionRequest(Body):
    kind: str = Field(pattern=r"^(score|base_price)$")
    expert: str | None = Field(default=None, max_length=64)
    bid: str | None = Field(default=None, max_length=64)
    criterion: str | None = Field(default=None, max_length=64)
    corrected: str = Field(min_length=1, max_length=24)  # a decimal; the decider reads it
    reason: str = Long


class RankVote(Body):
    bids: list[str] = Field(min_length=1, max_length=200)


async def pool_snapshot(ctx: ServiceContext) -> dict[str, Any]:
    return {"experts": await expert_pool(ctx.pool)}


async def prepare_pool(
    ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    return {"pool": await pool_snapshot(ctx)}


async def prepare_check_in(
    ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    expert = await get_user(ctx.pool, body["expert"])
    if expert is None:
        raise RuleError("identity_unverified", "no such expert")
    try:
        key = VerifyKey.from_string(expert.signing_key)
    except KeyFormatError:
        raise RuleError("identity_unverified", "the expert has no usable key") from None
    ok = key.verify(
        check_in_statement(stream, body["expert"], body["seat"]), body["expert_signature"]
    )
    if not ok:
        raise RuleError("identity_unverified", "the expert's signature does not verify")
    return {"expert_signature_ok": True}


async def revoke_withdrawn(
    ctx: ServiceContext, conn: Conn, decision: Decision, stored: Sequence[StoredEvent]
) -> dict[str, Any]:
    """A withdrawn expert keeps no role in the session (its live subscriptions lapse)."""
    for expert in decision.state.get("withdrawn", {}):
        await revoke_seat(conn, expert, stored[0].stream if stored else "")
    return {}


async def feed_credit(
    ctx: ServiceContext, conn: Conn, decision: Decision, stored: Sequence[StoredEvent]
) -> dict[str, Any]:
    """A rating moves the expert's credit: a running mean of ratings scaled to 0..100."""
    for event in stored:
        if event.type != "session.expert_rated":
            continue
        score = Decimal(int(event.payload["score"])) * 20
        await rate_expert(conn, event.payload["expert"], score)
    return {}


async def gather_handover(
    ctx: ServiceContext, conn: Conn, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    """What ``session.create`` decides on, read under the tender's row lock: the tender's
    signed opening record(s) and its other sessions (开标记录移交)."""
    tender = _parent(body)
    if not await handover.lock_tender_for_handover(conn, tender):
        raise RuleError("unknown_stream", tender)
    return {
        "opening_records": await handover.opening_records(conn, tender),
        "sessions": await handover.sessions_of(conn, tender),
    }


def _nobody(body: dict[str, Any]) -> list[str]:
    return []


def _parent(body: dict[str, Any]) -> str:
    return f"tender:{body['tender']}"


BODIES: dict[str, type[Body]] = {
    "session.create": Create,
    "session.commit_seed": CommitSeed,
    "session.draw": Draw,
    "session.declare_conflict": Conflict,
    "session.check_in": CheckIn,
    "session.vote_chair": Candidate,
    "session.preliminary": Verdict,
    "session.close_phase": ClosePhase,
    "session.score": ScoreBody,
    "session.submit_scores": Empty,
    "session.revise_score": Revise,
    "session.deviation_reason": DeviationReason,
    "session.goback_request": GobackRequest,
    "session.goback_approve": Empty,
    "session.goback_reject": ReasonBody,
    "session.clarify_ask": Ask,
    "session.clarify_approve": ById,
    "session.clarify_reject": RejectById,
    "session.clarify_answer": AnswerBody,
    "session.sign_report": SignReport,
    "session.rate_expert": Rate,
    "session.pause": ReasonBody,
    "session.resume": Empty,
    "session.warn": Warn,
    "session.annotate": TextBody,
    "session.venue_lost": VenueBody,
    "session.venue_restored": VenueBody,
    "session.tenderer_decision": TendererDecision,
    "session.clock": Empty,
    # method rules in the session
    "session.arithmetic_errors": ArithmeticErrors,
    "session.price_scores": PriceScores,
    "session.price_scores_approve": Empty,
    "session.price_scores_reject": ReasonBody,
    "session.correction_request": CorrectionRequest,
    "session.correction_approve": Empty,
    "session.correction_reject": ReasonBody,
    "session.rank_vote": RankVote,
}

SPECS: list[CommandSpec] = specs_from(
    session.DECIDERS,
    session.COMMAND_ROLES,
    "session",
    BODIES,
    signed={name: True for name in session.SIGNED},
    creates_stream={"session.create": True},
    parent_of={"session.create": _parent},
    prepare={
        "session.draw": prepare_pool,
        "session.declare_conflict": prepare_pool,
        "session.check_in": prepare_check_in,
    },
    gather={"session.create": gather_handover},
    finish={"session.declare_conflict": revoke_withdrawn, "session.rate_expert": feed_credit},
    # The drawn come from the pool snapshot (``facts["pool"]``); only the roster is looked up.
    grants_to={"session.draw": _nobody, "session.declare_conflict": _nobody},
)
