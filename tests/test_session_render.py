"""The session's renderer: one formatter per event type, in zh-CN and English (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.cli_common import Out
from clients.folds.session import SessionView
from clients.render.session import FORMATTERS, SessionRender
from evalroom.domain.visibility import EVENTS

STREAMS = Path(__file__).resolve().parent / "data" / "streams"
STREAM = STREAMS / "session.json"


def _folded(name: str, lang: str) -> tuple[SessionRender, SessionView, list[str]]:
    render = SessionRender(Out(lang), me="e1")
    view = SessionView("session:S1")
    lines = []
    for event in json.loads((STREAMS / f"{name}.json").read_text("utf-8")):
        view.apply(event)
        line = render.event_line(event, view)
        assert line is not None
        lines.append(line)
    return render, view, lines


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
    assert sum(1 for k in FORMATTERS if k.startswith("session.")) == 50
    # The award (定标) runs in the session's stream: every award.* type has its line too.
    assert {k for k in FORMATTERS if k.startswith("award.")} == {
        k for k in EVENTS if k.startswith("award.")
    }


def test_rejected_bids_read_apart_with_their_reason_and_flagged_ones_too() -> None:
    _render, _view, lines = _folded("session", "zh-CN")
    bids = lines[1]
    assert "B01 acme 1000000.00" in bids
    assert "否决投标" in bids and "B03 cargo 1100000.00" in bids
    assert "高于最高投标限价 1050000.00 元" in bids and "低于成本价需评审" in bids
    _render, _view, lines = _folded("session", "en")
    assert "the bid price 1100000.00 is above the control price 1050000.00" in lines[1]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_session_closed_by_rejecting_every_bid_says_so(lang: str) -> None:
    render, view, lines = _folded("session_rejected", lang)
    few_valid = lines[5]
    closed, summary = lines[-1], "\n".join(render.summary(view))
    if lang == "zh-CN":
        assert "⚠ 有效投标仅 2 个（不足 3 个）" in few_valid and "否决所有投标" in few_valid
        assert "否决所有投标" in closed and "推荐中标候选人" not in closed
        assert "N03 cargo 610000.00" in summary and "本次评标无排序" in summary
    else:
        assert "⚠ only 2 valid bids (fewer than 3)" in few_valid
        assert "every bid is rejected" in few_valid
        assert "every bid rejected" in closed
        assert "N03 cargo 610000.00" in summary and "no ranking" in summary


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_award_reads_in_lines_and_its_summary_in_beijing_time(lang: str) -> None:
    render, view, lines = _folded("session", lang)
    text = "\n".join(lines)
    summary = "\n".join(render.summary(view))
    if lang == "zh-CN":
        assert "票决抽签法" in text and "第 1 轮计票：B01 acme 3、B04 delta 2" in text
        assert "抽中 B04 delta" in text and "m1 在第 1 轮投票给 B01 acme" in text
        assert "异议截止 2026-12-04 09:07:04 北京时间" in text
        assert (
            "中标人：B04 delta" in summary and "公示截止：2026-12-04 09:07:04 北京时间" in summary
        )
        assert "O2 bolt（已答复）" in summary
    else:
        assert "vote and lot" in text and "Round 1 tally: B01 acme 3" in text
        assert "it picked B04 delta" in text
        assert "objections until 2026-12-04 09:07:04 Beijing time" in text
        assert "Winner: B04 delta" in summary and "Finalists: B01 acme, B04 delta" in summary
