"""The browser's reducers (clients/web/js/tender.js, session.js) and the Python folds
(clients/folds/) give the same state on the same event streams.

The streams are in tests/data/streams/ (one tender with its opening, one session). The two
sides keep different shapes, so each is projected onto the concepts both hold. Needs
``node``; without it the browser half skips visibly.
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
    python = {
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


def test_the_session_fold_and_the_browser_agree(tmp_path: Path) -> None:
    events = _events("session")
    view = SessionView("session:S1")
    for event in events:
        view.apply(event)
    js = _browser("session", events, tmp_path, me="e1")

    python = {
        "phase": view.phase,
        "opening_record": view.opening_record,
        "bids": view.bids,
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
    }
    browser = {
        "phase": js["phase"],
        "opening_record": js["openingRecord"],
        "bids": js["bids"],
        "venues": sorted(js["venues"]),
        "criteria": [c["id"] for c in js["method"]["criteria"]],
        "committee": sorted(m["expert"] for m in js["committee"]),
        "rosters": {v: [m["expert"] for m in ms] for v, ms in js["rosters"].items()},
        "checked_in": sorted(js["checkedIn"]),
        "chair": js["chair"],
        "passed": js["passed"],
        "scores": js["scores"],
        "deviations": js["deviations"],
        "report_digest": js["digest"],
        "signed": sorted(js["signed"]),
        "progress": {s: [v["done"], v["of"]] for s, v in js["progress"].items()},
        "paused": js["pause"] is not None,
        "clarifications": {c: v["status"] for c, v in js["clarifications"].items()},
        "goback": js["goback"],
    }
    assert python == browser
    assert python["phase"] == "signing" and python["clarifications"] == {
        "Q1": "answered",
        "Q2": "rejected",
    }
