"""docs/domain.md's visibility table as data: every role against every visibility class."""

from __future__ import annotations

import pytest

from evalroom.domain.roles import PLATFORM_ONLY, Role, may_see, parse_visibility

ROLES = [r.value for r in Role if r not in PLATFORM_ONLY]

# (visibility, role) -> may see; the participant is "u1" of company "co-a" at venue "v1".
EXPECTED: dict[str, set[str]] = {
    "public": set(ROLES),
    "staff": set(ROLES) - {"bidder"},
    "committee": {"expert", "chair", "supervisor"},
    "supervisor": {"supervisor"},
    "org:co-a": {"bidder", "supervisor"},
    "org:co-b": {"supervisor"},
    "venue:v1": {"expert", "chair", "operator", "supervisor"},
    "venue:v2": {"supervisor"},
    "user:u2": {"supervisor"},
    "award": {"award_member", "tenderer", "supervisor"},
}


@pytest.mark.parametrize("visibility", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_what_the_table_allows(visibility: str, role: str) -> None:
    seen = may_see(
        visibility,
        roles=frozenset({role}),
        user_id="u1",
        org="co-a",
        venues=frozenset({"v1"}),
        event_actor="u9",
    )
    assert seen == (role in EXPECTED[visibility])


@pytest.mark.parametrize("role", ROLES)
def test_the_actor_and_the_named_user_see_their_own_events(role: str) -> None:
    kw = {"roles": frozenset({role}), "user_id": "u1", "org": None, "venues": frozenset()}
    assert may_see("actor", event_actor="u1", **kw)  # type: ignore[arg-type]
    assert may_see("user:u1", event_actor="u9", **kw)  # type: ignore[arg-type]
    assert may_see("actor", event_actor="u9", **kw) == (role == "supervisor")  # type: ignore[arg-type]


def test_no_role_in_the_stream_sees_nothing() -> None:
    for visibility in EXPECTED:
        assert not may_see(
            visibility,
            roles=frozenset(),
            user_id="u1",
            org="co-a",
            venues=frozenset({"v1"}),
            event_actor=None,
        )


@pytest.mark.parametrize("bad", ["everyone", "org:", "public:x", "venue"])
def test_a_malformed_visibility_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_visibility(bad)
