"""What a command is to the pure domain, and what a decision returns.

The service layer validates, authorizes and loads; a pure ``decide`` function of the stream's
kind turns (state, command) into a ``Decision`` or raises ``RuleError``. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Any

from evalroom.domain.visibility import visibility_of


@dataclass(frozen=True)
class Actor:
    """The participant behind a command, as seen in the command's stream."""

    user_id: str
    roles: frozenset[str]
    org: str | None = None
    venues: frozenset[str] = frozenset()
    # Roles held in the platform scope (``authority``, ``admin``), looked up for the commands
    # a platform role may send into a tender (appointments).
    platform_roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Command:
    type: str
    stream: str
    body: Mapping[str, Any]
    actor: Actor
    now: datetime
    sig: str | None = None
    # What impure preparation established (e.g. a decryption's outcome), for the decider.
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewEvent:
    """An event a decision adds. Its audience is not chosen here: ``visibility`` comes from
    the one table in ``evalroom.domain.visibility`` (an undeclared type is refused)."""

    type: str
    payload: Mapping[str, Any]
    _: KW_ONLY
    signed: bool = False  # carries the command's signature (the actor signed it)
    visibility: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", visibility_of(self.type, self.payload))


@dataclass(frozen=True)
class GrantRole:
    """A side effect: give ``user_id`` a role in ``scope`` (kept in the roles projection)."""

    user_id: str
    scope: str
    role: str
    venue: str = ""


@dataclass(frozen=True)
class CreateStream:
    name: str
    kind: str
    parent: str | None = None
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    events: list[NewEvent]
    state: Mapping[str, Any]
    grants: list[GrantRole] = field(default_factory=list)
    create: list[CreateStream] = field(default_factory=list)
    reply: Mapping[str, Any] = field(default_factory=dict)
