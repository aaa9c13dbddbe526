"""A tender and its opening (开标) folded from its events: what one participant knows.

Pure: no I/O, no click. Feed :class:`CeremonyView` the events of ``tender:<id>`` one by one
(replayed history, then live) and, for a bidder, those of its company's own ``bid:`` stream
(:meth:`CeremonyView.apply_own`); it holds what the participant may know — the rules, the
phase, the bid streams the opening committed to (``bids.committed``), each stage's bids and
their live status, the read-out, objections, confirmations, signatures. Each event type is
folded here and nowhere else on the Python side; the bidder's and the agency's CLIs decide
their next step from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RESOLVED = ("decrypted", "rejected", "withdrawn")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Bid:
    number: str
    section: str
    status: str = "waiting"
    reason: str = ""
    via: str = ""


@dataclass
class Objection:
    id: str
    org: str
    text: str
    answer: str | None = None


@dataclass
class Stage:
    """One stage of the opening (``single``, ``technical`` or ``commercial``)."""

    name: str
    window_ends: datetime
    bids: dict[str, Bid] = field(default_factory=dict)
    mine: dict[str, str] = field(default_factory=dict)  # number -> section (bidders only)
    signed_in: set[str] = field(default_factory=set)
    window_closed: bool = False
    fallback: set[str] = field(default_factory=set)
    fallback_k: int = 0
    shares: int = 0
    read_out: list[dict[str, Any]] | None = None
    read_out_at: datetime | None = None
    objections: dict[str, Objection] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    signed_by: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] | None = None
    record_seq: int = 0
    # Who had signed (role -> by) when the record came: signatures after it do not count.
    record_signed_by: dict[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Every bid is opened, rejected or withdrawn: nothing is left to decrypt."""
        return all(b.status in RESOLVED for b in self.bids.values())

    @property
    def unanswered(self) -> list[Objection]:
        return [o for o in self.objections.values() if o.answer is None]

    @property
    def orgs(self) -> set[str]:
        return {str(e["org"]) for e in self.read_out or []}


@dataclass
class CeremonyView:
    """What a participant knows of a tender's opening, from the events it may see."""

    stream: str
    config: dict[str, Any] = field(default_factory=dict)
    phase: str = "draft"
    stage: str | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    submitted: dict[tuple[str, str], str] = field(default_factory=dict)  # (section, env) -> sha
    failed_sections: set[str] = field(default_factory=set)
    # The bidder companies' own streams the opening committed to: {stream, size, root}.
    committed: list[dict[str, Any]] = field(default_factory=list)
    # A bidder's own company: its join and bids are in its own stream (``apply_own``).
    my_org: str | None = None
    last_seq: int = 0
    # The seq of the last event of each type folded, to name the event a fact comes from.
    seq_of: dict[str, int] = field(default_factory=dict)
    # method rules: 浮动点 drawn at the opening, per section: {commitment, committed_seq,
    # then choices, seed, value, drawn_seq} once drawn.
    floating_points: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def current(self) -> Stage | None:
        return self.stages.get(self.stage) if self.stage else None

    @property
    def opening_at(self) -> datetime | None:
        raw = self.config.get("opening_at")
        return parse_time(raw) if raw else None

    @property
    def envelopes(self) -> list[str]:
        return list(self.config.get("envelopes", ["single"]))

    def apply_own(self, event: dict[str, Any]) -> None:
        """An event of the company's own bid stream (its registration and bids), which the
        tender's stream does not carry; the tender's seqs are left alone."""
        if event["type"] in ("bidder.joined", "bid.submitted", "bid.withdrawn"):
            handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
            handler(event.get("payload", {}), event)

    def apply(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        kind, p = event["type"], event.get("payload", {})
        self.seq_of[kind] = int(event.get("seq", 0))
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(p, event)

    # -- events ----------------------------------------------------------------------------
    def _on_tender_configured(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.config = dict(p)

    def _on_tender_published(self, _p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = "bidding"

    def _on_bidder_joined(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.my_org = str(p["org"])

    def _on_bid_submitted(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.my_org = str(p["org"])
        self.submitted[(str(p["section"]), str(p["envelope"]))] = str(p["sha256"])

    def _on_bid_withdrawn(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        for key in [k for k in self.submitted if k[0] == p["section"]]:
            del self.submitted[key]

    def _on_bids_committed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.committed = [dict(s) for s in p.get("streams", []) if isinstance(s, dict)]

    def _on_opening_started(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        stage = Stage(str(p["stage"]), parse_time(p["window_ends"]))
        for entry in p.get("bids", []):
            number = str(entry["number"])
            stage.bids[number] = Bid(number, str(entry["section"]), str(entry["status"]))
        self.stages[stage.name] = stage
        self.stage = stage.name
        self.phase = "opening"

    def _on_opening_your_bid(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.mine[str(p["number"])] = str(p["section"])

    def _on_opening_signed_in(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.signed_in.add(str(p["who"]))

    def _on_bid_status(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        stage = self.current
        if stage is None:
            return
        number = str(p["number"])
        bid = stage.bids.setdefault(number, Bid(number, ""))
        bid.status = str(p["status"])
        bid.reason = str(p.get("reason") or "")
        bid.via = str(p.get("via") or bid.via)
        if bid.status in RESOLVED:
            stage.fallback.discard(number)

    def _on_opening_window_closed(self, _p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.window_closed = True

    def _on_opening_fallback(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.fallback = {str(n) for n in p.get("numbers", [])}
            self.current.fallback_k = int(p.get("k", 0))

    def _on_opening_share_received(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.shares = int(p.get("count", self.current.shares + 1))

    def _on_opening_read_out(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.read_out = list(p.get("entries", []))
            self.current.read_out_at = parse_time(e["at"]) if e.get("at") else _now()

    def _on_section_failed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.failed_sections |= {str(s) for s in p.get("sections", [])}

    def _on_opening_objection(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            oid = str(p["id"])
            self.current.objections[oid] = Objection(oid, str(p["org"]), str(p["text"]))

    def _on_opening_answered(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None and str(p["id"]) in self.current.objections:
            self.current.objections[str(p["id"])].answer = str(p["text"])

    def _on_opening_confirmed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.confirmed.add(str(p["org"]))

    def _on_opening_record_signed(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        if self.current is not None:
            # The signer is the event's actor, whose signature it carries; ``by`` repeats it.
            self.current.signed_by[str(p["role"])] = str(e.get("actor") or p["by"])

    def _on_opening_record(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.record = dict(p)
            self.current.record_seq = int(e.get("seq", 0))
            self.current.record_signed_by = dict(self.current.signed_by)
            self.phase = "technical_opened" if self.current.name == "technical" else "opened"

    # -- method rules: the floating point drawn at the opening ------------------------------
    def _on_opening_floating_point_committed(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        entry = {"commitment": p.get("commitment"), "committed_seq": int(e.get("seq", 0))}
        self.floating_points[str(p["section"])] = entry

    def _on_opening_floating_point_drawn(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        entry = self.floating_points.setdefault(str(p["section"]), {})
        entry.update({k: p.get(k) for k in ("choices", "commitment", "seed", "value")})
        entry["drawn_seq"] = int(e.get("seq", 0))


def _now() -> datetime:
    return datetime.now(UTC)
