"""The award's part of the offline verifier (定标, 评定分离): does the award follow from the
signed votes?

Given a session stream's events (already checked by ``clients/verify.py``: numbering, leaf
hashes, signatures), this re-runs :func:`evalroom.domain.award_rules.recompute` over what the
members themselves signed — their ``award.vote`` ballots, ``award.opinion``s and the chair's
``award.decided`` — with the lot's seed revealed in ``award.lot_drawn`` and the commitment
published in ``award.seed_committed``, and names every difference with what the stream
claims:

- a committee drawn from the tenderer's panel (``award.panel``, ``award.members_drawn``):
  the seed hashes to the commitment published in ``award.set_up`` before the draw, the draw
  recomputed from the panel and the seed gives the members drawn, a supervisor had signed in
  (signature checked) before it, and the committee is the appointed members and the drawn;
- the candidates of ``award.set_up`` are the signed evaluation report's recommended ones, at
  the session's bid prices (``session.bids``, itself checked against the opening record);
- the seed was committed before the first vote, and it hashes to the commitment;
- each ``award.round``'s counts and outcome are the recount of that round's signed ballots
  (a member voting twice in a round, or a non-member voting, is named);
- the 定标报告 (``award.report``) names the recomputed winner, holds exactly the signed
  ballots, and its digest is what ``award_digest`` says; every member signed that digest;
- the lot's pick, the 公示 and the 中标通知 name the same winner, and the notice came after
  the objection window closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crypto.canonical import canonical_json
from evalroom.domain.award_rules import AwardMethod, Candidate, draw_members, recompute
from evalroom.domain.rules import RuleError


@dataclass
class AwardCheck:
    summary: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (subject, reason)
    notes: list[str] = field(default_factory=list)


def _first(events: list[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((e for e in events if e["type"] == type_), None)


def _check_member_draw(
    evs: list[Mapping[str, Any]],
    signed_ok: set[int],
    setup: Mapping[str, Any],
    members: list[str],
    fail: Any,
    at: Any,
) -> str:
    """The 定标委员会 drawn from the tenderer's panel: recompute the draw from the panel, the
    count and the revealed seed, against the commitment published before it. Returns what
    the summary says of it ("" when the committee was appointed)."""
    panel, drawn = _first(evs, "award.panel"), _first(evs, "award.members_drawn")
    published = setup["payload"].get("draw")
    if panel is None and published is None:
        return ""  # appointed by name
    if panel is None or published is None or drawn is None:
        fail(at(setup), "a committee drawn from a panel without its panel, commitment or draw")
        return ""
    p, d = panel["payload"], drawn["payload"]
    if p.get("commitment") != published.get("commitment") or d.get("commitment") != (
        published.get("commitment")
    ):
        fail(at(drawn), "the draw's commitment is not the one published in the set-up")
    try:
        again = draw_members(
            [str(m) for m in p["panel"]],
            int(p["count"]),
            bytes.fromhex(str(d["seed"])),
            str(published["commitment"]),
        )
    except (RuleError, KeyError, TypeError, ValueError) as exc:
        fail(at(drawn), f"the members' draw cannot be recomputed: {exc}")
        return ""
    if again != list(d.get("drawn") or []):
        fail(at(drawn), f"the draw names {d.get('drawn')}, the seed and the panel give {again}")
    if members != [*[str(m) for m in p.get("appointed") or []], *again]:
        fail(at(drawn), f"the committee {members} is not the appointed and the drawn members")
    supervised = any(
        e["type"] == "award.signed_in"
        and e["seq"] in signed_ok
        and e["seq"] < drawn["seq"]
        and (e["payload"] or {}).get("as") == "supervisor"
        and str(e["actor"]) not in members
        for e in evs
    )
    if not supervised:
        fail(at(drawn), "the members were drawn with no supervisor signed in")
    return f"; {len(again)} members drawn from a panel of {len(p['panel'])}, recomputed"


def check_award(
    stream: str,
    events: Iterable[Mapping[str, Any]],
    signed_ok: set[int],
    recommended: list[Mapping[str, Any]] | None,
) -> AwardCheck:
    """Check the award recorded in ``stream`` (``events`` in seq order); ``signed_ok``: the
    seqs whose signatures verified; ``recommended``: the bundle's report's recommendation."""
    out = AwardCheck()
    evs = list(events)
    subject = f"award {stream}"

    def fail(where: str, reason: str) -> None:
        out.problems.append((where, reason))

    def at(event: Mapping[str, Any]) -> str:
        return f"event {stream}#{event['seq']}"

    setup = _first(evs, "award.set_up")
    committee = _first(evs, "award.committee")
    if setup is None or committee is None:
        return out
    try:
        method = AwardMethod.from_dict(setup["payload"]["method"])
        candidates = [Candidate.from_dict(c) for c in setup["payload"]["candidates"]]
    except (RuleError, KeyError, TypeError) as exc:
        fail(at(setup), f"the award's set-up cannot be read: {exc}")
        return out
    members = [str(m) for m in committee["payload"]["members"]]
    chair = str(committee["payload"]["chair"])
    drawn_note = _check_member_draw(evs, signed_ok, setup, members, fail, at)

    # The candidates: the signed report's recommendation, at the session's bid prices.
    if recommended is None:
        out.notes.append(f"{subject}: no report in the bundle, its candidates are not checked")
    elif [r.get("bid_id") for r in recommended] != [c.bid_id for c in candidates]:
        fail(
            at(setup),
            f"the candidates {[c.bid_id for c in candidates]} are not the signed report's"
            f" recommended {[r.get('bid_id') for r in recommended]}",
        )
    bids = _first(evs, "session.bids")
    prices = {b["bid_id"]: b["price"] for b in (bids["payload"]["bids"] if bids else [])}
    for c in candidates:
        if c.bid_id in prices and format(c.price, "f") != str(prices[c.bid_id]):
            fail(
                at(setup),
                f"candidate {c.bid_id} price {c.price} differs from the session's bid price"
                f" {prices[c.bid_id]}",
            )

    # What the members signed.
    signed = [e for e in evs if e["seq"] in signed_ok]
    rounds: dict[int, dict[str, str]] = {}
    opinions: dict[str, Any] = {}
    decision: dict[str, Any] | None = None
    for e in signed:
        body = e["payload"]["command"]["body"]
        actor = str(e["actor"])
        if e["type"] == "award.vote":
            ballots = rounds.setdefault(int(body["round"]), {})
            if actor in ballots:
                fail(at(e), f"{actor} voted twice in round {body['round']}")
            ballots[actor] = str(body["candidate"])
        elif e["type"] == "award.opinion":
            opinions[actor] = {"candidate": body["candidate"], "opinion": body["opinion"]}
        elif e["type"] == "award.decided":
            decision = {"by": actor, "candidate": body["candidate"], "reasons": body["reasons"]}
    unsigned = [e for e in evs if e["type"] == "award.vote" and e["seq"] not in signed_ok]
    for e in unsigned:
        fail(at(e), "a vote without a valid signature of its member")
    recorded: list[dict[str, Any]] = [{"round": n, "votes": rounds[n]} for n in sorted(rounds)]
    ballots_signed = sum(len(v) for v in rounds.values())

    # The lot's seed: committed before the first vote, revealed after.
    committed = _first(evs, "award.seed_committed")
    lot = _first(evs, "award.lot_drawn")
    first_vote = _first(evs, "award.vote")
    commitment = committed["payload"]["commitment"] if committed else None
    if committed and first_vote and committed["seq"] > first_vote["seq"]:
        fail(at(committed), "the lot's seed was committed after voting began")
    seed = bytes.fromhex(lot["payload"]["seed"]) if lot else None

    outcome = recompute(
        method,
        candidates,
        recorded,
        seed=seed,
        commitment=commitment,
        decision=decision,
        chair=chair,
        members=members,
        opinions=opinions,
    )
    for problem in outcome.problems:
        fail(subject, problem)

    claimed_rounds = [e for e in evs if e["type"] == "award.round"]
    for event, ours in zip(claimed_rounds, outcome.rounds, strict=False):
        mine = ours.to_dict()
        theirs = {k: event["payload"].get(k) for k in mine}
        if theirs != mine:
            keys = [k for k in mine if theirs[k] != mine[k]]
            diffs = "; ".join(f"{k} {theirs[k]} but the signed votes give {mine[k]}" for k in keys)
            fail(at(event), f"round {mine['round']}: {diffs}")
    if len(claimed_rounds) != len(outcome.rounds):
        fail(
            subject,
            f"{len(claimed_rounds)} rounds recorded, the signed votes make {len(outcome.rounds)}",
        )
    if lot is not None and lot["payload"].get("pick") != outcome.pick:
        fail(at(lot), f"the lot picks {lot['payload'].get('pick')}, the seed gives {outcome.pick}")

    # The 定标报告, its signatures, the publicity and the notice.
    report_event = _first(evs, "award.report")
    if report_event is None:
        out.notes.append(f"{subject}: no 定标报告 yet (the award is still being decided)")
        return out
    report = report_event["payload"]["report"]
    digest = hashlib.sha256(canonical_json(report)).hexdigest()
    if report_event["payload"].get("award_digest") != digest:
        fail(at(report_event), "award_digest is not the SHA-256 of the 定标报告")
    winner = report.get("winner", {}).get("bid_id")
    if winner != outcome.winner:
        fail(
            at(report_event),
            f"the 定标报告 names {winner} but the signed record gives {outcome.winner}",
        )
    if [{"round": r.get("round"), "votes": r.get("votes")} for r in report.get("rounds", [])] != (
        recorded
    ):
        fail(at(report_event), "the 定标报告's ballots are not the members' signed votes")
    signers = set()
    for e in signed:
        if e["type"] != "award.report_signed":
            continue
        if e["payload"]["command"]["body"].get("award_digest") == digest:
            signers.add(str(e["actor"]))
        else:
            fail(at(e), f"{e['actor']} signed another 定标报告")
    missing = [m for m in members if m not in signers]
    if missing:
        out.notes.append(f"{subject}: 定标报告 not signed (yet) by {', '.join(missing)}")
    for type_ in ("award.publicity", "award.notice"):
        published = _first(evs, type_)
        if published is not None and published["payload"]["winner"]["bid_id"] != winner:
            named = published["payload"]["winner"]["bid_id"]
            fail(at(published), f"names {named}, the 定标报告 {winner}")
    publicity, notice = _first(evs, "award.publicity"), _first(evs, "award.notice")
    if notice is not None and (
        publicity is None
        or datetime.fromisoformat(str(notice["at"]))
        < datetime.fromisoformat(str(publicity["payload"]["until"]))
    ):
        fail(at(notice), "the award notice came before the objection window (公示) ended")
    out.summary.append(
        f"{subject}: {method.kind.value} → {outcome.winner} ({outcome.basis}) recomputed from"
        f" {ballots_signed} signed votes"
        + (", the committed seed" if seed else "")
        + f"; 定标报告 signed by {len(signers)}/{len(members)}"
        + drawn_note
    )
    return out
