"""The award (定标, 评定分离) commands: schemas for the pure deciders of
:mod:`evalroom.domain.award`. They run in a closed session's stream (``session:<id>``);
``award.setup`` grants the 定标委员会, so the pipeline looks the tender's roster up for the
separation of duties (``grants_to``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from evalroom.db import Conn
from evalroom.db.sessions import user_names
from evalroom.domain import award
from evalroom.services.spec import Body, CommandSpec, Empty, ServiceContext, specs_from

Short = Field(min_length=1, max_length=64)
Long = Field(min_length=1, max_length=4000)
Hex64 = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class Method(Body):
    kind: str = Field(pattern=r"^(vote|vote_lot|deliberation|price)$")
    finalists: int | None = Field(default=None, ge=2, le=20)
    price_tie: str | None = Field(default=None, pattern=r"^(rank|vote)$")
    max_rounds: int | None = Field(default=None, ge=1, le=20)


class Draw(Body):
    panel: list[str] = Field(min_length=2, max_length=200)
    count: int = Field(ge=1, le=51)
    commitment: str = Hex64


class Setup(Body):
    method: Method
    members: list[str] = Field(default_factory=list, max_length=51)
    draw: Draw | None = None
    chair: str | None = Field(default=None, min_length=1, max_length=64)
    objection_days: int | None = Field(default=None, ge=1, le=30)
    objection_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)


class DrawMembers(Body):
    seed: str = Field(min_length=32, max_length=256, pattern=r"^[0-9a-f]+$")


class CommitSeed(Body):
    commitment: str = Hex64


class Vote(Body):
    round: int = Field(ge=1, le=100)
    candidate: str = Short


class RevealSeed(Body):
    seed: str = Field(min_length=32, max_length=256, pattern=r"^[0-9a-f]+$")


class Opinion(Body):
    candidate: str = Short
    opinion: str = Long


class Decide(Body):
    candidate: str = Short
    reasons: str = Long


class SignReport(Body):
    award_digest: str = Hex64
    dissent: str | None = Field(default=None, max_length=4000)


class Objection(Body):
    text: str = Long


class Answer(Body):
    id: str = Short
    answer: str = Long


def _members(body: dict[str, Any]) -> list[str]:
    """Everyone the set-up may make a member: the appointed, and the panel drawn from."""
    draw = body.get("draw") or {}
    return [str(m) for m in [*body.get("members", []), *draw.get("panel", [])]]


async def gather_names(
    _ctx: ServiceContext, conn: Conn, _stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The names of everyone the set-up names (appointed and panel), so the committee is
    shown by name (``facts["names"]``: user id -> name)."""
    return {"names": await user_names(conn, _members(body))}


BODIES: dict[str, type[Body]] = {
    "award.setup": Setup,
    "award.draw_members": DrawMembers,
    "award.sign_in": Empty,
    "award.commit_seed": CommitSeed,
    "award.vote": Vote,
    "award.reveal_seed": RevealSeed,
    "award.opinion": Opinion,
    "award.decide": Decide,
    "award.sign_report": SignReport,
    "award.object": Objection,
    "award.answer": Answer,
    "award.clock": Empty,
    "award.notify": Empty,
}

SPECS: list[CommandSpec] = specs_from(
    award.DECIDERS,
    award.COMMAND_ROLES,
    "session",
    BODIES,
    signed={name: True for name in award.SIGNED},
    grants_to={"award.setup": _members},
    gather={"award.setup": gather_names},
)
