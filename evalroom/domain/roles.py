"""Roles (角色) and who may see what: the permission table of docs/domain.md as data.

A role is held in a scope (a tender or a session), never platform-wide except ``admin`` (the
trading centre that runs the platform), ``authority`` (the supervising authority, 行政监督部门,
which appoints supervisors) and the platform-level ``agency`` registration that lets an agency
create tenders. Who may grant which role to whom: :mod:`evalroom.domain.duties`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENCY = "agency"  # 招标代理
    TENDERER = "tenderer"  # 招标人
    BIDDER = "bidder"  # 投标人
    EXPERT = "expert"  # 评标专家
    CHAIR = "chair"  # 组长
    SUPERVISOR = "supervisor"  # 监督
    OPERATOR = "operator"  # 场地管理员 (site operator)
    KEYHOLDER = "keyholder"  # 开标密钥保管人: holds one share of a tender's opening key
    AWARD_MEMBER = "award_member"  # 定标委员会成员: the tenderer's award committee (评定分离)
    ADMIN = "admin"  # the trading centre running the platform (交易中心): site operators
    AUTHORITY = "authority"  # 行政监督部门: appoints supervisors, held in the platform scope


ALL_ROLES = frozenset(Role)
PLATFORM_ONLY = frozenset({Role.ADMIN, Role.AUTHORITY})  # never held in a tender or session
COMMITTEE = frozenset({Role.EXPERT, Role.CHAIR})


class Visibility(StrEnum):
    """Who receives an event. Parametrised classes add ``:<value>``: ``org:<company>``,
    ``user:<id>``. Supervisors see every class (监督 watches everything)."""

    PUBLIC = "public"  # everyone holding a role in the stream, bidders included
    STAFF = "staff"  # everyone but bidders
    COMMITTEE = "committee"  # experts, chair, supervisors
    SUPERVISOR = "supervisor"  # supervisors only
    ACTOR = "actor"  # the event's actor and supervisors
    ORG = "org"  # one bidder company and supervisors: org:<company>
    USER = "user"  # one participant and supervisors: user:<id>
    VENUE = "venue"  # one venue's operator and experts, and supervisors: venue:<id>
    AWARD = "award"  # the 定标委员会 and the tenderer (and supervisors): the award's votes


def parse_visibility(value: str) -> tuple[Visibility, str]:
    kind, _, arg = value.partition(":")
    vis = Visibility(kind)
    needs_arg = vis in (Visibility.ORG, Visibility.USER, Visibility.VENUE)
    if needs_arg != bool(arg):
        raise ValueError(f"visibility {value!r} is malformed")
    return vis, arg


def may_see(
    visibility: str,
    *,
    roles: frozenset[str],
    user_id: str,
    org: str | None,
    venues: frozenset[str],
    event_actor: str | None,
) -> bool:
    """Whether a participant holding ``roles`` in a stream may receive an event."""
    if Role.SUPERVISOR in roles:
        return True
    vis, arg = parse_visibility(visibility)
    if vis is Visibility.PUBLIC:
        return bool(roles)
    if vis is Visibility.STAFF:
        return bool(roles - {Role.BIDDER})
    if vis is Visibility.COMMITTEE:
        return bool(roles & COMMITTEE)
    if vis is Visibility.SUPERVISOR:
        return False
    if vis is Visibility.ACTOR:
        return event_actor is not None and event_actor == user_id
    if vis is Visibility.ORG:
        return Role.BIDDER in roles and org == arg
    if vis is Visibility.USER:
        return user_id == arg
    if vis is Visibility.AWARD:
        return bool(roles & {Role.AWARD_MEMBER, Role.TENDERER})
    if vis is Visibility.VENUE:
        return arg in venues and bool(roles & (COMMITTEE | {Role.OPERATOR}))
    return False
