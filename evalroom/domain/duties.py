"""Separation of duties (职责分离): who appoints whom, and which roles one person or one
organisation may never hold together in a tender — as data, with one pure check that every
grant goes through.

Three tables, written out in ``docs/domain.md``:

- :data:`EXCLUSIVE`: one user, or one organisation, holds at most one of these roles in a
  tender and its sessions (agency, tenderer, bidder, expert, supervisor, site operator,
  keyholder). :data:`CONFLICTS` lists every pair with the reason it may not meet.
- :data:`APPOINTMENTS`: which role may grant which role, through which command, in which of
  the tender's phases. Supervisors are appointed only by the supervising authority
  (行政监督部门, the platform role ``authority``); site operators by the trading centre (the
  platform ``admin``); keyholders are named by the agency in the tender's rules; experts come
  from the draw only; a bidder company registers itself (报名).
- Nobody grants a role to themselves. A participant of the tender (the agency) grants nothing
  to its own organisation; the platform's authorities appoint their own staff, which is their
  job, and the conflict table still keeps those staff out of every other role.
- The 定标委员会 (``award_member``, 评定分离) is the tenderer's own staff, named by the
  tenderer: it may share the tenderer's organisation, and no other role of the tender.

Expert avoidance (回避) applies to every grant as it does to the draw: an expert employed by,
or declaring a relation to, a bidder company never sits in that company's tender, whichever
of the two roles comes first.

The deciders receive what the check needs as ``Command.facts["duties"]`` (looked up by the
pipeline inside the command's transaction, see :func:`Roster.from_facts`); nothing here does
I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evalroom.domain.commands import Actor
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError

# The tender's phases (see ``evalroom.domain.tender``), repeated here to keep this module a leaf.
PHASES = ("draft", "bidding", "opening", "opened", "evaluation", "closed")
OPEN_PHASES = frozenset(PHASES) - {"closed"}

SELF = "self"  # the recipient appoints itself: a bidder company registers (报名)
DRAW = "draw"  # the random draw appoints: experts (抽取)

EXCLUSIVE: tuple[Role, ...] = (
    Role.AGENCY,
    Role.TENDERER,
    Role.BIDDER,
    Role.EXPERT,
    Role.SUPERVISOR,
    Role.OPERATOR,
    Role.KEYHOLDER,
)

# A role that is a part of another for the conflicts: the chair is one of the experts.
DUTY_OF: Mapping[str, str] = {Role.CHAIR: Role.EXPERT}


def _pair(a: Role, b: Role) -> frozenset[str]:
    return frozenset({a, b})


# Every pair of exclusive roles, with why one user or organisation may not hold both.
CONFLICTS: Mapping[frozenset[str], str] = {
    _pair(Role.AGENCY, Role.TENDERER): "the agency acts for the tenderer under contract",
    _pair(Role.AGENCY, Role.BIDDER): "the agency runs the procedure it would bid in",
    _pair(Role.AGENCY, Role.EXPERT): "the agency must leave the evaluation (代理退出评标室)",
    _pair(Role.AGENCY, Role.SUPERVISOR): "the agency would supervise itself and see blind scores",
    _pair(Role.AGENCY, Role.OPERATOR): "the agency would run the venues it must leave",
    _pair(Role.AGENCY, Role.KEYHOLDER): "the agency made the opening key; its shares go elsewhere",
    _pair(Role.TENDERER, Role.BIDDER): "the buyer would bid for its own contract",
    _pair(Role.TENDERER, Role.EXPERT): "the tenderer's staff are avoided by the draw",
    _pair(Role.TENDERER, Role.SUPERVISOR): "the tenderer would supervise its own tender",
    _pair(Role.TENDERER, Role.OPERATOR): "the tenderer would check in the experts",
    _pair(Role.TENDERER, Role.KEYHOLDER): "the tenderer could open bids early with the agency",
    _pair(Role.BIDDER, Role.EXPERT): "a bidder would evaluate its own bid",
    _pair(Role.BIDDER, Role.SUPERVISOR): "a bidder would see every competitor",
    _pair(Role.BIDDER, Role.OPERATOR): "a bidder would watch the committee's venue",
    _pair(Role.BIDDER, Role.KEYHOLDER): "a bidder could open its competitors' bids",
    _pair(Role.EXPERT, Role.SUPERVISOR): "an expert would approve its own clarifications",
    _pair(Role.EXPERT, Role.OPERATOR): "an expert would check itself in",
    _pair(Role.EXPERT, Role.KEYHOLDER): "an expert would have opened the bids it scores",
    _pair(Role.SUPERVISOR, Role.OPERATOR): "the supervisor watches the venues' operators",
    _pair(Role.SUPERVISOR, Role.KEYHOLDER): "the supervisor confirms the keyholders",
    _pair(Role.OPERATOR, Role.KEYHOLDER): "a venue's operator would hold an opening share",
    # 定标委员会 (评定分离): the tenderer's own people, apart from everyone who ran, bid in,
    # evaluated or watched the procedure.
    _pair(Role.AWARD_MEMBER, Role.AGENCY): "the agency runs the procedure, the tenderer awards",
    _pair(Role.AWARD_MEMBER, Role.BIDDER): "a bidder would award its own contract",
    _pair(Role.AWARD_MEMBER, Role.EXPERT): "the committee recommends, others award (评定分离)",
    _pair(Role.AWARD_MEMBER, Role.SUPERVISOR): "the supervisor watches the award it would vote in",
    _pair(Role.AWARD_MEMBER, Role.OPERATOR): "a venue's operator would award what it hosted",
    _pair(Role.AWARD_MEMBER, Role.KEYHOLDER): "a keyholder opened the bids it would award",
}


@dataclass(frozen=True)
class Appointment:
    """``by`` may grant ``role`` through ``command`` while the tender is in ``phases``.

    ``by`` is a role in the tender, a platform role when ``platform`` holds, or one of
    :data:`SELF` and :data:`DRAW`. ``phases`` is None where the session's own phase rules
    decide (the draw).
    """

    role: Role
    command: str
    by: str
    platform: bool = False
    phases: frozenset[str] | None = None
    # The appointer names its own organisation's staff: the tenderer its 定标委员会.
    own_staff: bool = False


DRAFT = frozenset({"draft"})
APPOINTMENTS: tuple[Appointment, ...] = (
    # An agency registered on the platform (checked as the command's sender) creates the
    # tender and so becomes its agency.
    Appointment(Role.AGENCY, "tender.create", SELF, phases=DRAFT),
    # Keyholders are named in the tender's rules, before anyone can bid.
    Appointment(Role.KEYHOLDER, "tender.create", Role.AGENCY, phases=DRAFT),
    Appointment(Role.KEYHOLDER, "tender.configure", Role.AGENCY, phases=DRAFT),
    # The tenderer's representatives: by the agency before bidding opens (so no refusal can
    # tell it who bids), or by the platform (organisation registration) at any time.
    Appointment(Role.TENDERER, "tender.grant", Role.AGENCY, phases=DRAFT),
    Appointment(Role.TENDERER, "tender.grant", Role.ADMIN, platform=True, phases=OPEN_PHASES),
    # Supervisors: the supervising authority only, never the agency or the tenderer.
    Appointment(Role.SUPERVISOR, "tender.grant", Role.AUTHORITY, platform=True, phases=OPEN_PHASES),
    # Site operators: the venues' trading centre, through the platform's admin.
    Appointment(Role.OPERATOR, "tender.grant", Role.ADMIN, platform=True, phases=OPEN_PHASES),
    # A bidder company registers itself while bidding is open.
    Appointment(Role.BIDDER, "tender.join", SELF, phases=frozenset({"bidding"})),
    # Experts come from the draw and its replacements only.
    Appointment(Role.EXPERT, "session.draw", DRAW),
    Appointment(Role.EXPERT, "session.declare_conflict", DRAW),
    # The 定标委员会: the tenderer names its own members once the session closed (the
    # award's rules decide the phase, so no tender phase is listed).
    Appointment(Role.AWARD_MEMBER, "award.setup", Role.TENDERER, own_staff=True),
)


def appointers(role: str, command: str) -> list[Appointment]:
    return [a for a in APPOINTMENTS if a.role == role and a.command == command]


@dataclass(frozen=True)
class Person:
    """A registered user as the duties see them: organisation, and the pool's record."""

    user_id: str
    org: str | None = None
    employer: str | None = None  # 工作单位, for an expert of the pool
    relations: frozenset[str] = frozenset()  # companies an expert declared a relation to

    @property
    def orgs(self) -> frozenset[str]:
        return frozenset(o for o in (self.org, self.employer) if o)

    @classmethod
    def from_dict(cls, user_id: str, d: Mapping[str, Any]) -> Person:
        return cls(
            user_id,
            d.get("org") or None,
            d.get("employer") or None,
            frozenset(d.get("relations") or ()),
        )


@dataclass(frozen=True)
class Holding:
    """One role a person holds in the tender or one of its sessions."""

    person: Person
    role: str
    scope: str

    @property
    def duty(self) -> str:
        return DUTY_OF.get(self.role, self.role)


@dataclass(frozen=True)
class Roster:
    """Who holds what in one tender and its sessions, and the registered people a command
    names (a user absent from ``people`` is not registered)."""

    holdings: tuple[Holding, ...] = ()
    people: Mapping[str, Person] | None = None

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Roster:
        """``facts["duties"]``: ``{"holdings": [{user, role, scope, org, employer,
        relations}], "people": {user: {org, employer, relations}}}``."""
        raw = facts.get("duties")
        if not isinstance(raw, Mapping):
            raise RuleError("internal", "the tender's roles were not looked up for this grant")
        holdings = tuple(
            Holding(Person.from_dict(str(h["user"]), h), str(h["role"]), str(h["scope"]))
            for h in raw.get("holdings", [])
        )
        people = {str(u): Person.from_dict(str(u), p) for u, p in raw.get("people", {}).items()}
        return cls(holdings, people)

    def person(self, user_id: str) -> Person:
        found = (self.people or {}).get(user_id)
        if found is None:
            raise RuleError("unknown_user", f"{user_id} is not registered on the platform")
        return found

    def with_grant(self, person: Person, role: str, scope: str) -> Roster:
        """The roster after a grant, for a decision that grants several roles in turn."""
        return Roster((*self.holdings, Holding(person, role, scope)), self.people)


def _holds(actor: Actor, appointment: Appointment) -> bool:
    if appointment.by in (DRAW, SELF):  # the procedure itself; SELF: checked on the recipient
        return True
    if appointment.platform:
        return appointment.by in actor.platform_roles
    return appointment.by in actor.roles


def _names(appointments: Iterable[Appointment]) -> str:
    return " or ".join(
        sorted({f"{a.by}{' (platform)' if a.platform else ''}" for a in appointments})
    )


def check_grant(
    role: str,
    recipient: str,
    *,
    command: str,
    actor: Actor,
    phase: str | None,
    roster: Roster,
    recipient_as: Person | None = None,
) -> Person:
    """Refuse (``RuleError``) a grant of ``role`` to ``recipient`` by ``actor`` through
    ``command`` in the tender's ``phase``, or return the recipient as a :class:`Person`.

    In order: the role is granted by this command at all (``not_grantable``); the actor is
    its appointer (``not_appointer``); the phase (``wrong_phase``); the recipient is
    registered (``unknown_user``); not oneself, nor, for an appointer inside the tender, one's
    own organisation (``self_grant``); no conflicting role held by the same user or
    organisation (``conflict_of_roles``); expert avoidance against bidder companies
    (``conflict_of_interest``). ``recipient_as`` stands for a person not looked up as a user
    (an expert of the draw's pool snapshot).
    """
    candidates = appointers(role, command)
    if not candidates:
        raise RuleError("not_grantable", f"{role!r} is not granted by {command}")
    mine = [a for a in candidates if _holds(actor, a)]
    if not mine:
        raise RuleError("not_appointer", f"{role} is appointed by {_names(candidates)}")
    if phase is not None and not any(a.phases is None or phase in a.phases for a in mine):
        allowed = sorted({p for a in mine for p in (a.phases or ())})
        raise RuleError("wrong_phase", f"{role} is granted in {', '.join(allowed)}; now {phase}")
    person = recipient_as or roster.person(recipient)
    by_self = any(a.by == SELF for a in mine)
    if by_self and recipient != actor.user_id:
        raise RuleError("self_grant", f"only the participant itself registers as {role}")
    if not by_self:
        _not_oneself(person, actor, mine)
    _no_conflict(person, role, roster)
    _avoidance(person, role, roster)
    return person


def _not_oneself(person: Person, actor: Actor, mine: list[Appointment]) -> None:
    if person.user_id == actor.user_id:
        raise RuleError("self_grant", "nobody grants a role to themselves")
    inside = all(not a.platform and a.by != DRAW and not a.own_staff for a in mine)
    if inside and actor.org and actor.org in person.orgs:
        raise RuleError("self_grant", "nobody grants a role to their own organisation")


def _no_conflict(person: Person, role: str, roster: Roster) -> None:
    duty = DUTY_OF.get(role, role)
    for held in roster.holdings:
        reason = CONFLICTS.get(frozenset({duty, held.duty}))
        if reason is None:
            continue
        if held.person.user_id == person.user_id:
            who = "this user"
        elif held.person.orgs & person.orgs:
            who = "this user's organisation"
        else:
            continue
        raise RuleError(
            "conflict_of_roles", f"{who} is {held.role} in this tender, so not {role}: {reason}"
        )


def _avoidance(person: Person, role: str, roster: Roster) -> None:
    """回避: an expert and a bidder company it works for or is related to never meet."""
    duty = DUTY_OF.get(role, role)
    for held in roster.holdings:
        if {duty, held.duty} != {Role.EXPERT, Role.BIDDER}:
            continue
        expert, bidder = (person, held.person) if duty == Role.EXPERT else (held.person, person)
        companies = bidder.orgs
        if expert.employer in companies or expert.relations & companies:
            raise RuleError(
                "conflict_of_interest",
                "an expert employed by or related to a bidder company must avoid (回避) it",
            )


def first_conflict(
    role: str, person: Person, *, command: str, actor: Actor, roster: Roster
) -> RuleError | None:
    """Why ``person`` may not take ``role`` (a draw's seat), or None."""
    try:
        check_grant(
            role,
            person.user_id,
            command=command,
            actor=actor,
            phase=None,
            roster=roster,
            recipient_as=person,
        )
    except RuleError as refusal:
        return refusal
    return None


def check_holding(role: str, recipient: str, roster: Roster) -> Person:
    """The rules about the recipient alone (registered, no conflicting role, avoidance), for
    a grant made outside the commands: the platform administrator's ``evalroom admin grant``,
    which answers for the appointment itself."""
    person = roster.person(recipient)
    _no_conflict(person, role, roster)
    _avoidance(person, role, roster)
    return person
