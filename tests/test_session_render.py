"""The session's renderer: one formatter per event type, in zh-CN and English (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.cli_common import Out
from clients.folds.session import SessionView
from clients.render.session import FORMATTERS, SessionRender

STREAM = Path(__file__).resolve().parent / "data" / "streams" / "session.json"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_recorded_event_reads_as_its_own_line(lang: str) -> None:
    out = Out(lang)
    render = SessionRender(out, me="e1")
    view = SessionView("session:S1")
    for event in json.loads(STREAM.read_text("utf-8")):
        view.apply(event)
        assert event["type"] in FORMATTERS
        line = render.event_line(event, view)
        assert line is not None and not line.endswith(event["type"]), event["type"]
    # A type without a formatter still reads, as "other event".
    line = render.event_line({"type": "session.unheard_of", "payload": {}}, view)
    assert line is not None and line.endswith("session.unheard_of")
    # The view the lines were rendered with sums up.
    assert any(view.name("e1") in line for line in render.summary(view))


def test_the_table_has_one_formatter_per_session_sentence() -> None:
    # Every event type the session renders is in the table (49 session types, 1 refusal).
    assert "command.refused" in FORMATTERS
    assert sum(1 for k in FORMATTERS if k.startswith("session.")) == 49
