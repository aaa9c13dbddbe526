"""Tender commands (招标项目): body schemas and options for ``evalroom.domain.tender``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from evalroom.domain import tender
from evalroom.services.opening import keyholders_named
from evalroom.services.spec import Body, CommandSpec, TextBody, specs_from


class TenderCreate(Body):
    title: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)


class TenderGrant(Body):
    user: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    venue: str = Field(default="", max_length=64)


SPECS: list[CommandSpec] = specs_from(
    tender.DECIDERS,
    tender.COMMAND_ROLES,
    "tender",
    {
        "tender.create": TenderCreate,
        "tender.grant": TenderGrant,
        "tender.notice": TextBody,
        "tender.annotate": TextBody,
    },
    roles_in_platform={"tender.create": True},
    platform_roles=tender.PLATFORM_ROLES,
    grants_to={
        "tender.create": keyholders_named,
        "tender.grant": lambda body: [str(body["user"])],
    },
    creates_stream={"tender.create": True},
    signed={"tender.annotate": True},
)
