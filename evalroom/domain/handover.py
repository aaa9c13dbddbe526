"""The signed opening record handed to the evaluation (开标记录移交评标).

An evaluation session never takes its bids from whoever creates it: they come from the
tender's signed opening record, as published in the tender's stream by the ``opening.record``
event(s) (one for a single envelope; ``technical`` then ``commercial`` for two envelopes,
where only the bids that passed the technical stage were opened commercially). The same pure
functions serve the session's creation and the offline verifier, so both read the record the
same way:

- :func:`session_bids` turns the record(s) into the section's bid list (number, company,
  read-out price) and the reference the session keeps: each record's stage, its seq in the
  tender stream and the SHA-256 of its canonical JSON (:func:`record_digest`); bids the
  read-out rejected by the control price (否决投标) are handed over apart, with reasons;
- :func:`control_differences` recomputes each read-out price's standing against the
  published control price and names every entry the record shows otherwise;
- :func:`bid_differences` names every way a claimed bid list differs from the record's;
- :func:`check_one_session` keeps one evaluation per section, unless the earlier one ended
  without a result (sealed after a venue fault: a new committee; or rescheduled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from crypto.canonical import canonical_json
from evalroom.domain.method_rules import ControlPrice, Standing
from evalroom.domain.rules import RuleError

RECORD_EVENT = "opening.record"
FINAL_PHASE = "opened"  # the tender's phase once its last opening record is signed
# A section may be evaluated again only after its earlier sessions ended without a result.
RERUN_AFTER = frozenset({"sealed", "rescheduled"})


def record_digest(payload: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the record's canonical JSON (RFC 8785): the ``opening.record`` payload."""
    return hashlib.sha256(canonical_json(dict(payload))).hexdigest()


@dataclass(frozen=True)
class SignedRecord:
    """One ``opening.record`` event of the tender stream: its seq and its payload."""

    seq: int
    payload: Mapping[str, Any]

    @property
    def stage(self) -> str:
        return str(self.payload.get("stage", ""))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SignedRecord:
        seq, payload = d.get("seq"), d.get("payload")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(payload, Mapping):
            raise RuleError("record_inconsistent", "an opening record is {seq, payload}")
        return cls(seq, payload)

    def reference(self) -> dict[str, Any]:
        return {"stage": self.stage, "seq": self.seq, "digest": record_digest(self.payload)}


@dataclass(frozen=True)
class Handover:
    """The section's bids as the signed record gives them, and where they came from."""

    bids: list[dict[str, Any]]  # [{bid_id, company, price}] in bid-number order
    reference: list[dict[str, Any]]  # [{stage, seq, digest}] in stage order
    # 否决投标 at the opening (above the control price): not evaluated, listed with reasons.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Below the control price's floor: evaluated, flagged for the 低于成本 review.
    flagged: list[dict[str, Any]] = field(default_factory=list)
    few_valid: str = "continue"  # the tender's rule when fewer than 3 valid bids remain
    # 浮动点 drawn at the opening, as the priced record keeps it: {choices, commitment, seed,
    # value} (method rules in the session), None when the section draws none.
    floating_point: dict[str, Any] | None = None


def _by_stage(records: Sequence[SignedRecord]) -> dict[str, SignedRecord]:
    staged: dict[str, SignedRecord] = {}
    for record in records:
        if record.stage in staged:
            raise RuleError(
                "record_inconsistent", f"the {record.stage} opening record was signed twice"
            )
        staged[record.stage] = record
    return staged


def _final(staged: Mapping[str, SignedRecord]) -> list[SignedRecord]:
    """The records the evaluation rests on, in stage order; refused until the last is signed."""
    final = [r for r in staged.values() if r.payload.get("phase") == FINAL_PHASE]
    if not final:
        signed = ", ".join(sorted(staged)) or "none"
        raise RuleError(
            "not_opened", f"the tender's opening record is not signed yet (signed: {signed})"
        )
    if len(final) > 1:
        raise RuleError("record_inconsistent", "more than one record closes the opening")
    last = final[0]
    if last.stage == "single":
        return [last]
    if last.stage == "commercial" and "technical" in staged:
        return [staged["technical"], last]
    raise RuleError("record_inconsistent", f"a {last.stage} record closes no known opening")


def _entries(record: SignedRecord, section: str) -> list[Mapping[str, Any]]:
    bids = record.payload.get("bids")
    if not isinstance(bids, list):
        raise RuleError("record_inconsistent", f"the {record.stage} record lists no bids")
    return [b for b in bids if isinstance(b, Mapping) and b.get("section") == section]


def _price(entry: Mapping[str, Any]) -> str:
    form = entry.get("form")
    price = form.get("price") if isinstance(form, Mapping) else None
    try:
        valid = isinstance(price, str) and Decimal(price).is_finite() and Decimal(price) > 0
    except InvalidOperation:
        valid = False
    if not valid:
        raise RuleError("record_inconsistent", f"bid {entry.get('number')} has no read-out price")
    return str(price)


def session_bids(records: Sequence[SignedRecord], section: str) -> Handover:
    """The bids of ``section`` that the evaluation receives from the signed record(s).

    Single envelope: every bid of the section decrypted at the opening, with its read-out
    price. Two envelopes: the bids decrypted in the commercial stage (only those that passed
    the technical stage were opened there), each of which must also be a decrypted bid of the
    technical record, with the commercial read-out price. A section that failed at either
    stage (流标) is refused with ``section_failed``; one the record never names with
    ``unknown_section``.
    """
    chain = _final(_by_stage(records))
    failed = {s for r in chain for s in r.payload.get("failed_sections") or []}
    if section in failed:
        raise RuleError("section_failed", f"section {section} failed at the opening (流标)")
    priced = chain[-1]
    entries = _entries(priced, section)
    if not entries:
        raise RuleError("unknown_section", f"the signed opening record has no section {section}")
    decrypted = [e for e in entries if e.get("status") == "decrypted"]
    opened = [e for e in decrypted if not isinstance(e.get("rejected"), Mapping)]
    if len(chain) == 2:
        technical = {
            e.get("number"): e.get("org")
            for e in _entries(chain[0], section)
            if e.get("status") == "decrypted"
        }
        strays = [e for e in opened if technical.get(e.get("number")) != e.get("org")]
        if strays:
            raise RuleError(
                "record_inconsistent",
                f"bid {strays[0].get('number')} was opened commercially"
                " without passing the technical stage",
            )
    bids = [
        {"bid_id": str(e["number"]), "company": str(e["org"]), "price": _price(e)}
        for e in sorted(opened, key=lambda e: str(e.get("number")))
    ]
    if not bids:
        raise RuleError("section_failed", f"no bid of section {section} was opened")
    rejected = [_standing(e, "rejected", priced) for e in decrypted if e not in opened]
    flagged = [
        _standing(e, "review", priced) for e in opened if isinstance(e.get("review"), Mapping)
    ]
    rule = str(priced.payload.get("few_valid") or "continue")
    drawn = (priced.payload.get("floating_points") or {}).get(section)
    floating = dict(drawn) if isinstance(drawn, Mapping) else None
    return Handover(bids, [r.reference() for r in chain], rejected, flagged, rule, floating)


def _standing(entry: Mapping[str, Any], key: str, record: SignedRecord) -> dict[str, Any]:
    """A bid's standing against the control price as the record gives it, with who decided
    it and where: at the opening, by the control price, in that stage's record."""
    standing = entry[key]
    return {
        "bid_id": str(entry["number"]),
        "company": str(entry["org"]),
        "price": _price(entry),
        **{k: str(standing.get(k, "")) for k in ("reason", "detail", "detail_en")},
        "by": str(standing.get("by", "control_price")),
        "at": {"stage": record.stage, "seq": record.seq},
    }


def check_one_session(
    sessions: Sequence[Mapping[str, Any]], section: str, stream: str
) -> list[str]:
    """Refuse a second evaluation of ``section`` while another can still give a result.

    ``sessions``: the tender's other sessions as ``{stream, section, phase}``. A section is
    evaluated again only when every earlier session of it was sealed (the venue did not come
    back: a new committee is formed) or rescheduled (the tenderer chose another day); the
    names of those earlier sessions are returned, for the record. A rejection of every bid
    (否决所有投标) closes the session with that result: the tender is re-run, not the session.
    """
    earlier = [s for s in sessions if s.get("section") == section and s.get("stream") != stream]
    live = [s for s in earlier if s.get("phase") not in RERUN_AFTER]
    if live:
        other = live[0]
        raise RuleError(
            "session_exists",
            f"section {section} is evaluated in {other.get('stream')} ({other.get('phase')});"
            " another session is allowed only after it was sealed or rescheduled",
        )
    return sorted(str(s.get("stream")) for s in earlier)


def _figure(value: Any) -> Decimal | None:
    try:
        figure = Decimal(str(value))
    except InvalidOperation:
        return None
    return figure if figure.is_finite() else None


def bid_differences(
    claimed: Sequence[Mapping[str, Any]], recorded: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Every difference between a session's bids and the record's, one sentence each.

    ``recorded`` is :attr:`Handover.bids`; ``claimed`` holds at least ``bid_id`` and
    ``price`` (``company`` is compared when present). Prices compare as decimals.
    """
    ours = {str(b.get("bid_id")): b for b in recorded}
    seen: set[str] = set()
    found: list[str] = []
    for bid in claimed:
        bid_id = str(bid.get("bid_id"))
        if bid_id in seen:
            found.append(f"session bid {bid_id} appears twice")
            continue
        seen.add(bid_id)
        record = ours.get(bid_id)
        if record is None:
            found.append(f"session bid {bid_id} is not in the signed opening record")
            continue
        if "company" in bid and bid["company"] != record["company"]:
            found.append(
                f"session bid {bid_id} company {bid['company']} differs from the signed"
                f" opening record's {record['company']}"
            )
        price = _figure(bid.get("price"))
        if price is None or price != Decimal(record["price"]):
            found.append(
                f"session bid {bid_id} price {bid.get('price')} differs from the signed"
                f" opening record's {record['price']}"
            )
    for bid_id, record in ours.items():
        if bid_id not in seen:
            found.append(
                f"the signed opening record's bid {bid_id} ({record['company']})"
                " is missing from the session"
            )
    return found


PRICED_STAGES = ("single", "commercial")


def control_differences(
    records: Sequence[SignedRecord], configured: Mapping[str, Any]
) -> list[str]:
    """Each read-out price against the control price published with the tender
    (``tender.configured``'s sections): every entry of a priced record whose standing the
    record shows otherwise (a bid over the limit shown valid, a valid bid shown rejected, a
    floor flag missing or extra), one sentence each."""
    controls: dict[str, ControlPrice] = {}
    for section in configured.get("sections") or []:
        if isinstance(section, Mapping) and section.get("control_price") is not None:
            controls[str(section.get("id"))] = ControlPrice.from_dict(section["control_price"])
    found: list[str] = []
    for record in records:
        if record.stage not in PRICED_STAGES:
            continue
        for entry in record.payload.get("bids") or []:
            if not isinstance(entry, Mapping) or entry.get("status") != "decrypted":
                continue
            number, control = entry.get("number"), controls.get(str(entry.get("section")))
            expected = None
            if control is not None:
                standing = control.classify(str(number), Decimal(_price(entry)))
                expected = None if standing.standing is Standing.VALID else standing.reason
            shown = [
                str(entry[k].get("reason"))
                for k in ("rejected", "review")
                if isinstance(entry.get(k), Mapping)
            ]
            if shown != ([] if expected is None else [expected]):
                found.append(
                    f"bid {number} at {entry.get('form', {}).get('price')} is"
                    f" {', '.join(shown) or 'valid'} in the {record.stage} opening record, but"
                    f" the published control price makes it {expected or 'valid'}"
                )
    return found
