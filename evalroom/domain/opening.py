"""Sealed bids and the remote opening ceremony (投标与不见面开标), as pure deciders.

Bidding happens in each company's own stream (``evalroom.domain.bids``); the opening takes
those streams' bids over, committing to each stream in the tender's record.

The ceremony, per stage (``single``, or ``technical`` then ``commercial``), follows
docs/domain.md: start at the opening time (``too_early`` before) with an anonymous bid list
(numbers, not names) -> sign-in -> decryption window: each bidder releases its per-bid key,
the service decrypts and checks (``facts``), status is public live -> close the window: the
failure rule applies (``reject``: withdrawn; ``committee``: k of n keyholders' shares
reconstruct the opening identity) -> read-out (唱标) of each valid bid's form, names
revealed, each price against the section's published control price (above it: 否决, with
the reason read out; below its floor: flagged for the 低于成本 review) -> confirmations and
objections answered online -> the record signed by the agency and a supervisor. A section
with fewer valid bids than the minimum fails (流标); a bid above the control price is not valid.

State lives under ``state["bids"]`` and ``state["opening"]``; see ``_stage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from evalroom.domain.commands import Command, Decision, GrantRole, NewEvent
from evalroom.domain.duties import Roster, check_grant
from evalroom.domain.method_rules import Standing
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError, field_at, read_decimal
from evalroom.domain.tender_config import TenderConfig

KEYHOLDER = Role.KEYHOLDER
RESOLVED = ("decrypted", "rejected", "withdrawn")


def config_of(state: Mapping[str, Any]) -> TenderConfig:
    raw = state.get("config") or {}
    if not raw:
        raise RuleError("not_configured", "the tender has no bidding and opening rules yet")
    return TenderConfig.from_dict(raw)


def _phase(state: Mapping[str, Any], *phases: str) -> None:
    if state.get("phase") not in phases:
        raise RuleError("wrong_phase", f"allowed in {', '.join(phases)}; now {state.get('phase')}")


def _org(cmd: Command, state: Mapping[str, Any]) -> str:
    org = cmd.actor.org
    if not org or org not in state.get("bidders", {}):
        raise RuleError("not_a_bidder", "your company has not joined this tender")
    return org


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the JSON state (the decider never mutates its input)."""
    import json

    copied: dict[str, Any] = json.loads(json.dumps(state))
    return copied


# -- configuration -------------------------------------------------------------------------


def configure(state: Mapping[str, Any], cmd: Command, roster: Roster | None = None) -> Decision:
    """``tender.configure`` {config}: the agency sets the bidding and opening rules (draft).

    The keyholders it names are checked like any grant (:mod:`evalroom.domain.duties`):
    registered, not the agency nor its organisation, holding no conflicting role."""
    _phase(state, "draft")
    with field_at("config"):
        config = TenderConfig.from_dict(cmd.body.get("config") or {})
    new = {**state, "config": dict(cmd.body["config"])}
    roster = roster if roster is not None else Roster.from_facts(cmd.facts)
    for i, user in enumerate(config.keyholders):
        with field_at(f"config.keyholders[{i}]"):  # the refusal names whom the form named
            person = check_grant(
                KEYHOLDER,
                user,
                command=cmd.type,
                actor=cmd.actor,
                phase="draft",
                roster=roster,
            )
        roster = roster.with_grant(person, KEYHOLDER, cmd.stream)
    grants = [GrantRole(user, cmd.stream, KEYHOLDER) for user in config.keyholders]
    public = {
        "sections": config.sections_public(),
        "envelopes": list(config.envelopes),
        "opening_at": config.opening_at.isoformat(),
        "decryption_window_seconds": config.decryption_window_seconds,
        "min_bids": config.min_bids,
        "few_valid": config.few_valid,
        "failure_rule": config.failure_rule,
        "opening_recipient": config.opening_recipient,
        "threshold": {"k": config.k, "n": config.n},
        "keyholders": list(config.keyholders),
        "forms": {e: [f.to_dict() for f in fs] for e, fs in config.forms.items()},
    }
    if config.method is not None:  # 评标办法, public with the tender documents
        public["method"] = config.method.to_dict()
    return Decision([NewEvent("tender.configured", public)], new, grants=grants)


# -- the ceremony --------------------------------------------------------------------------


def _stage(state: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The running stage: ``{"window_ends", "bids": {number: {...}}, "signed_in", …}``."""
    opening = state.get("opening", {})
    name = opening.get("stage")
    if not name:
        raise RuleError("wrong_phase", "the opening has not started")
    stage: dict[str, Any] = opening[name]
    return name, stage


def _numbered(
    state: Mapping[str, Any], cmd: Command, org: str, section: str
) -> tuple[str, dict[str, Any]]:
    _name, stage = _stage(state)
    for number, bid in stage["bids"].items():
        if bid["org"] == org and bid["section"] == section:
            return number, bid
    raise RuleError("no_bid", f"your company has no bid being opened in section {section}")


def start(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.start``: the opening time is reached; refuse bids, announce the bid list.

    ``cmd.facts["bid_streams"]``: every bidder company's own stream, read under the tender's
    bidding gate (``[{stream, size, root, state}]``). The tender's record commits to each
    one's size and Merkle root (``bids.committed``) before the bid list is announced."""
    _phase(state, "bidding")
    config = config_of(state)
    if cmd.now < config.opening_at:
        raise RuleError("too_early", f"the opening is at {config.opening_at.isoformat()}")
    from evalroom.domain.bids import merged_bids

    streams = list(cmd.facts.get("bid_streams", []))
    merged, bidders = merged_bids(streams)
    state = {**state, "bids": merged, "bidders": bidders}
    commitment = NewEvent(
        "bids.committed",
        {
            "streams": [
                {"stream": s["stream"], "size": s["size"], "root": s["root"]}
                for s in sorted(streams, key=lambda s: str(s["stream"]))
            ]
        },
    )
    first = config.envelopes[0]
    bids: dict[str, Any] = {}
    private: list[NewEvent] = []
    for section in config.sections:
        entries = [
            (org, bid)
            for org, bid in state.get("bids", {}).get(section.id, {}).items()
            if bid["status"] == "submitted" and first in bid["envelopes"]
        ]
        for i, (org, bid) in enumerate(sorted(entries, key=lambda e: e[0]), start=1):
            number = f"{section.id}-B{i:02d}"
            bids[number] = {
                "section": section.id,
                "org": org,
                "status": "waiting",
                **bid["envelopes"][first],
            }
            private.append(
                NewEvent("opening.your_bid", {"number": number, "section": section.id, "org": org})
            )
    opened = _open_stage(state, cmd, config, first, bids, private)
    return Decision([commitment, *opened.events], opened.state)


def _open_stage(
    state: Mapping[str, Any],
    cmd: Command,
    config: TenderConfig,
    stage: str,
    bids: dict[str, Any],
    private: list[NewEvent],
) -> Decision:
    window_ends = cmd.now + timedelta(seconds=config.decryption_window_seconds)
    new = _copy(state)
    new["phase"] = "opening"
    opening = new.setdefault("opening", {})
    opening["stage"] = stage
    opening[stage] = {
        "window_ends": window_ends.isoformat(),
        "bids": bids,
        "signed_in": [],
        "window_closed": False,
        "shares": [],
        "read_out": False,
        "confirmed": [],
        "objections": [],
        "signed_by": {},
    }
    listing = [{"number": n, "section": b["section"], "status": "waiting"} for n, b in bids.items()]
    public = NewEvent(
        "opening.started",
        {
            "stage": stage,
            "phase": "opening",
            "window_ends": window_ends.isoformat(),
            "bids": listing,
        },
    )
    return Decision([public, *private], new)


def sign_in(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.sign_in``: a participant signs in to the ceremony with its key (签到)."""
    _phase(state, "opening")
    name, _stage_state = _stage(state)
    new = _copy(state)
    stage = new["opening"][name]
    who = cmd.actor.org if Role.BIDDER in cmd.actor.roles and cmd.actor.org else cmd.actor.user_id
    if who in stage["signed_in"]:
        raise RuleError("already_signed_in", "you have signed in already")
    stage["signed_in"].append(who)
    as_ = "bidder" if who == cmd.actor.org else "staff"
    return Decision([NewEvent("opening.signed_in", {"who": who, "as": as_}, signed=True)], new)


def _window_open(stage: Mapping[str, Any], cmd: Command) -> None:
    from datetime import datetime

    if stage["window_closed"] or cmd.now >= datetime.fromisoformat(stage["window_ends"]):
        raise RuleError("window_closed", "the decryption window has closed")


def _releasing(state: Mapping[str, Any], cmd: Command) -> tuple[str, str, dict[str, Any]]:
    """The stage, number and bid of the actor's company that a key may be released for now."""
    _phase(state, "opening")
    name, stage = _stage(state)
    _window_open(stage, cmd)
    org = _org(cmd, state)
    if org not in stage["signed_in"]:
        raise RuleError("not_signed_in", "sign in to the opening before releasing your key")
    number, bid = _numbered(state, cmd, org, str(cmd.body["section"]))
    if bid["status"] in RESOLVED:
        raise RuleError("already_opened", f"bid {number} is {bid['status']}")
    return name, number, bid


def mark_decrypting(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``bid.decrypting`` {section}: the bidder's client starts releasing its key, so everyone
    sees "decrypting" before the work (``bid.release_key`` announces it so too). A bid shown
    as decrypting already is not announced again: a retried release adds no second status."""
    name, number, bid = _releasing(state, cmd)
    if bid["status"] == "decrypting":
        return Decision([], state)
    new = _copy(state)
    new["opening"][name]["bids"][number]["status"] = "decrypting"
    return Decision([NewEvent("bid.status", {"number": number, "status": "decrypting"})], new)


def release_key(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``bid.release_key`` {section, identity}: the service decrypted with the released key
    and hands the outcome as facts ``{ok, reason, form, plain_sha256, plain}``."""
    name, number, _bid = _releasing(state, cmd)
    new = _copy(state)
    return Decision(_apply_outcome(new, name, number, cmd.facts, via="bidder"), new)


def _apply_outcome(
    new: dict[str, Any], stage: str, number: str, facts: Mapping[str, Any], via: str
) -> list[NewEvent]:
    bid = new["opening"][stage]["bids"][number]
    if facts.get("ok"):
        bid.update(
            status="decrypted",
            via=via,
            form=facts["form"],
            plain=facts["plain"],
            plain_sha256=facts["plain_sha256"],
        )
        payload = {
            "number": number,
            "status": "decrypted",
            "via": via,
            "plain_sha256": facts["plain_sha256"],
        }
    else:
        bid.update(status="failed", reason=str(facts.get("reason", "unknown")), via=via)
        payload = {"number": number, "status": "failed", "via": via, "reason": bid["reason"]}
    return [NewEvent("bid.status", payload)]


def close_window(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.close_window``: end decryption; the failure rule takes the rest (解密失败)."""
    from datetime import datetime

    _phase(state, "opening")
    name, stage = _stage(state)
    if stage["window_closed"]:
        raise RuleError("window_closed", "the decryption window is closed already")
    pending = [n for n, b in stage["bids"].items() if b["status"] not in RESOLVED]
    if pending and cmd.now < datetime.fromisoformat(stage["window_ends"]):
        raise RuleError("window_open", f"{len(pending)} bids are still within their window")
    config = config_of(state)
    new = _copy(state)
    new_stage = new["opening"][name]
    new_stage["window_closed"] = True
    events = [NewEvent("opening.window_closed", {"pending": pending, "rule": config.failure_rule})]
    if config.failure_rule == "reject" or not pending:
        for number in pending:
            new_stage["bids"][number].update(status="rejected", reason=_reason(new_stage, number))
            events.append(
                NewEvent(
                    "bid.status",
                    {
                        "number": number,
                        "status": "rejected",
                        "reason": new_stage["bids"][number]["reason"],
                    },
                )
            )
    else:
        new_stage["fallback"] = pending
        events.append(NewEvent("opening.fallback", {"numbers": pending, "k": config.k}))
    return Decision(events, new)


def _reason(stage: Mapping[str, Any], number: str) -> str:
    bid = stage["bids"][number]
    return str(bid.get("reason") or "key_not_released")


def submit_share(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.share`` {share}: a keyholder hands in its share (facts from the service:
    ``{index, combined, results: {number: outcome}}``); the k-th share opens the rest."""
    _phase(state, "opening")
    name, stage = _stage(state)
    # A share handed in together with the one that completed the set is still recorded;
    # the bids were opened by then, so it changes no outcome.
    late = not stage.get("fallback") and bool(stage["shares"])
    if not stage.get("fallback") and not late:
        raise RuleError("wrong_phase", "no bid awaits the committee fallback")
    if cmd.actor.user_id in stage["shares"]:
        raise RuleError("already_submitted", "you handed in your share already")
    new = _copy(state)
    new_stage = new["opening"][name]
    new_stage["shares"].append(cmd.actor.user_id)
    events = [
        NewEvent(
            "opening.share_received",
            {
                "keyholder": cmd.actor.user_id,
                "index": cmd.facts.get("index"),
                "count": len(new_stage["shares"]),
            },
            signed=True,
        )
    ]
    results: Mapping[str, Any] = cmd.facts.get("results", {})
    if cmd.facts.get("combined") and not late:
        for number in list(new_stage["fallback"]):
            outcome = results.get(number, {"ok": False, "reason": "not_addressed_to_opening_key"})
            events += _apply_outcome(new, name, number, outcome, via="committee")
            bid = new_stage["bids"][number]
            if bid["status"] == "failed":  # the bidder's fault: treated as withdrawn (撤销)
                bid["status"] = "rejected"
                events.append(
                    NewEvent(
                        "bid.status",
                        {"number": number, "status": "rejected", "reason": bid["reason"]},
                    )
                )
        new_stage["fallback"] = []
    return Decision(events, new)


STANDING_KEYS = ("rejected", "review")  # a read-out entry's standing against the control price


def control_standing(
    config: TenderConfig, section: str, form: Mapping[str, Any]
) -> tuple[str, dict[str, str]] | None:
    """A read-out price against the section's control price: ``("rejected", {reason, detail,
    detail_en, by})`` above the limit (否决投标), ``("review", {…})`` below the floor (低于成本
    review: the committee decides), None when within it or the section has no control price."""
    control = config.section(section).control_price
    if control is None:
        return None
    price = read_decimal(form.get("price"), "price", "invalid_form")
    standing = control.classify(section, price)
    if standing.standing is Standing.VALID:
        return None
    if standing.standing is Standing.REJECTED:
        key = "rejected"
        en = f"the bid price {price} yuan exceeds the control price {control.limit} yuan:"
        en += " the bid is rejected"
    else:
        key = "review"
        en = f"the bid price {price} yuan is below {control.floor_amount} yuan:"
        en += " the bidder must show it is not below cost"
    return key, {
        "reason": str(standing.reason),
        "detail": str(standing.detail),
        "detail_en": en,
        "by": "control_price",
    }


def read_out(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.read_out``: 唱标 — every bid's form figures and company, for all to see."""
    _phase(state, "opening")
    name, stage = _stage(state)
    if not stage["window_closed"] or stage.get("fallback"):
        raise RuleError("not_ready", "close the window and finish the fallback first")
    if stage["read_out"]:
        raise RuleError("already_read_out", "the read-out is done")
    config = config_of(state)
    new = _copy(state)
    new_stage = new["opening"][name]
    new_stage["read_out"] = True
    entries = []
    valid: dict[str, int] = {s.id: 0 for s in config.sections}
    for number, bid in sorted(stage["bids"].items()):
        entry = {
            "number": number,
            "section": bid["section"],
            "org": bid["org"],
            "status": bid["status"],
        }
        if bid["status"] == "decrypted":
            entry["form"] = bid["form"]
            # The price is read out with its standing against the published control price;
            # only the priced envelope carries a price.
            if name == config.priced_envelope:
                standing = control_standing(config, bid["section"], bid["form"])
                if standing is not None:
                    key, detail = standing
                    entry[key] = detail
                    new_stage["bids"][number][key] = dict(detail)  # into the signed record
            if "rejected" not in entry:
                valid[bid["section"]] += 1
        else:
            entry["reason"] = bid.get("reason", "")
        entries.append(entry)
    events = [NewEvent("opening.read_out", {"stage": name, "entries": entries})]
    failed = [s for s, count in valid.items() if count < config.min_bids]
    if failed:
        new["failed_sections"] = sorted(set(new.get("failed_sections", [])) | set(failed))
        events.append(
            NewEvent(
                "section.failed",
                {"sections": failed, "min_bids": config.min_bids, "valid": valid},
            )
        )
    return Decision(events, new)


def confirm(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.confirm``: a bidder confirms the opening record (确认)."""
    _phase(state, "opening")
    name, stage = _stage(state)
    if not stage["read_out"]:
        raise RuleError("not_ready", "confirm after the read-out")
    org = _org(cmd, state)
    if org in stage["confirmed"]:
        raise RuleError("already_confirmed", "your company confirmed already")
    new = _copy(state)
    new["opening"][name]["confirmed"].append(org)
    return Decision([NewEvent("opening.confirmed", {"org": org}, signed=True)], new)


def object_(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.object`` {text}: a bidder raises an objection (质询), answered online."""
    _phase(state, "opening")
    name, stage = _stage(state)
    if not stage["read_out"]:
        raise RuleError("not_ready", "objections are raised after the read-out")
    org = _org(cmd, state)
    new = _copy(state)
    objections = new["opening"][name]["objections"]
    oid = f"O{len(objections) + 1}"
    objections.append({"id": oid, "org": org, "text": cmd.body["text"], "answer": None})
    return Decision(
        [NewEvent("opening.objection", {"id": oid, "org": org, "text": cmd.body["text"]})],
        new,
    )


def answer(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.answer`` {objection, text}: the agency answers an objection."""
    _phase(state, "opening")
    name, _stage_state = _stage(state)
    new = _copy(state)
    for obj in new["opening"][name]["objections"]:
        if obj["id"] == cmd.body["objection"]:
            if obj["answer"] is not None:
                raise RuleError("already_answered", f"{obj['id']} has an answer")
            obj["answer"] = cmd.body["text"]
            payload = {"id": obj["id"], "text": cmd.body["text"]}
            return Decision([NewEvent("opening.answered", payload)], new)
    raise RuleError("unknown_objection", f"no objection {cmd.body['objection']!r}")


def sign_record(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.sign_record``: the agency and a supervisor sign the opening record."""
    _phase(state, "opening")
    name, stage = _stage(state)
    if not stage["read_out"]:
        raise RuleError("not_ready", "the record is signed after the read-out")
    if any(o["answer"] is None for o in stage["objections"]):
        raise RuleError("objection_open", "answer every objection before signing")
    role = "agency" if Role.AGENCY in cmd.actor.roles else "supervisor"
    if role in stage["signed_by"]:
        raise RuleError("already_signed", f"the {role} signed already")
    new = _copy(state)
    new_stage = new["opening"][name]
    new_stage["signed_by"][role] = cmd.actor.user_id
    events = [
        NewEvent("opening.record_signed", {"role": role, "by": cmd.actor.user_id}, signed=True)
    ]
    if {"agency", "supervisor"} <= set(new_stage["signed_by"]):
        config = config_of(state)
        done_phase = "technical_opened" if name == "technical" else "opened"
        new["phase"] = done_phase
        new["opening"]["stage"] = name
        new_stage["closed"] = True
        record = {
            "stage": name,
            "bids": [
                {
                    "number": n,
                    "section": b["section"],
                    "org": b["org"],
                    "status": b["status"],
                    "sha256": b["sha256"],
                    "plain_sha256": b.get("plain_sha256"),
                    "form": b.get("form"),
                    "via": b.get("via"),
                    "reason": b.get("reason"),
                    **{k: b[k] for k in STANDING_KEYS if k in b},
                }
                for n, b in sorted(new_stage["bids"].items())
            ],
            "confirmed": new_stage["confirmed"],
            "objections": new_stage["objections"],
            "signed_by": new_stage["signed_by"],
            "failed_sections": new.get("failed_sections", []),
            "min_bids": config.min_bids,
            "few_valid": config.few_valid,
        }
        new_stage["record"] = record
        events.append(NewEvent("opening.record", {**record, "phase": done_phase}))
    return Decision(events, new)


def start_commercial(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``opening.start_commercial`` {passed: [numbers]}: open the commercial envelopes of the
    bids that passed the technical stage (二次开标)."""
    _phase(state, "technical_opened")
    config = config_of(state)
    technical = state["opening"]["technical"]["bids"]
    passed = [str(n) for n in cmd.body["passed"]]
    unknown = [n for n in passed if n not in technical or technical[n]["status"] != "decrypted"]
    if unknown:
        raise RuleError("unknown_bid", f"not opened in the technical stage: {', '.join(unknown)}")
    bids = {}
    private = []
    for number in passed:
        tech = technical[number]
        envelope = state["bids"][tech["section"]][tech["org"]]["envelopes"].get("commercial")
        if envelope is None:
            raise RuleError("no_bid", f"bid {number} has no commercial envelope")
        bids[number] = {
            "section": tech["section"],
            "org": tech["org"],
            "status": "waiting",
            **envelope,
        }
        private.append(
            NewEvent(
                "opening.your_bid",
                {"number": number, "section": tech["section"], "org": tech["org"]},
            )
        )
    return _open_stage(state, cmd, config, "commercial", bids, private)


DECIDERS = {
    "tender.configure": configure,
    "opening.start": start,
    "opening.sign_in": sign_in,
    "bid.decrypting": mark_decrypting,
    "bid.release_key": release_key,
    "opening.close_window": close_window,
    "opening.share": submit_share,
    "opening.read_out": read_out,
    "opening.confirm": confirm,
    "opening.object": object_,
    "opening.answer": answer,
    "opening.sign_record": sign_record,
    "opening.start_commercial": start_commercial,
}

_BIDDER = frozenset({Role.BIDDER})
_AGENCY = frozenset({Role.AGENCY})
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "tender.configure": _AGENCY,
    "opening.start": _AGENCY,
    "opening.sign_in": frozenset(
        {Role.BIDDER, Role.AGENCY, Role.SUPERVISOR, Role.TENDERER, KEYHOLDER}
    ),
    "bid.decrypting": _BIDDER,
    "bid.release_key": _BIDDER,
    "opening.close_window": _AGENCY,
    "opening.share": frozenset({KEYHOLDER}),
    "opening.read_out": _AGENCY,
    "opening.confirm": _BIDDER,
    "opening.object": _BIDDER,
    "opening.answer": _AGENCY,
    "opening.sign_record": frozenset({Role.AGENCY, Role.SUPERVISOR}),
    "opening.start_commercial": _AGENCY,
}
SIGNED = frozenset({"opening.sign_in", "opening.share", "opening.confirm", "opening.sign_record"})
