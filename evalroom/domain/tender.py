"""A tender's life (招标项目): creation, roles, publication, notices.

Pure: ``decide(state, command) -> Decision``. The opening ceremony and bids extend this
module's phases; the spine needs creation, role grants, publication and notices.
Phases: draft -> bidding -> opening -> opened -> evaluation -> closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evalroom.domain.commands import Command, CreateStream, Decision, GrantRole, NewEvent
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError

PHASES = ("draft", "bidding", "opening", "opened", "evaluation", "closed")
GRANTABLE = frozenset({Role.SUPERVISOR, Role.TENDERER, Role.OPERATOR})

Decider = Callable[[Mapping[str, Any], Command], Decision]


def _require_phase(state: Mapping[str, Any], *phases: str) -> None:
    if state.get("phase") not in phases:
        raise RuleError(
            "wrong_phase", f"allowed in {', '.join(phases)}; the tender is {state.get('phase')}"
        )


def create(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.create``: an agency registered on the platform opens a new tender."""
    if state:
        raise RuleError("already_exists", f"{cmd.stream} exists")
    body = dict(cmd.body)
    new_state = {"phase": "draft", "title": body["title"], "agency": cmd.actor.user_id}
    created = Decision(
        events=[NewEvent("tender.created", {"title": body["title"], **new_state})],
        state=new_state,
        grants=[GrantRole(cmd.actor.user_id, cmd.stream, Role.AGENCY)],
        create=[CreateStream(cmd.stream, "tender")],
    )
    if not body.get("config"):
        return created
    from evalroom.domain.opening import configure

    configured = configure(new_state, cmd)
    return Decision(
        events=created.events + configured.events,
        state=configured.state,
        grants=created.grants + configured.grants,
        create=created.create,
    )


def grant(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.grant``: the agency names the supervisors, tenderer and site operators."""
    if state.get("phase") == "closed":
        raise RuleError("wrong_phase", "the tender is closed")
    role = str(cmd.body["role"])
    if role not in GRANTABLE:
        raise RuleError("invalid", f"role {role!r} cannot be granted here")
    user, venue = str(cmd.body["user"]), str(cmd.body.get("venue", ""))
    payload = {"user": user, "role": role, "venue": venue}
    return Decision(
        events=[NewEvent("role.granted", payload)],
        state=state,
        grants=[GrantRole(user, cmd.stream, role, venue)],
    )


def join(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.join``: a bidder company registers (报名) while bidding is open.

    Bidders' identities stay hidden from everyone but supervisors until the read-out, so
    the event is visible to the company itself (and supervisors) only.
    """
    _require_phase(state, "bidding")
    org = cmd.actor.org
    if not org:
        raise RuleError("not_a_company", "only a participant of a bidder company can join")
    bidders = dict(state.get("bidders", {}))
    if org in bidders:
        raise RuleError("already_exists", f"{org} already joined")
    bidders[org] = {"by": cmd.actor.user_id}
    return Decision(
        events=[NewEvent("bidder.joined", {"org": org, "user": cmd.actor.user_id})],
        state={**state, "bidders": bidders},
        grants=[GrantRole(cmd.actor.user_id, cmd.stream, Role.BIDDER)],
    )


def publish(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.publish``: bidding opens (发布招标公告)."""
    _require_phase(state, "draft")
    return Decision(
        events=[NewEvent("tender.published", {"phase": "bidding"})],
        state={**state, "phase": "bidding"},
    )


def notice(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.notice``: an announcement every participant of the tender sees."""
    if state.get("phase") == "closed":
        raise RuleError("wrong_phase", "the tender is closed")
    return Decision(events=[NewEvent("tender.notice", {"text": cmd.body["text"]})], state=state)


def annotate(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.annotate``: a supervisor's note, seen by supervisors only."""
    return Decision(
        events=[NewEvent("supervisor.note", {"text": cmd.body["text"]}, signed=True)],
        state=state,
    )


DECIDERS: dict[str, Decider] = {
    "tender.create": create,
    "tender.grant": grant,
    "tender.join": join,
    "tender.publish": publish,
    "tender.notice": notice,
    "tender.annotate": annotate,
}

# Who may send each command, in the tender's scope (``tender.create``: the platform scope).
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "tender.create": frozenset({Role.AGENCY}),
    "tender.grant": frozenset({Role.AGENCY}),
    "tender.join": frozenset({"*"}),
    "tender.publish": frozenset({Role.AGENCY}),
    "tender.notice": frozenset({Role.AGENCY, Role.SUPERVISOR}),
    "tender.annotate": frozenset({Role.SUPERVISOR}),
}
