"""Every event type's audience is declared once, in the domain's table, with no default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalroom.domain.commands import NewEvent
from evalroom.domain.visibility import (
    EVENTS,
    UndeclaredEvent,
    check_sources,
    describe,
    emitted_types,
    visibility_of,
)
from evalroom.services.registry import SERVICE_EVENTS, check_event_declarations

DOCS = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def test_an_undeclared_event_type_cannot_be_emitted() -> None:
    with pytest.raises(UndeclaredEvent, match="no declared audience"):
        NewEvent("tender.secret_added", {"x": 1})


def test_an_event_has_no_visibility_parameter_to_choose() -> None:
    with pytest.raises(TypeError):
        NewEvent("tender.notice", {"text": "t"}, "supervisor")  # type: ignore[misc]


def test_the_start_up_check_names_an_emitted_type_missing_from_the_table() -> None:
    source = 'def f(s):\n    s.emit("session.leaked", {})\n    return NewEvent("bid.status", {})\n'
    assert emitted_types(source) == {"session.leaked", "bid.status"}
    with pytest.raises(UndeclaredEvent, match="session.leaked"):
        check_sources([source])


def test_every_type_the_domain_emits_is_declared_and_every_declared_type_is_emitted() -> None:
    check_event_declarations()  # raises if the domain emits an undeclared type
    import inspect
    import pkgutil
    from importlib import import_module

    import evalroom.domain

    emitted = set(SERVICE_EVENTS)
    for info in pkgutil.iter_modules(evalroom.domain.__path__):
        emitted |= emitted_types(inspect.getsource(import_module(f"evalroom.domain.{info.name}")))
    assert set(EVENTS) == emitted, "stale or missing entries in the visibility table"


def test_a_parametrised_audience_comes_from_the_payload() -> None:
    assert NewEvent("bid.submitted", {"org": "co-a"}).visibility == "org:co-a"
    assert visibility_of("session.venue_roster", {"venue": "v2"}) == "venue:v2"


def test_a_parametrised_audience_without_its_field_is_refused() -> None:
    with pytest.raises(UndeclaredEvent, match="org"):
        visibility_of("bid.submitted", {"section": "S1"})


@pytest.mark.parametrize(
    ("type_", "payload", "expected"),
    [
        ("opening.signed_in", {"who": "co-a", "as": "bidder"}, "org:co-a"),
        ("opening.signed_in", {"who": "agent-1", "as": "staff"}, "staff"),
        ("session.warning", {"expert": None, "to": "committee"}, "committee"),
        ("session.warning", {"expert": "e-1", "to": "expert"}, "user:e-1"),
        ("session.score_revised", {"expert": "e-1", "revealed": False}, "user:e-1"),
        ("session.score_revised", {"expert": "e-1", "revealed": True}, "committee"),
        ("session.clarification_answered", {"company": "co-a", "to": "bidder"}, "org:co-a"),
        ("session.clarification_answered", {"company": "co-a", "to": "committee"}, "committee"),
    ],
)
def test_a_switch_picks_the_audience_from_the_payload(
    type_: str, payload: dict[str, object], expected: str
) -> None:
    assert visibility_of(type_, payload) == expected


def test_a_switch_with_an_unknown_case_is_refused() -> None:
    with pytest.raises(UndeclaredEvent):
        visibility_of("opening.signed_in", {"who": "co-a"})


def test_the_protocol_document_states_the_table_of_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Who receives each event type", 1)[1]
    rows = re.findall(r"^\| `([a-z_.]+)` \| (.+) \|$", section, flags=re.M)
    assert dict(rows) == {t: describe(t) for t in EVENTS}
