"""The browser's reducers (clients/web/js/tender.js, session.js) and the Python folds
(clients/folds/) give the same state on the same event streams.

The streams are in tests/data/streams/ (one tender with its opening; one session with bids
rejected and flagged by the control price, closed and followed by its award (定标), and one
session closed by 否决所有投标). The two sides keep different shapes, so each is projected onto
the concepts both hold. Needs ``node``; without it the browser half skips visibly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView

ROOT = Path(__file__).resolve().parent.parent
STREAMS = Path(__file__).resolve().parent / "data" / "streams"
JS = ROOT / "clients" / "web" / "js"
NODE = shutil.which("node")

# Reads the events from stdin, folds them with the page's reducer, prints the state.
RUNNER = """
import { readFileSync } from "node:fs";
const [kind, me] = process.argv.slice(2);
const events = JSON.parse(readFileSync(0, "utf8"));
const mod = await import(kind === "tender" ? "./tender.mjs" : "./session.mjs");
const state = kind === "tender" ? mod.emptyTender() : mod.emptySession();
for (const ev of events) {
  if (kind === "tender") mod.foldTender(state, ev);
  else mod.foldSession(state, ev, me);
}
process.stdout.write(JSON.stringify(state));
"""


def _events(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((STREAMS / f"{name}.json").read_text("utf-8"))
    return events


def _browser(kind: str, events: list[dict[str, Any]], tmp: Path, me: str = "") -> Any:
    if NODE is None:
        pytest.skip("node is not installed: the browser's reducers are not checked")
    # Copied as .mjs: the page's modules are ES modules without a package.json saying so.
    shutil.copy(JS / f"{kind}.js", tmp / f"{kind}.mjs")
    (tmp / "run.mjs").write_text(RUNNER, "utf-8")
    done = subprocess.run(
        [NODE, str(tmp / "run.mjs"), kind, me],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp,
    )
    return json.loads(done.stdout)


def test_the_tender_fold_and_the_browser_agree(tmp_path: Path) -> None:
    events = _events("tender")
    view = CeremonyView("tender:T1")
    for event in events:
        view.apply(event)
    js = _browser("tender", events, tmp_path)

    stage = view.current
    assert stage is not None
    python: dict[str, Any] = {
        "phase": view.phase,
        "stage": view.stage,
        "config": view.config,
        "bids": {n: b.status for n, b in stage.bids.items()},
        "mine": stage.mine,
        "window_closed": stage.window_closed,
        "signed_in": sorted(stage.signed_in),
        "read_out": [e["number"] for e in stage.read_out or []],
        "objections": {o.id: o.answer for o in stage.objections.values()},
        "confirmed": sorted(stage.confirmed),
        "record_signed": sorted(stage.signed_by),
        "record": stage.record,
    }
    browser = {
        "phase": js["phase"],
        "stage": js["stage"],
        "config": js["config"],
        "bids": {n: b["status"] for n, b in js["bids"].items()},
        "mine": js["mine"],
        "window_closed": bool(js.get("windowClosed")),
        "signed_in": sorted(js["signedIn"]),
        "read_out": [e["number"] for e in js["readOut"] or []],
        "objections": {o["id"]: o.get("answer") for o in js["objections"]},
        "confirmed": sorted(js["confirmed"]),
        "record_signed": sorted(js["recordSigned"]),
        "record": js["record"],
    }
    assert python == browser
    # The stream is not trivial: the opening ran to its record.
    assert python["phase"] == "opened" and python["objections"] == {
        "O1": "Checked, correct",
        "O2": None,
    }
    # Only the Python fold keeps the opening's commitment to the bid streams.
    assert [c["stream"] for c in view.committed] == [
        "bid:T1.0123456789abcdef0123",
        "bid:T1.fedcba9876543210fedc",
    ]


def _award(view: SessionView) -> dict[str, Any] | None:
    a = view.award
    if a is None:
        return None
    return {
        "phase": a.phase,
        "method": a.method,
        "candidates": [c["bid_id"] for c in a.candidates],
        "members": a.members,
        "chair": a.chair,
        "draw": a.draw,
        "names": a.names,
        "signed_in": a.signed_in,
        "progress": {s: list(v) for s, v in a.progress.items()},
        "seed_commitment": a.seed_commitment,
        "voting": a.voting,
        "rounds": a.rounds,
        "votes": {v: {str(r): c for r, c in rs.items()} for v, rs in a.votes.items()},
        "finalists": a.finalists,
        "lot": a.lot,
        "decision": a.decision,
        "digest": a.award_digest,
        "signatures": a.signatures,
        "publicity": a.publicity,
        "objections": {o: (v.get("company"), v.get("answer")) for o, v in a.objections.items()},
        "publicity_closed": a.publicity_closed,
        "notice": a.notice,
        "winner": a.winner,
    }


def _award_js(a: Any) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "phase": a["phase"],
        "method": a["method"],
        "candidates": [c["bid_id"] for c in a["candidates"]],
        "members": a["members"],
        "chair": a["chair"],
        "draw": a["draw"],
        "names": a["names"],
        "signed_in": a["signedIn"],
        "progress": {s: [v["done"], v["of"]] for s, v in a["progress"].items()},
        "seed_commitment": a["seedCommitment"],
        "voting": a["voting"],
        "rounds": a["rounds"],
        "votes": a["votes"],
        "finalists": a["finalists"],
        "lot": a["lot"],
        "decision": a["decision"],
        "digest": a["digest"],
        "signatures": a["signatures"],
        "publicity": a["publicity"],
        "objections": {o["id"]: (o.get("company"), o.get("answer")) for o in a["objections"]},
        "publicity_closed": a["publicityClosed"],
        "notice": a["notice"],
        "winner": (a["notice"] or a["publicity"] or a["report"] or {}).get("winner"),
    }


@pytest.mark.parametrize("name", ["session", "session_rejected"])
def test_the_session_fold_and_the_browser_agree(tmp_path: Path, name: str) -> None:
    events = _events(name)
    view = SessionView("session:S1")
    for event in events:
        view.apply(event)
    js = _browser("session", events, tmp_path, me="e1")

    python: dict[str, Any] = {
        "phase": view.phase,
        "opening_record": view.opening_record,
        "bids": view.bids,
        "rejected": view.rejected,
        "flagged": view.flagged,
        "few_valid": view.few_valid,
        "all_rejected": view.all_rejected,
        "venues": sorted(view.venues),
        "criteria": [c["id"] for c in view.criteria],
        "committee": sorted(view.committee),
        "rosters": {v: [m["expert"] for m in ms] for v, ms in view.rosters.items()},
        "checked_in": sorted(view.checked_in),
        "chair": view.chair,
        "passed": view.passed,
        "scores": view.scores,
        "deviations": view.deviations,
        "report_digest": view.report_digest,
        "signed": sorted(view.signatures),
        "progress": {s: list(v) for s, v in view.progress.items()},
        "paused": view.pause is not None,
        "clarifications": {c: v["status"] for c, v in view.clarifications.items()},
        "goback": view.goback,
        "award": _award(view),
    }
    browser = {
        "phase": js["phase"],
        "opening_record": js["openingRecord"],
        "bids": js["bids"],
        "rejected": js["rejected"],
        "flagged": js["flagged"],
        "few_valid": js["fewValid"],
        "all_rejected": js["allRejected"],
        "venues": sorted(js["venues"]),
        "criteria": [c["id"] for c in js["method"]["criteria"]],
        "committee": sorted(m["expert"] for m in js["committee"]),
        "rosters": {v: [m["expert"] for m in ms] for v, ms in js["rosters"].items()},
        "checked_in": sorted(js["checkedIn"]),
        "chair": js["chair"],
        "passed": js["passed"],
        "scores": js["scores"],
        "deviations": js["deviations"],
        "report_digest": js["digest"] or None,
        "signed": sorted(js["signed"]),
        "progress": {s: [v["done"], v["of"]] for s, v in js["progress"].items()},
        "paused": js["pause"] is not None,
        "clarifications": {c: v["status"] for c, v in js["clarifications"].items()},
        "goback": js["goback"],
        "award": _award_js(js["award"]),
    }
    assert python == browser
    if name == "session_rejected":
        # Closed by 否决所有投标: the bid rejected at the opening and the recorded decision.
        assert python["phase"] == "closed" and python["all_rejected"] is True
        assert [r["bid_id"] for r in python["rejected"]] == ["N03"]
        assert python["few_valid"] is not None and python["few_valid"]["decision"] == "reject_all"
        return
    # The stream is not trivial: the session closed, and its award ran to the notice.
    assert python["phase"] == "closed" and python["clarifications"] == {
        "Q1": "answered",
        "Q2": "rejected",
    }
    assert [r["bid_id"] for r in python["rejected"]] == ["B03"]
    assert [f["bid_id"] for f in python["flagged"]] == ["B02"]
    award = python["award"]
    assert award is not None and award["phase"] == "awarded"
    assert award["finalists"] == ["B01", "B04"] and award["lot"]["pick"] == "B04"
    assert [c for c, _answer in award["objections"].values()] == ["acme", "bolt"]
    assert award["winner"] is not None and award["winner"]["bid_id"] == "B04"
