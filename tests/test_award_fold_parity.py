"""The award's folds agree, Python (clients/folds/award.py) and the browser's
(clients/web/js/session.js), on an award whose 定标委员会 is partly drawn from the tenderer's
panel (award.panel, award.members_drawn, names), driven through the pure deciders up to the
notice, as the tenderer receives it. Needs ``node``; without it the browser half skips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients.folds.session import SessionView
from tests.test_award_domain import PANEL
from tests.test_fold_parity import _award, _award_js, _browser
from tests.test_report_award import NAMES, awarded


def _events() -> list[dict[str, Any]]:
    room = awarded()
    return [
        {
            "seq": i,
            "type": e.type,
            "payload": dict(e.payload),
            "actor": actor,
            "at": "2026-12-10T02:00:00+00:00",
            "visibility": e.visibility,
        }
        for i, (e, actor) in enumerate(room.log, start=1)
    ]


def test_the_drawn_committee_folds_the_same_in_python_and_in_the_browser(tmp_path: Path) -> None:
    events = _events()
    view = SessionView("session:T1-S1")
    for event in events:
        view.apply(event)
    python = _award(view)
    browser = _award_js(_browser("session", events, tmp_path, "owner-1")["award"])
    assert python == browser
    assert python is not None and python["phase"] == "awarded"
    draw = python["draw"]
    assert draw["panel_size"] == 9 and draw["count"] == 3 and len(draw["drawn"]) == 3
    assert python["members"] == ["m1", "m2", *draw["drawn"]] and python["chair"] == "m1"
    assert python["names"] == {m: NAMES[m] for m in ["m1", "m2", *PANEL]}
    assert view.award is not None and view.award.name("m1") == "马志远（m1）"
