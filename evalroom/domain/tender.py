"""A tender's life (招标项目): creation, roles, publication, notices.

Pure: ``decide(state, command) -> Decision``. The opening ceremony and bids extend this
module's phases; the spine needs creation, role grants, publication and notices. A bidder
company's registration (``tender.join``) lives in its own stream: ``evalroom.domain.bids``.
Phases: draft -> bidding -> opening -> opened -> evaluation -> closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from evalroom.domain.commands import Command, CreateStream, Decision, GrantRole, NewEvent
from evalroom.domain.duties import Roster, check_grant
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError

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
    roster = Roster.from_facts(cmd.facts)
    agency = check_grant(
        Role.AGENCY,
        cmd.actor.user_id,
        command=cmd.type,
        actor=cmd.actor,
        phase="draft",
        roster=roster,
    )
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

    # The keyholders are checked as named by the tender's agency, which it now is.
    as_agency = replace(cmd, actor=replace(cmd.actor, roles=cmd.actor.roles | {Role.AGENCY}))
    configured = configure(new_state, as_agency, roster.with_grant(agency, Role.AGENCY, cmd.stream))
    return Decision(
        events=created.events + configured.events,
        state=configured.state,
        grants=created.grants + configured.grants,
        create=created.create,
    )


def grant(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.grant``: an appointer names a participant (:mod:`evalroom.domain.duties`):
    the supervising authority appoints supervisors, the platform's admin site operators, the
    agency (before bidding opens) or the admin the tenderer's representatives."""
    role = str(cmd.body["role"])
    user, venue = str(cmd.body["user"]), str(cmd.body.get("venue", ""))
    check_grant(
        role,
        user,
        command=cmd.type,
        actor=cmd.actor,
        phase=str(state.get("phase")),
        roster=Roster.from_facts(cmd.facts),
    )
    payload = {"user": user, "role": role, "venue": venue}
    return Decision(
        events=[NewEvent("role.granted", payload)],
        state=state,
        grants=[GrantRole(user, cmd.stream, role, venue)],
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
    "tender.publish": publish,
    "tender.notice": notice,
    "tender.annotate": annotate,
}

# Who may send each command, in the tender's scope (``tender.create``: the platform scope).
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "tender.create": frozenset({Role.AGENCY}),
    "tender.grant": frozenset({Role.AGENCY}),  # and the platform roles below
    "tender.publish": frozenset({Role.AGENCY}),
    "tender.notice": frozenset({Role.AGENCY, Role.SUPERVISOR}),
    "tender.annotate": frozenset({Role.SUPERVISOR}),
}

# Platform roles that may also send a command into a tender: the appointers of
# :data:`evalroom.domain.duties.APPOINTMENTS` who hold no role in the tender itself.
PLATFORM_ROLES: dict[str, frozenset[str]] = {
    "tender.grant": frozenset({Role.AUTHORITY, Role.ADMIN}),
}
