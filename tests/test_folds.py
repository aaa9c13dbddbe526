"""The pure folds (clients/folds/) keep where their facts come from: the seq of each event
type, each stage's record with who had signed it by then, the session's opening record and
bids. The verifier and the demo read these; the recorded streams are tests/data/streams/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView

STREAMS = Path(__file__).resolve().parent / "data" / "streams"


def _events(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((STREAMS / f"{name}.json").read_text("utf-8"))
    return events


def _tender(events: list[dict[str, Any]]) -> CeremonyView:
    view = CeremonyView("tender:T1")
    for event in events:
        view.apply(event)
    return view


def test_a_stage_keeps_its_record_with_its_seq_and_who_had_signed_it_by_then() -> None:
    events = _events("tender")
    view = _tender(events)
    stage = view.current
    assert stage is not None and stage.record is not None
    record = next(e for e in events if e["type"] == "opening.record")
    assert stage.record_seq == record["seq"] == view.seq_of["opening.record"]
    assert stage.record_signed_by == {"agency": "agency", "supervisor": "sup"}
    committed = next(e for e in events if e["type"] == "bids.committed")
    assert view.seq_of["bids.committed"] == committed["seq"]


def test_a_signature_after_the_record_does_not_count_as_signing_it() -> None:
    events = _events("tender")
    cut = next(i for i, e in enumerate(events) if e["type"] == "opening.record_signed")
    late = [e for e in events[cut:] if e["type"] == "opening.record_signed"]
    rest = [e for e in events[cut:] if e["type"] != "opening.record_signed"]
    stage = _tender(events[:cut] + rest + late).current
    assert stage is not None
    assert stage.record_signed_by == {} and set(stage.signed_by) == {"agency", "supervisor"}


def test_the_signer_is_the_events_actor_not_the_name_in_its_payload() -> None:
    events = _events("tender")
    forged = [
        {**e, "payload": {**e["payload"], "by": "someone-else"}}
        if e["type"] == "opening.record_signed"
        else e
        for e in events
    ]
    stage = _tender(forged).current
    assert stage is not None and stage.record_signed_by == {"agency": "agency", "supervisor": "sup"}


def test_the_session_keeps_its_opening_record_and_its_bids() -> None:
    view = SessionView("session:S1")
    for event in _events("session"):
        view.apply(event)
    assert view.opening_record == [{"seq": 24, "digest": "0123456789abcdef"}]
    assert view.bids is not None and [b["bid_id"] for b in view.bids] == ["B01", "B02"]
    assert view.seq_of["session.bids"] == 2 and view.seq_of["session.created"] == 1
    assert SessionView("session:S2").bids is None  # not seen is not "no bids"
