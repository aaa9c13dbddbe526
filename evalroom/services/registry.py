"""Every command the platform accepts: its body schema, who may send it, and its decider.

Adding a capability means adding its pure ``DECIDERS`` and ``COMMAND_ROLES`` in ``domain``
and its body schemas here; the pipeline stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evalroom.domain import tender
from evalroom.domain.commands import Command, Decision
from evalroom.domain.tender import Decider

Text = Field(min_length=1, max_length=2000)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TenderCreate(Body):
    title: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)


class TenderGrant(Body):
    user: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    venue: str = Field(default="", max_length=64)


class Empty(Body):
    pass


class TextBody(Body):
    text: str = Text


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

    def run(self, state: dict[str, Any], cmd: Command) -> Decision:
        return self.decide(state, cmd)


def _tender(type_: str, body: type[Body], **kw: Any) -> CommandSpec:
    return CommandSpec(
        type_, body, tender.COMMAND_ROLES[type_], tender.DECIDERS[type_], "tender", **kw
    )


REGISTRY: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in [
        _tender("tender.create", TenderCreate, roles_in_platform=True, creates_stream=True),
        _tender("tender.grant", TenderGrant),
        _tender("tender.join", Empty),
        _tender("tender.publish", Empty),
        _tender("tender.notice", TextBody),
        _tender("tender.annotate", TextBody, signed=True),
    ]
}
