"""What a command is to the pipeline: its schema, who may send it, its pure decider, and the
optional impure steps around the decision (``announce``, a status committed as a command of
its own before ``prepare``; ``prepare`` before the transaction; ``gather`` inside it before
the decision; ``finish`` inside it after the events are appended)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crypto.keys import SigningKey
from evalroom.bounds import check_json_bounds
from evalroom.db import Conn, Pool
from evalroom.db.events import StoredEvent
from evalroom.db.identity import User
from evalroom.domain.commands import Command, Decision

Decider = Callable[[Mapping[str, Any], Command], Decision]
Text = Field(min_length=1, max_length=2000)


class Body(BaseModel):
    """A command's body. Strict, closed, and held to ``evalroom.bounds`` before any field is
    read, so free-form members (a tender's ``config``, a session's ``method``) are bounded
    too, whoever calls the pipeline: a socket, HTTP, or the platform itself."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        check_json_bounds(data, "body")  # raises Refusal, which pydantic lets through
        return data


class Empty(Body):
    pass


class TextBody(Body):
    text: str = Text


@dataclass
class ServiceContext:
    """What impure steps may use: the pool, the platform's signing key, and node extras."""

    pool: Pool
    platform_key: SigningKey
    extras: dict[str, Any] = field(default_factory=dict)


# prepare(ctx, user, stream, body) -> facts handed to the decider as ``Command.facts``
Prepare = Callable[[ServiceContext, User, str, dict[str, Any]], Awaitable[dict[str, Any]]]
# announce(body) -> (type, body) of the status command committed first, on its own
Announce = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
# finish(ctx, conn, decision, stored events) -> extra fields for the ack's ``reply``
Finish = Callable[
    [ServiceContext, Conn, Decision, Sequence[StoredEvent]], Awaitable[dict[str, Any]]
]
# route(ctx, user, addressed stream, body) -> the stream the command runs in (a bidder's own)
Route = Callable[[ServiceContext, User, str, dict[str, Any]], Awaitable[str]]
# gather(ctx, conn, addressed stream, body) -> facts read inside the transaction, after the
# locks and once the actor is authorized
Gather = Callable[[ServiceContext, Conn, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    body: type[Body]
    roles: frozenset[str]
    decide: Decider
    stream_kind: str
    roles_in_platform: bool = False  # authorized by a platform-scope role (creating a tender)
    creates_stream: bool = False
    signed: bool = False  # the actor must sign the command; the signature stays with the event
    # Committed as a command of its own after pre-authorization and before ``prepare``, so
    # everyone sees it before long work (a bid's "decrypting"). Its decider says whether it
    # is due (a no-op when shown already); its refusal is the command's.
    announce: Announce | None = None
    prepare: Prepare | None = None
    finish: Finish | None = None
    parent_of: Callable[[dict[str, Any]], str] | None = None  # a created stream's parent
    # Platform roles that may also send it (an appointer who holds no role in the tender).
    platform_roles: frozenset[str] = frozenset()
    # The command grants roles: the users it names (besides its actor), whose registration,
    # organisation and pool record the transaction looks up with the tender's roster for the
    # decider's separation-of-duties check (``Command.facts["duties"]``).
    grants_to: Callable[[dict[str, Any]], list[str]] | None = None
    creates_kind: str | None = None  # the created stream's kind, if not ``stream_kind``
    # Addressed to ``stream_kind`` but run in the stream ``route`` names (the created one's
    # parent is then the addressed stream).
    route: Route | None = None
    # The addressed tender's bidding gate: "shared" (a bidder's own stream) or "exclusive"
    # (the opening), taken first in the transaction.
    gate: str | None = None
    # Facts that must agree with the committed state, read with the locks held: the tender
    # under its gate, every bid stream at the opening, the tender's records at a handover.
    gather: Gather | None = None

    @property
    def batchable(self) -> bool:
        """Decided with the other commands of its stream that arrive while a transaction is in
        flight, and written with them in one transaction (``services.groupcommit``): a command
        whose every step inside the transaction touches only the stream's row, its events and
        the commands table. Not one that prepares, announces, gathers, finishes, creates a
        stream, takes the bidding gate, is routed, is authorized by a platform role or names
        users to be granted roles: those run alone, as one transaction each."""
        return not (
            self.prepare
            or self.announce
            or self.finish
            or self.gather
            or self.gate
            or self.route
            or self.creates_stream
            or self.grants_to
            or self.roles_in_platform
            or self.platform_roles
        )

    def __post_init__(self) -> None:
        if self.announce is not None and self.prepare is None:
            raise ValueError(f"{self.name}: announce is committed before prepare; it has none")


def specs_from(
    module_deciders: Mapping[str, Decider],
    module_roles: Mapping[str, frozenset[str]],
    stream_kind: str,
    bodies: Mapping[str, type[Body]],
    **options: Mapping[str, Any],
) -> list[CommandSpec]:
    """Build the specs of one domain module: ``options`` maps a spec field to per-type values."""
    specs = []
    for name, decide in module_deciders.items():
        extra = {key: per_type[name] for key, per_type in options.items() if name in per_type}
        specs.append(
            CommandSpec(
                name, bodies.get(name, Empty), module_roles[name], decide, stream_kind, **extra
            )
        )
    return specs
