"""A bidder company's own stream in a tender (投标人专属记录): its registration (报名), its
sealed envelopes and withdrawals, and its refused attempts, until the opening.

Why a stream of its own: a stream's seqs, heads, gaps and tree sizes are seen by everyone who
follows it. Had registrations and bids gone into the tender's stream, every participant would
count its competitors from the numbers alone, which 《招标投标法》第22条 forbids. Each company's
record therefore lives apart, seen by that company and the supervisors only; at the opening
the tender's record commits to every such stream's size and Merkle root
(``opening.start``), so the audit log still proves every submission and refusal.

Pure: ``decide(state, command) -> Decision``. The service hands the tender's state, read
under the tender's bidding gate, as ``cmd.facts["tender"]`` and its stream name as
``cmd.facts["tender_stream"]``. State: ``{"tender", "org", "by", "bids": {section:
{"status", "envelopes": {envelope: {"upload", "sha256", "size", "version"}}}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from evalroom.domain.commands import Command, Decision, GrantRole, NewEvent
from evalroom.domain.duties import Roster, check_grant
from evalroom.domain.opening import config_of
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.tender_config import TenderConfig


def _tender(cmd: Command) -> Mapping[str, Any]:
    tender: Mapping[str, Any] = cmd.facts.get("tender") or {}
    if not tender:
        raise RuleError("unknown_stream", str(cmd.facts.get("tender_stream", "")))
    return tender


def open_for_bids(tender: Mapping[str, Any], now: datetime) -> TenderConfig:
    """The tender's rules if it takes bids at ``now``, else why not: ``deadline_passed`` once
    the opening time is reached or the opening has begun (the gate let the command in after
    the opening committed), ``wrong_phase`` before bidding opens. The one rule for
    ``bid.submit``, ``bid.withdraw`` and an upload refused before any byte is stored."""
    phase = tender.get("phase")
    if phase != "bidding":
        if phase != "draft" and tender.get("config"):
            _closed(config_of(tender))
        raise RuleError("wrong_phase", f"allowed in bidding; the tender is {phase}")
    config = config_of(tender)
    if now >= config.opening_at:
        _closed(config)
    return config


def _closed(config: TenderConfig) -> NoReturn:
    raise RuleError("deadline_passed", f"bids closed at {config.opening_at.isoformat()}")


def _own(state: Mapping[str, Any], cmd: Command) -> str:
    org = cmd.actor.org
    if not state or not org or state.get("org") != org:
        raise RuleError("not_a_bidder", "your company has not joined this tender")
    return org


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    import json

    copied: dict[str, Any] = json.loads(json.dumps(state))
    return copied


def join(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``tender.join``: a bidder company registers (报名) while bidding is open; its own
    stream starts here."""
    tender = _tender(cmd)
    if tender.get("phase") != "bidding":
        raise RuleError("wrong_phase", f"allowed in bidding; the tender is {tender.get('phase')}")
    org = cmd.actor.org
    if not org:
        raise RuleError("not_a_company", "only a participant of a bidder company can join")
    if state:
        raise RuleError("already_exists", f"{org} already joined")
    user = cmd.actor.user_id
    check_grant(
        Role.BIDDER,
        user,
        command=cmd.type,
        actor=cmd.actor,
        phase="bidding",
        roster=Roster.from_facts(cmd.facts),
    )
    tender_stream = str(cmd.facts["tender_stream"])
    new = {"tender": tender_stream, "org": org, "by": user, "bids": {}}
    return Decision(
        events=[NewEvent("bidder.joined", {"org": org, "user": user})],
        state=new,
        grants=[
            GrantRole(user, tender_stream, Role.BIDDER),
            GrantRole(user, cmd.stream, Role.BIDDER),
        ],
        reply={"bid_stream": cmd.stream},
    )


def submit(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``bid.submit`` {section, envelope, upload}: seal one envelope (or replace it)."""
    config = open_for_bids(_tender(cmd), cmd.now)
    org = _own(state, cmd)
    section = config.section(str(cmd.body["section"])).id
    envelope = config.envelope(str(cmd.body["envelope"]))
    facts = cmd.facts
    if int(facts["size"]) > config.max_bid_bytes:
        raise RuleError("too_large", f"a bid envelope may be at most {config.max_bid_bytes} bytes")
    new = _copy(state)
    bid = new.setdefault("bids", {}).setdefault(section, {"status": "submitted", "envelopes": {}})
    previous = bid["envelopes"].get(envelope)
    version = (previous["version"] + 1) if previous else 1
    bid["status"] = "submitted"
    bid["envelopes"][envelope] = {
        "upload": str(cmd.body["upload"]),
        "sha256": facts["sha256"],
        "size": int(facts["size"]),
        "version": version,
    }
    payload = {
        "section": section,
        "envelope": envelope,
        "org": org,
        "version": version,
        "sha256": facts["sha256"],
        "size": int(facts["size"]),
    }
    return Decision([NewEvent("bid.submitted", payload)], new)


def withdraw(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``bid.withdraw`` {section}: take the bid back before the deadline (撤回)."""
    config = open_for_bids(_tender(cmd), cmd.now)
    org = _own(state, cmd)
    section = config.section(str(cmd.body["section"])).id
    new = _copy(state)
    bid = new.get("bids", {}).get(section)
    if bid is None or bid["status"] != "submitted":
        raise RuleError("no_bid", "your company has no bid in this section")
    bid["status"] = "withdrawn"
    payload = {"section": section, "org": org}
    return Decision([NewEvent("bid.withdrawn", payload)], new)


def merged_bids(streams: list[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """From the bid streams' states: the tender's ``bids`` ({section: {org: bid}}) and
    ``bidders`` ({org: {"by", "stream"}}), as the opening takes them over."""
    bids: dict[str, dict[str, Any]] = {}
    bidders: dict[str, Any] = {}
    for stream in sorted(streams, key=lambda s: str(s["stream"])):
        state = stream["state"]
        if not state.get("org"):
            continue
        org = str(state["org"])
        bidders[org] = {"by": state.get("by"), "stream": stream["stream"]}
        for section, bid in state.get("bids", {}).items():
            bids.setdefault(section, {})[org] = _copy(bid)
    return bids, bidders


DECIDERS = {"tender.join": join, "bid.submit": submit, "bid.withdraw": withdraw}

COMMAND_ROLES: dict[str, frozenset[str]] = {
    "tender.join": frozenset({"*"}),
    "bid.submit": frozenset({Role.BIDDER}),
    "bid.withdraw": frozenset({Role.BIDDER}),
}
