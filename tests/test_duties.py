"""Separation of duties (职责分离) as a pure matrix: every role a command could grant, by every
kind of actor, in every phase of the tender, to every kind of recipient — self-grants,
colleagues of the actor, holders of each conflicting role and their colleagues, experts who
must avoid a bidder, and unregistered users.

The expected answers come from this file's own tables, written from ``docs/domain.md``, not
from :mod:`evalroom.domain.duties`: a change to the domain's tables that the documentation
does not share fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from evalroom.domain.bids import DECIDERS as BIDS
from evalroom.domain.commands import Actor, Command, Decision
from evalroom.domain.draw import DrawRequest, ExpertPool, commit_seed, pool_digest, verify_draw
from evalroom.domain.duties import Person, Roster, check_holding, first_conflict
from evalroom.domain.opening import DECIDERS as OPENING
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.session_committee import record_from_dict
from evalroom.domain.tender import DECIDERS as TENDER
from tests.test_session_domain import (
    AGENCY,
    POOL,
    SEED,
    Room,
    committed,
    created,
    pool_expert,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
STREAM = "tender:T1"
SESSION = "session:T1-S1"
PHASES = ["draft", "bidding", "opening", "opened", "evaluation", "closed"]
OPEN = set(PHASES) - {"closed"}

# docs/domain.md, "Roles that may not meet": one user or organisation holds at most one.
EXCLUSIVE = ["agency", "tenderer", "bidder", "expert", "supervisor", "operator", "keyholder"]
# docs/domain.md, "Who appoints whom": (role, command) -> (appointer, platform role?, phases).
APPOINTS: dict[tuple[str, str], list[tuple[str, bool, set[str]]]] = {
    ("supervisor", "tender.grant"): [("authority", True, OPEN)],
    ("tenderer", "tender.grant"): [("agency", False, {"draft"}), ("admin", True, OPEN)],
    ("operator", "tender.grant"): [("admin", True, OPEN)],
    ("bidder", "tender.join"): [("self", False, {"bidding"})],
    ("keyholder", "tender.configure"): [("agency", False, {"draft"})],
}


@dataclass(frozen=True)
class Someone:
    user: str
    org: str | None
    role: str | None = None  # held in the tender (experts: in its session)
    platform: str | None = None  # held in the platform scope
    employer: str | None = None
    relations: tuple[str, ...] = ()


# The world: one holder of each role, a colleague without a role for some, outsiders.
WORLD = [
    Someone("agency-u", "AgencyCo", role="agency"),
    Someone("agency-mate", "AgencyCo"),
    Someone("tenderer-u", "OwnerCo", role="tenderer"),
    Someone("owner-mate", "OwnerCo"),
    Someone("bidder-u", "BidCo", role="bidder"),
    Someone("bid-mate", "BidCo"),
    Someone("expert-u", None, role="expert", employer="Uni", relations=("RelCo",)),
    Someone("uni-staff", "Uni"),
    Someone("rel-u", "RelCo"),
    Someone("sup-u", "Office", role="supervisor"),
    Someone("op-u", "Centre", role="operator"),
    Someone("kh-u", "KeyCo", role="keyholder"),
    Someone("kh-mate", "KeyCo"),
    Someone("authority-u", "Office", platform="authority"),
    Someone("admin-u", "Centre", platform="admin"),
    Someone("outsider", "FreeCo"),
    Someone("loner", None),
]
BY_USER = {p.user: p for p in WORLD}
GHOST = "ghost-unregistered"
RECIPIENTS = [p.user for p in WORLD] + [GHOST]
ACTORS = [p for p in WORLD if p.role or p.platform]


def orgs(p: Someone) -> set[str]:
    return {o for o in (p.org, p.employer) if o}


def facts() -> dict[str, Any]:
    """What the pipeline would look up for this world."""

    def person(p: Someone) -> dict[str, Any]:
        return {"org": p.org, "employer": p.employer, "relations": list(p.relations)}

    holdings = [
        {"user": p.user, "role": p.role, "scope": SESSION if p.role == "expert" else STREAM}
        | person(p)
        for p in WORLD
        if p.role
    ]
    return {"duties": {"holdings": holdings, "people": {p.user: person(p) for p in WORLD}}}


def actor_of(p: Someone) -> Actor:
    return Actor(
        p.user,
        frozenset({p.role} if p.role else set()),
        p.org,
        platform_roles=frozenset({p.platform} if p.platform else set()),
    )


def state_in(phase: str) -> dict[str, Any]:
    return {"phase": phase, "title": "t", "agency": "agency-u", "bidders": {"BidCo": {}}}


# --- the expected answer, from the tables above -------------------------------------------


def expected(
    actor: Someone,
    role: str,
    command: str,
    phase: str,
    recipient: str,
    world: list[Someone] = WORLD,
) -> str:
    """The answer to granting ``role`` to ``recipient``, in a tender whose holdings are
    ``world`` (a user holding two roles appears twice)."""
    ways = APPOINTS.get((role, command))
    if not ways:
        return "not_grantable"
    mine = [
        (by, platform, phases)
        for by, platform, phases in ways
        if by == "self" or by == (actor.platform if platform else actor.role)
    ]
    if not mine:
        return "not_appointer"
    if not any(phase in w[2] for w in mine):
        return "wrong_phase"
    if recipient == GHOST:
        return "unknown_user"
    target = BY_USER[recipient]
    if all(w[0] != "self" for w in mine):
        if recipient == actor.user:
            return "self_grant"
        inside = all(not w[1] for w in mine)
        if inside and actor.org and actor.org in orgs(target):
            return "self_grant"
    return conflict(target, role, world)


def conflict(target: Someone, role: str, world: list[Someone] = WORLD) -> str:
    for holder in world:
        if holder.role is None or holder.role == role or role not in EXCLUSIVE:
            continue
        if holder.user == target.user or orgs(holder) & orgs(target):
            return "conflict_of_roles"
    for holder in world:
        pair = {role, holder.role}
        if pair == {"expert", "bidder"}:
            expert, company = (target, holder) if role == "expert" else (holder, target)
            if (expert.employer in orgs(company)) or set(expert.relations) & orgs(company):
                return "conflict_of_interest"
    return "ok"


# --- the deciders, as the pipeline calls them ---------------------------------------------


def decide(deciders: Mapping[str, Any], state: dict[str, Any], cmd: Command) -> str:
    try:
        decision: Decision = deciders[cmd.type](state, cmd)
    except RuleError as refusal:
        return refusal.code
    assert decision.grants, "an accepted grant grants"
    return "ok"


def grant(actor: Someone, role: str, phase: str, recipient: str) -> str:
    body = {"user": recipient, "role": role, "venue": ""}
    cmd = Command("tender.grant", STREAM, body, actor_of(actor), NOW, facts=facts())
    return decide(TENDER, state_in(phase), cmd)


CONFIG = {
    "sections": [{"id": "S1", "name": "一标段"}],
    "opening_at": "2026-12-01T09:30:00+08:00",
    "failure_rule": "reject",
    "opening_recipient": "age1example",
    "forms": {"single": [{"name": "price", "type": "decimal", "required": True}]},
}


def configure(actor: Someone, phase: str, recipient: str) -> str:
    body = {"config": {**CONFIG, "keyholders": [recipient]}}
    cmd = Command("tender.configure", STREAM, body, actor_of(actor), NOW, facts=facts())
    return decide(OPENING, state_in(phase), cmd)


def join(actor: Someone, phase: str) -> str:
    """A company joins in its own bid stream (BidCo's holds its registration already); the
    tender's state comes as a fact, as the pipeline reads it."""
    own = {"tender": STREAM, "org": "BidCo", "by": "bidder-u", "bids": {}}
    state = own if actor.org == "BidCo" else {}
    tender = {"tender": state_in(phase), "tender_stream": STREAM}
    cmd = Command("tender.join", "bid:T.0", {}, actor_of(actor), NOW, facts=facts() | tender)
    return decide(BIDS, state, cmd)


GRANT_CASES = list(itertools.product(ACTORS, [r.value for r in Role], PHASES, RECIPIENTS))


def test_the_matrix_covers_every_actor_role_phase_and_recipient() -> None:
    assert len(GRANT_CASES) == 9 * 11 * 6 * 18  # actors × roles × phases × recipients
    outcomes = {expected(a, r, "tender.grant", ph, u) for a, r, ph, u in GRANT_CASES}
    # Every kind of answer occurs, so the matrix tests each rule, not only the first.
    assert outcomes == {
        "ok",
        "not_grantable",
        "not_appointer",
        "wrong_phase",
        "unknown_user",
        "self_grant",
        "conflict_of_roles",
    }


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("actor", ACTORS, ids=lambda p: p.user)
def test_every_grant_answers_as_the_tables_say(actor: Someone, phase: str) -> None:
    wrong = [
        (role.value, recipient, got, want)
        for role in Role
        for recipient in RECIPIENTS
        if (got := grant(actor, role.value, phase, recipient))
        != (want := expected(actor, role.value, "tender.grant", phase, recipient))
    ]
    assert wrong == []


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("actor", ACTORS, ids=lambda p: p.user)
def test_every_keyholder_named_in_the_rules_answers_as_the_tables_say(
    actor: Someone, phase: str
) -> None:
    for recipient in RECIPIENTS:
        want = expected(actor, "keyholder", "tender.configure", phase, recipient)
        if phase != "draft":
            want = "wrong_phase"  # the rules change in the draft only, whoever asks
        assert configure(actor, phase, recipient) == want, recipient


@pytest.mark.parametrize("phase", PHASES)
def test_every_company_joining_answers_as_the_tables_say(phase: str) -> None:
    for p in WORLD:
        if phase != "bidding":
            want = "wrong_phase"
        elif not p.org:
            want = "not_a_company"
        elif p.org == "BidCo":
            want = "already_exists"
        else:
            want = expected(p, "bidder", "tender.join", phase, p.user)
        assert join(p, phase) == want, p.user


def test_the_agency_cannot_make_itself_supervisor() -> None:
    agency = BY_USER["agency-u"]
    assert grant(agency, "supervisor", "draft", "agency-u") == "not_appointer"
    assert grant(agency, "supervisor", "evaluation", "agency-mate") == "not_appointer"
    # Appointed by the authority, the agency is still refused: it holds a conflicting role.
    authority = BY_USER["authority-u"]
    assert grant(authority, "supervisor", "evaluation", "agency-u") == "conflict_of_roles"
    assert grant(authority, "supervisor", "evaluation", "agency-mate") == "conflict_of_roles"
    assert grant(authority, "supervisor", "evaluation", "outsider") == "ok"


@pytest.mark.parametrize("phase", sorted(OPEN))
def test_only_the_supervising_authority_appoints_supervisors(phase: str) -> None:
    for actor in ACTORS:
        got = grant(actor, "supervisor", phase, "outsider")
        assert (got == "ok") == (actor.platform == "authority"), actor.user


def test_nobody_grants_a_role_to_themselves() -> None:
    for actor, role, phase in itertools.product(ACTORS, [r.value for r in Role], PHASES):
        assert grant(actor, role, phase, actor.user) != "ok", (actor.user, role, phase)
    assert configure(BY_USER["agency-u"], "draft", "agency-u") == "self_grant"


def test_the_agency_grants_nothing_to_its_own_organisation() -> None:
    agency = BY_USER["agency-u"]
    assert grant(agency, "tenderer", "draft", "agency-mate") == "self_grant"
    assert configure(agency, "draft", "agency-mate") == "self_grant"
    assert grant(agency, "tenderer", "draft", "loner") == "ok"
    assert configure(agency, "draft", "loner") == "ok"


def test_the_platform_authorities_appoint_their_own_staff() -> None:
    """The authority's supervisors and the trading centre's operators are their own staff."""
    staff = Someone("office-staff", "Office")
    centre = Someone("centre-staff", "Centre")
    extra = facts()
    for p in (staff, centre):
        extra["duties"]["people"][p.user] = {"org": p.org, "employer": None, "relations": []}
    for appointer, role, who in (
        ("authority-u", "supervisor", staff),
        ("admin-u", "operator", centre),
    ):
        body = {"user": who.user, "role": role}
        cmd = Command("tender.grant", STREAM, body, actor_of(BY_USER[appointer]), NOW, facts=extra)
        assert decide(TENDER, state_in("bidding"), cmd) == "ok"


def roster_with(holder: Someone) -> Roster:
    return Roster.from_facts(
        {
            "duties": {
                "holdings": [
                    {
                        "user": holder.user,
                        "role": holder.role,
                        "scope": STREAM,
                        "org": holder.org,
                        "employer": holder.employer,
                        "relations": list(holder.relations),
                    }
                ],
                "people": {u: {"org": "SharedCo"} for u in ("holder", "colleague", "stranger")},
            }
        }
    )


@pytest.mark.parametrize("first,second", list(itertools.permutations(EXCLUSIVE, 2)))
def test_every_conflicting_pair_is_refused_both_ways_for_the_user_and_the_organisation(
    first: str, second: str
) -> None:
    roster = roster_with(Someone("holder", "SharedCo", role=first))
    for recipient in ("holder", "colleague"):
        with pytest.raises(RuleError) as refused:
            check_holding(second, recipient, roster)
        assert refused.value.code == "conflict_of_roles"
    check_holding(first, "colleague", roster)  # the same role twice in one company is fine
    other = roster_with(Someone("holder", "OtherCo", role=first))
    check_holding(second, "stranger", other)


def test_an_expert_and_the_bidder_it_must_avoid_never_meet_whichever_comes_first() -> None:
    system = Actor("system", frozenset({"system"}))
    related = Person("e-1", None, "SomeUni", frozenset({"BidCo"}))
    employed = Person("e-2", None, "BidCo")
    free = Person("e-3", None, "SomeUni", frozenset({"OtherCo"}))
    bidder = Roster.from_facts(facts())  # BidCo has joined
    codes = {}
    for expert in (related, employed, free):
        refusal = first_conflict(
            "expert", expert, command="session.draw", actor=system, roster=bidder
        )
        codes[expert.user_id] = refusal.code if refusal else "ok"
    assert codes == {"e-1": "conflict_of_interest", "e-2": "conflict_of_roles", "e-3": "ok"}
    # The other way: a related expert sits first, then the related company joins.
    assert join(BY_USER["rel-u"], "bidding") == "conflict_of_interest"
    assert join(BY_USER["uni-staff"], "bidding") == "conflict_of_roles"  # the expert's employer


def test_creating_a_tender_checks_the_keyholders_its_rules_name() -> None:
    people = {
        "agency-new": {"org": "AgencyCo2"},
        "agency-new-mate": {"org": "AgencyCo2"},
        "kh-a": {"org": None},
    }

    def create(keyholders: list[str]) -> str:
        body = {"title": "t", "config": {**CONFIG, "keyholders": keyholders}}
        actor = Actor(
            "agency-new", frozenset({"agency"}), "AgencyCo2", platform_roles=frozenset({"agency"})
        )
        cmd = Command(
            "tender.create", "tender:T2", body, actor, NOW, facts={"duties": {"people": people}}
        )
        return decide(TENDER, {}, cmd)

    assert create(["kh-a"]) == "ok"
    assert create(["agency-new"]) == "self_grant"
    assert create(["agency-new-mate"]) == "self_grant"
    assert create(["nobody-registered"]) == "unknown_user"


def test_a_drawn_expert_holding_another_role_is_replaced_and_the_draw_still_verifies() -> None:
    plain = committed(created())
    plain.send(
        "session.draw",
        Actor("sup-1", frozenset({"supervisor"})),
        {"seed": SEED.hex()},
        {"pool": POOL.to_dict()},
    )
    first, second = list(plain.state["committee"])[:2]
    employer = next(e.employer for e in POOL.experts if e.id == second)
    holdings = [
        {"user": first, "role": "keyholder", "scope": "tender:T1"},  # the same user
        {
            "user": "kh-9",
            "role": "keyholder",
            "scope": "tender:T1",
            "org": employer,
        },  # its employer
    ]
    room: Room = committed(created())
    room.send(
        "session.draw",
        Actor("sup-1", frozenset({"supervisor"})),
        {"seed": SEED.hex()},
        {"pool": POOL.to_dict(), "duties": {"holdings": holdings}},
    )
    committee = set(room.state["committee"])
    assert first not in committee and second not in committee and len(committee) == 5
    assert first not in room.granted and second not in room.granted
    record = record_from_dict(room.state["draw"]["record"])
    assert {r.withdrawn_expert_id for r in record.replacements} == {first, second}
    assert all(r.reason.startswith("conflict_of_roles") for r in record.replacements)
    verify_draw(POOL, DrawRequest.from_dict(room.state["draw_request"]), SEED, record)


def test_a_replacement_in_conflict_is_itself_replaced_and_only_the_seated_one_is_granted() -> None:
    pool = ExpertPool((*POOL.experts, pool_expert("X7", "西安")))

    def drawn_room() -> Room:
        room = created()
        body = {"commitment": commit_seed(SEED), "pool_digest": pool_digest(pool)}
        room.send("session.commit_seed", AGENCY, body)
        room.send("session.draw", AGENCY, {"seed": SEED.hex()}, {"pool": pool.to_dict()})
        return room

    def withdraw(room: Room, holdings: list[dict[str, Any]]) -> str:
        gone = next(
            e
            for e, m in room.state["committee"].items()
            if m["specialty"] == "土建" and m["venue"] == "xa"
        )
        body = {"reason": "与投标人存在利害关系"}
        facts = {"pool": pool.to_dict(), "duties": {"holdings": holdings}}
        room.send("session.declare_conflict", room.actor(gone), body, facts)
        (redrawn,) = room.events("session.redrawn")
        return str(redrawn.payload["replacement"])

    plain = withdraw(drawn_room(), [])
    room = drawn_room()
    seated = withdraw(room, [{"user": plain, "role": "operator", "scope": "tender:T1"}])
    assert seated != plain and seated in room.experts and plain not in room.experts
    assert seated in room.granted and plain not in room.granted
    record = record_from_dict(room.state["draw"]["record"])
    assert record.replacements[-1].reason.startswith("conflict_of_roles")
    verify_draw(pool, DrawRequest.from_dict(room.state["draw_request"]), SEED, record)
