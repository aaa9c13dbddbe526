"""Offline verifier of an evalroom evidence bundle (证据包离线校验).

    python -m clients.verify BUNDLE [--log-key KEY] [--platform-key KEY] [--checkpoint NOTE ...]
    evalroom-verify BUNDLE ...

Needs the bundle only (no server, no database): it imports ``crypto``, the pure
``evalroom.domain`` rules and the participants' own folds (``clients.folds``: a stream's
state is folded as every client folds it, from the events whose signatures hold), nothing
else of the server. Exit status 0 when every check holds,
1 when one fails (each failure printed as ``FAIL <what>: <why>``, naming the event as
``event <stream>#<seq>`` or the checkpoint as ``checkpoint <stream>@<size>``), 2 when the
bundle cannot be read at all.

What it checks, per stream of the bundle (format: ``evalroom/audit/bundle.py``):

- events are numbered 1..n with no gap, duplicate or reordering, and belong to the stream;
- each event's leaf hash, recomputed from its record (RFC 8785 canonical JSON of the fields of
  ``crypto.events.event_record``), equals the leaf hash the server wrote when it committed it;
- each signed event (``sig`` not null) carries what its actor signed in ``payload["command"]``
  (``{"id", "stream", "type", "body"}``, for this stream) and ``sig`` verifies over its
  canonical JSON with the actor's public key (``users``);
- each checkpoint is a C2SP signed note by the log key, for the origin
  ``<origin_prefix>/<stream>``, and its root equals the RFC 9162 root recomputed over the first
  ``size`` events; two validly signed checkpoints of one size with different roots are a fork;
- successive checkpoints are consistent: the bundle's RFC 9162 consistency proof verifies, and
  (by the recomputation above) both roots come from the same events;
- every event is covered by a signed checkpoint, and the stream's recorded head is its last
  event;

then the opening's commitments: each ``bids.committed`` event of a tender names every bidder
company's own stream (``bid:…``, where its registration, bids and refused attempts were kept
until the opening) with its size and root then; the bundle's events of that stream must give
that root over its first ``size`` events, and every bid stream of the tender in the bundle
must be named;

then every receipt (below), every session's bids (below), every report (below), every award
(定标, ``clients/verify_award.py``: the award follows from the signed votes, the committed seed
or the lowest price), and each ``--checkpoint`` note given on the
command line (a tree head someone kept, e.g. from ``clients/logwatch.py`` or a receipt): it
must be consistent with the bundle's history, else the log forked.

When a checkpoint's root differs, the change lies between the last checkpoint that matches and
the first that does not; when those are one event apart, the event is named.

A **receipt** in ``receipts`` is::

    {"receipt": {"stream": "tender:T1", "seq": 7, "leaf_hash": "<base64, optional>", ...},
     "sig": "<base64url Ed25519 signature by the platform key over canonical_json(receipt)>",
     "inclusion": {"stream": "tender:T1", "seq": 7, "size": 9,
                   "proof": ["<base64>", ...], "checkpoint": "<signed note, optional>"}}

The receipt must name its ``stream`` and ``seq``; other fields (ciphertext hash, size, time,
...) are the issuer's. Checked: the platform signature; the inclusion proof of event ``seq``
(its leaf hash recomputed from the bundle, or the receipt's ``leaf_hash`` when the bundle lacks
the event) against the root of the signed checkpoint of ``size`` (the bundle's, or the one in
``inclusion``, which must then agree with the bundle); and, when the receipt carries
``leaf_hash``, that it is the bundle's event at that seq.

A **session** stream's bids come from its tender's signed opening record (开标记录): its
first event is ``session.created``, whose ``opening_record`` names each ``opening.record``
event of the tender stream it rests on (``{stage, seq, digest}``, the digest being the hex
SHA-256 of the record's canonical JSON). Checked, with the same pure rules the server used
(``evalroom.domain.handover``): the named events are the tender's opening records and hash to
the digests; each record's signers (``signed_by``) have a validly signed
``opening.record_signed`` before it; and the bids of the session's ``session.bids`` event and
of its report, prices included, are those the record gives the section. Each difference is
named, e.g. ``session bid S1-B02 price 1.00 differs from the signed opening record's
980000.00``.

A **tender** stream's signed opening records are held to the control price (最高投标限价)
published with the tender, whether or not a session follows (a tender that failed, or whose
evaluation has not started, is checked too): each read-out price's standing (否决投标 above
the limit, 低于成本 review below the floor, valid otherwise) is the one
``evalroom.domain.handover.control_differences`` recomputes, once per tender.

A **report** in ``reports`` (``{"stream", "report"}``: the ``report`` of a session's state, as
``evalroom.domain.session_report`` draws it up) holds at least::

    {"method": <ScoringMethod.to_dict()>, "bids": [<BidFigures fields, others ignored>, ...],
     "sheets": [<ExpertSheet.to_dict()>, ...], "floating_point": "1.5" | null,
     "ranking": <Ranking.to_dict()>, "recommended": [{"rank", "bid_id", ...}, ...] (optional)}

Checked: ``evalroom.domain.scoring.evaluate(method, bids, sheets, floating_point)`` gives
exactly ``ranking`` (and ``recommended`` its order); every score and pass/fail verdict in the
sheets is the expert's last validly signed one in the session's stream (a signed command whose
body has ``bid``, ``criterion`` and ``score`` or ``pass``); and every signed command carrying a
``report_digest`` names this report (hex SHA-256 of its canonical JSON). Experts who have not
signed the report yet are noted, not failed (a session may be exported while signing).

Trust: the bundle carries the log key, the platform key and the participants' keys as the
server knows them. Pin the first two with ``--log-key``/``--platform-key`` when you have them
from elsewhere (a published notice, your own client), and compare participants' keys with
their registrations; the output prints the keys it used.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView
from clients.verify_award import check_award
from crypto.canonical import canonical_json
from crypto.checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_verifier_key
from crypto.checkpoint import VerifierKey as LogKey
from crypto.events import event_leaf_hash
from crypto.keys import KeyFormatError, VerifyKey
from crypto.merkle import MerkleLog, verify_consistency, verify_inclusion
from evalroom.domain.handover import (
    RECORD_EVENT,
    SignedRecord,
    bid_differences,
    control_differences,
    record_digest,
    session_bids,
)
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, ExpertSheet, ScoringMethod, evaluate

FORMAT = "evalroom-bundle/1"
EVENT_FIELDS = ("stream", "seq", "type", "actor", "at", "payload", "visibility", "sig")
BID_FIELDS = frozenset({"bid_id", "price", "arithmetic_errors", "adjustment"})
# An actor's act is folded only when the actor signed that very command: the server may
# not sign for them (event type -> the command signed).
SIGNED_ACTS = {"opening.record_signed": "opening.sign_record"}


_View = TypeVar("_View", CeremonyView, SessionView)


class BundleUnreadable(ValueError):
    """The file is not an evalroom bundle this verifier can read."""


@dataclass(frozen=True)
class Problem:
    subject: str  # "event tender:T1#3", "checkpoint tender:T1@5", "receipt ...", "report ..."
    reason: str

    def __str__(self) -> str:
        return f"FAIL {self.subject}: {self.reason}"


@dataclass
class Result:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def _span(stream: str, first: int, last: int) -> str:
    return f"event {stream}#{first}" if first == last else f"events {stream}#{first}..#{last}"


@dataclass
class _Head:
    """A validly signed checkpoint of one stream."""

    size: int
    root: bytes
    label: str


@dataclass
class _Stream:
    """What the checks of one stream established, for the receipt and report checks."""

    name: str
    tree: MerkleLog
    events: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    leaves: dict[int, bytes] = field(default_factory=dict)
    heads: dict[int, _Head] = field(default_factory=dict)
    signed_ok: set[int] = field(default_factory=set)
    named: set[int] = field(default_factory=set)  # seqs a failure already names
    pending: list[tuple[int, Problem]] = field(default_factory=list)
    # Its events folded by the participants' folds (``clients.folds``), once checked.
    tender_view: CeremonyView | None = None
    session_view: SessionView | None = None


class BundleVerifier:
    def __init__(
        self,
        bundle: Mapping[str, Any],
        *,
        log_key: str | None = None,
        platform_key: str | None = None,
        checkpoints: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.bundle = bundle
        self.pinned_log_key = log_key
        self.pinned_platform_key = platform_key
        self.extra_checkpoints = list(checkpoints)  # (label, note)
        self.result = Result()
        self.streams: dict[str, _Stream] = {}
        self.log_key: LogKey | None = None
        self.origin_prefix = ""
        self.platform_key: VerifyKey | None = None
        self.users: dict[str, VerifyKey] = {}

    def fail(self, subject: str, reason: str) -> None:
        self.result.problems.append(Problem(subject, reason))

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> Result:
        if self.bundle.get("format") != FORMAT:
            self.fail("bundle", f"format is {self.bundle.get('format')!r}, expected {FORMAT!r}")
            return self.result
        self._keys()
        streams = self.bundle.get("streams")
        if not isinstance(streams, list) or not streams:
            self.fail("bundle", "no streams")
            return self.result
        for item in streams:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                self.fail("bundle", "a stream without a name")
                continue
            if name in self.streams:
                self.fail(f"stream {name}", "listed twice")
                continue
            self._guarded(f"stream {name}", self._stream, item)
        self._guarded("commitments", self._commitments, streams)
        receipts = _items(self.bundle.get("receipts", []))
        for item in receipts:
            self._guarded("receipt", self._receipt, item)
        if receipts:
            self.result.summary.append(f"receipts      {len(receipts)} checked")
        self._openings()
        self._handovers()
        self._reports()
        self._awards()
        for label, note in self.extra_checkpoints:
            self._guarded(f"checkpoint ({label})", self._outside_checkpoint, label, note)
        return self.result

    def _guarded(self, subject: str, check: Any, *args: Any) -> None:
        """Run one check; a malformed part of the bundle is a failure, never a traceback."""
        try:
            check(*args)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.fail(subject, f"malformed: {type(exc).__name__}: {exc}")

    # -- keys ------------------------------------------------------------------------------
    def _keys(self) -> None:
        found = self.bundle.get("log")
        log: Mapping[str, Any] = found if isinstance(found, dict) else {}
        listed = log.get("verifier_key")
        chosen = self.pinned_log_key or listed
        try:
            self.log_key = parse_verifier_key(chosen) if isinstance(chosen, str) else None
        except CheckpointError as exc:
            self.fail("log key", f"{exc}")
        if self.log_key is None:
            self.fail("log key", "no usable log verifier key: no checkpoint can be trusted")
        elif self.pinned_log_key and listed != self.pinned_log_key:
            self.note("the bundle names another log key than the pinned one; using the pinned")
        if self.log_key is not None:
            derived = "evalroom/" + hashlib.sha256(self.log_key.public_key.raw()).hexdigest()[:12]
            self.origin_prefix = str(log.get("origin_prefix", derived))
            if self.origin_prefix != derived:
                self.fail("log key", f"origin prefix {self.origin_prefix!r} is not the key's")
            self.result.summary.append(f"log key       {self.log_key.to_string()}")
        platform = self.pinned_platform_key or self.bundle.get("platform_key")
        try:
            self.platform_key = VerifyKey.from_string(platform) if platform else None
        except KeyFormatError as exc:
            self.fail("platform key", str(exc))
        if self.platform_key is not None:
            self.result.summary.append(f"platform key  {self.platform_key.to_string()}")
        users = self.bundle.get("users")
        for user_id, info in users.items() if isinstance(users, dict) else []:
            try:
                self.users[user_id] = VerifyKey.from_string(info["signing_key"])
            except (KeyFormatError, KeyError, TypeError):
                continue  # e.g. the platform's own "system" actor, which never signs

    # -- one stream ------------------------------------------------------------------------
    def _stream(self, item: Mapping[str, Any]) -> None:
        name = item["name"]
        state = self.streams[name] = _Stream(name, MerkleLog())
        events = list(_items(item.get("events", [])))
        try:
            self._events(state, events)
        finally:
            self._flush(state)
        self._checkpoints(state, item)
        covered = max(state.heads, default=0)
        last = max(state.events, default=0)
        if last > covered:
            self.fail(
                _span(name, covered + 1, last),
                "not covered by any signed checkpoint"
                + (f" (the latest covers #1..#{covered})" if covered else ""),
            )
        head = item.get("head")
        if isinstance(head, int) and head != last:
            if head > last:
                self.fail(_span(name, last + 1, head), f"missing: the stream's head is #{head}")
            else:
                self.fail(_span(name, head + 1, last), f"beyond the stream's head #{head}")
        self.result.summary.append(
            f"{name:<24} {last} events, {len(state.heads)} signed checkpoints,"
            f" {len(state.signed_ok)} actor signatures"
        )

    # -- the opening's commitments to the bidders' own streams ------------------------------
    def _commitments(self, streams: list[Any]) -> None:
        """Each ``bids.committed`` event of a tender names every bidder company's own stream
        with the size and Merkle root it had at the opening: the bundle's events of that
        stream must give that root, and every bid stream of the tender must be named."""
        bid_streams = {
            item["name"]: item.get("parent")
            for item in streams
            if isinstance(item, dict) and item.get("kind") == "bid"
        }
        checked = 0
        for tender, state in self.streams.items():
            if not tender.startswith("tender:"):
                continue
            view = self._tender_view(state)
            seq = view.seq_of.get("bids.committed")
            if seq is None:
                continue
            subject = f"commitment {tender}#{seq}"
            named = set()
            for entry in view.committed:
                name, size = entry["stream"], entry["size"]
                named.add(name)
                checked += 1
                own = self.streams.get(name)
                if own is None:
                    self.fail(subject, f"bid stream {name} is not in the bundle")
                elif own.tree.size < size:
                    self.fail(
                        subject,
                        f"{name} has {own.tree.size} verifiable events; the opening"
                        f" committed to {size}",
                    )
                elif own.tree.root(size) != _b64(entry["root"]):
                    self.fail(
                        subject,
                        f"{name}#1..#{size} is not what the opening committed to:"
                        " changed after the opening",
                    )
            for name in sorted(n for n, p in bid_streams.items() if p == tender):
                if name not in named:
                    self.fail(subject, f"bid stream {name} was not committed at the opening")
        if checked:
            self.result.summary.append(f"commitments   {checked} bid streams checked")

    # -- what the streams say, folded as a participant's client folds them -----------------
    def _said(self, state: _Stream) -> Iterable[dict[str, Any]]:
        """The stream's events as its actors said them: a signed event only when its
        signature verified, and an act of ``SIGNED_ACTS`` only when signed as that command."""
        for seq, event in sorted(state.events.items()):
            act = SIGNED_ACTS.get(event["type"])
            if event["sig"] is not None or act is not None:
                if seq not in state.signed_ok:
                    continue
                if act is not None and event["payload"]["command"]["type"] != act:
                    continue
            yield dict(event)

    def _fold(self, state: _Stream, view: _View) -> _View:
        for event in self._said(state):
            view.apply(event)
        return view

    def _tender_view(self, state: _Stream) -> CeremonyView:
        if state.tender_view is None:
            state.tender_view = self._fold(state, CeremonyView(state.name))
        return state.tender_view

    def _session_view(self, state: _Stream) -> SessionView:
        if state.session_view is None:
            state.session_view = self._fold(state, SessionView(state.name))
        return state.session_view

    def _event_fail(self, state: _Stream, first: int, reason: str, last: int | None = None) -> None:
        """A failure naming events: kept until the stream's events are done, then in seq order."""
        last = first if last is None else last
        state.named.update(range(first, last + 1))
        state.pending.append((first, Problem(_span(state.name, first, last), reason)))

    def _flush(self, state: _Stream) -> None:
        state.pending.sort(key=lambda pending: pending[0])
        self.result.problems.extend(problem for _seq, problem in state.pending)
        state.pending.clear()

    def _events(self, state: _Stream, events: list[Mapping[str, Any]]) -> None:
        """Check numbering, leaves and signatures, and build the Merkle log of the records."""
        name = state.name
        expected = 1
        mismatched: list[int] = []
        for event in events:
            seq = event.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool):
                self.fail(f"event {name}#?", f"seq {seq!r} is not a number (after #{expected - 1})")
                continue
            if seq > expected:
                self._event_fail(
                    state,
                    expected,
                    f"missing: the seqs jump from #{expected - 1} to #{seq}",
                    seq - 1,
                )
            elif seq < expected:
                self._event_fail(state, seq, f"out of order or duplicated (expected #{expected})")
            expected = max(expected, seq + 1)
            if event.get("stream") != name:
                self._event_fail(
                    state, seq, f"belongs to stream {event.get('stream')!r}, listed in {name}"
                )
            missing = [f for f in EVENT_FIELDS if f not in event]
            if missing:
                self._event_fail(state, seq, f"record lacks {', '.join(missing)}")
                continue
            try:
                leaf = event_leaf_hash(event)
            except Exception as exc:  # rfc8785 refuses what has no canonical form
                self._event_fail(state, seq, f"record has no canonical JSON form ({exc})")
                continue
            state.tree.append(leaf)
            state.events.setdefault(seq, event)
            state.leaves.setdefault(seq, leaf)
            if "leaf_hash" in event:
                try:
                    stored = _b64(event["leaf_hash"])
                except ValueError:
                    stored = b""
                if stored != leaf:
                    mismatched.append(seq)
            if event["sig"] is not None:
                self._signature(state, seq, event)
        for seq in mismatched:
            other = self._committed_as(state, seq, mismatched)
            self._event_fail(
                state,
                seq,
                f"was committed as #{other}: events reordered"
                if other is not None
                else "record does not hash to the leaf hash written when it was committed:"
                " changed after commit",
            )

    def _committed_as(self, state: _Stream, seq: int, seqs: list[int]) -> int | None:
        """The other seq under which this record hashes to its stored leaf, if any."""
        event = state.events.get(seq)
        if event is None:
            return None
        try:
            stored = _b64(event["leaf_hash"])
        except ValueError:
            return None
        for other in seqs:
            if other != seq and event_leaf_hash({**event, "seq": other}) == stored:
                return other
        return None

    def _signature(self, state: _Stream, seq: int, event: Mapping[str, Any]) -> None:
        actor = event["actor"]
        key = self.users.get(actor) if isinstance(actor, str) else None
        payload = event["payload"]
        command = payload.get("command") if isinstance(payload, dict) else None
        if key is None:
            self._event_fail(
                state, seq, f"signed, but the bundle has no usable public key for actor {actor!r}"
            )
        elif not isinstance(command, dict) or set(command) != {"id", "stream", "type", "body"}:
            self._event_fail(
                state,
                seq,
                "signed, but the payload lacks the signed command {id, stream, type, body}",
            )
        elif command["stream"] != state.name:
            self._event_fail(state, seq, f"signed command is for stream {command['stream']!r}")
        elif not isinstance(event["sig"], str) or not key.verify(
            canonical_json(command), event["sig"]
        ):
            self._event_fail(
                state, seq, f"signature by {actor} does not verify over the signed command"
            )
        else:
            state.signed_ok.add(seq)

    # -- checkpoints -----------------------------------------------------------------------
    def _open(self, stream: str, note: Any) -> Checkpoint:
        if self.log_key is None:
            raise CheckpointError("unknown_key", "no log key to check it with")
        return open_checkpoint(note, [self.log_key], origin=f"{self.origin_prefix}/{stream}")

    def _checkpoints(self, state: _Stream, item: Mapping[str, Any]) -> None:
        name, tree = state.name, state.tree
        for entry in _items(item.get("checkpoints", [])):
            label = f"checkpoint {name}@{entry.get('size')}"
            try:
                cp = self._open(name, entry.get("note"))
            except CheckpointError as exc:
                self.fail(label, f"not a valid signed checkpoint of this log: {exc} ({exc.code})")
                continue
            label = f"checkpoint {name}@{cp.size}"
            if entry.get("size") != cp.size or entry.get("root") != _text_b64(cp.root):
                self.fail(label, "the listed size or root differ from the signed note")
            known = state.heads.get(cp.size)
            if known is not None:
                if known.root != cp.root:
                    self.fail(
                        label,
                        "two validly signed checkpoints of this size with different roots: the log forked",
                    )
                continue
            state.heads[cp.size] = _Head(cp.size, cp.root, label)
        good = 0
        first_bad: int | None = None
        for size in sorted(state.heads):
            head = state.heads[size]
            if size > tree.size:
                self.fail(
                    head.label,
                    f"signed for {size} events; the bundle holds {tree.size}: events removed",
                )
            elif tree.root(size) != head.root:
                where = f" (the first difference lies in {_span(name, good + 1, size)})"
                self.fail(
                    head.label,
                    "signed root does not match the events #1..#"
                    f"{size} in the bundle" + (where if first_bad is None else ""),
                )
                if first_bad is None and good + 1 == size and size not in state.named:
                    self.fail(
                        f"event {name}#{size}",
                        f"differs from what checkpoint @{size} signed (checkpoint @{good} still matches)",
                    )
                first_bad = size if first_bad is None else first_bad
            elif first_bad is None:
                good = size
        self._consistency(state, item)

    def _consistency(self, state: _Stream, item: Mapping[str, Any]) -> None:
        links: dict[tuple[int, int], Any] = {}
        for link in _items(item.get("consistency", [])):
            links[(link.get("from"), link.get("to"))] = link.get("proof")
        sizes = sorted(state.heads)
        for first, second in zip(sizes, sizes[1:], strict=False):
            label = state.heads[second].label
            proof = links.get((first, second))
            if proof is None:
                self.fail(label, f"the bundle has no consistency proof from @{first}")
                continue
            hashes = [_b64(p) for p in proof] if isinstance(proof, list) else []
            root1, root2 = state.heads[first].root, state.heads[second].root
            if not verify_consistency(first, second, root1, root2, hashes):
                self.fail(
                    label,
                    f"not shown consistent with checkpoint @{first}: the bundle's consistency"
                    " proof fails (the signed heads fork, or the events changed after signing)",
                )

    def _outside_checkpoint(self, label: str, note: str) -> None:
        """A tree head kept outside the bundle: it must be a prefix of the bundle's history."""
        subject = f"checkpoint ({label})"
        try:
            if self.log_key is None:
                raise CheckpointError("unknown_key", "no log key")
            origin = open_checkpoint(note, [self.log_key]).origin
        except CheckpointError as exc:
            self.fail(subject, f"not a valid signed checkpoint of this log: {exc}")
            return
        prefix = self.origin_prefix + "/"
        stream = origin[len(prefix) :] if origin.startswith(prefix) else None
        state = self.streams.get(stream or "")
        if state is None:
            self.fail(subject, f"is for {origin!r}, a log not in this bundle")
            return
        cp = self._open(state.name, note)
        subject = f"checkpoint {state.name}@{cp.size} ({label})"
        if cp.size > state.tree.size:
            self.fail(
                subject,
                f"the bundle holds only {state.tree.size} events: {_span(state.name, state.tree.size + 1, cp.size)} missing",
            )
        elif state.tree.root(cp.size) != cp.root:
            self.fail(
                subject,
                f"validly signed, but its root differs from events #1..#{cp.size} of the bundle: the log forked",
            )
        else:
            self.result.summary.append(f"{subject}: consistent with the bundle")

    # -- receipts --------------------------------------------------------------------------
    def _receipt(self, item: Mapping[str, Any]) -> None:
        receipt = item["receipt"]
        stream, seq = receipt.get("stream"), receipt.get("seq")
        subject = f"receipt {stream}#{seq}"
        if not isinstance(stream, str) or not isinstance(seq, int):
            self.fail(subject, "a receipt must name its stream and seq")
            return
        if self.platform_key is None or not self.platform_key.verify(
            canonical_json(receipt), str(item.get("sig"))
        ):
            self.fail(subject, "the platform's signature does not verify")
        inclusion = item.get("inclusion")
        if not isinstance(inclusion, dict):
            self.fail(subject, "no inclusion proof (no signed checkpoint covered it at export)")
            return
        if inclusion.get("seq") != seq or inclusion.get("stream", stream) != stream:
            self.fail(subject, "the inclusion proof is for another event")
            return
        size = inclusion.get("size")
        state = self.streams.get(stream)
        if state is None or not isinstance(size, int):
            self.fail(subject, "its stream is not in the bundle")
            return
        root = self._receipt_root(subject, state, size, inclusion.get("checkpoint"))
        if root is None:
            return
        leaf = state.leaves.get(seq)
        if "leaf_hash" in receipt:
            receipted = _b64(receipt["leaf_hash"])
            if leaf is not None and leaf != receipted:
                self.fail(subject, f"event {stream}#{seq} in the bundle is not the receipted one")
            leaf = receipted
        if leaf is None:
            self.fail(subject, f"event {stream}#{seq} is not in the bundle")
            return
        listed = inclusion.get("proof")
        proof = [_b64(p) for p in listed] if isinstance(listed, list) else []
        if not verify_inclusion(leaf, seq - 1, size, proof, root):
            self.fail(subject, f"the inclusion proof does not verify against checkpoint @{size}")

    def _receipt_root(self, subject: str, state: _Stream, size: int, note: Any) -> bytes | None:
        head = state.heads.get(size)
        if note is not None:
            try:
                cp = self._open(state.name, note)
            except CheckpointError as exc:
                self.fail(subject, f"its checkpoint is not validly signed: {exc}")
                return None
            if cp.size != size or (head is not None and head.root != cp.root):
                self.fail(subject, f"its checkpoint @{cp.size} forks from the bundle's checkpoint")
                return None
            if size <= state.tree.size and state.tree.root(size) != cp.root:
                self.fail(subject, f"its checkpoint @{size} does not match the bundle's events")
            return cp.root
        if head is None:
            self.fail(subject, f"the bundle has no signed checkpoint @{size}")
            return None
        return head.root

    # -- session bids and the signed opening record ---------------------------------------
    def _handovers(self) -> None:
        for name, state in list(self.streams.items()):
            if name.startswith("session:") and state.events:
                self._guarded(f"session {name}", self._handover, state)

    def _handover(self, session: _Stream) -> None:
        """The session's bids, prices included, are the signed opening record's (开标记录)."""
        name = session.name
        first = session.events.get(1)
        if first is None or first["type"] != "session.created":
            what = "missing" if first is None else first["type"]
            self.fail(
                f"event {name}#1",
                f"is {what}, not session.created: the session's bids cannot be traced to a"
                " signed opening record",
            )
            return
        view = self._session_view(session)
        tender = self.streams.get(f"tender:{view.tender}")
        if tender is None:
            self.fail(f"session {name}", f"its tender tender:{view.tender} is not in the bundle")
            return
        claimed = view.opening_record
        if not claimed:
            self.fail(f"event {name}#1", "session.created names no signed opening record")
            return
        opening = self._tender_view(tender)
        records = [
            SignedRecord(stage.record_seq, stage.record)
            for stage in opening.stages.values()
            if stage.record is not None
        ]
        try:
            handover = session_bids(records, view.section)
        except RuleError as exc:
            self.fail(
                f"session {name}",
                f"the signed opening record of {tender.name} hands over no bids: {exc.message}",
            )
            return
        if not self._record_reference(name, tender, claimed, handover.reference):
            return
        self._record_signers(tender, opening, handover.reference)
        if view.bids is None:
            self.fail(f"session {name}", "no session.bids event: its bids are not in the bundle")
            return
        for difference in bid_differences(view.bids, handover.bids):
            self.fail(f"event {name}#{view.seq_of['session.bids']}", difference)
        for item in _items(self.bundle.get("reports", [])):
            report = item.get("report")
            if item.get("stream") == name and isinstance(report, dict):
                for difference in bid_differences(_items(report.get("bids")), handover.bids):
                    self.fail(f"report {name}", difference)
        stages = ", ".join(f"{r['stage']} {tender.name}#{r['seq']}" for r in handover.reference)
        self.result.summary.append(
            f"session {name}: {len(handover.bids)} bids as in the signed opening record ({stages})"
        )

    def _openings(self) -> None:
        # Per tender, not per session: a tender with no session yet (or one that failed) is
        # checked, and one with several sessions is not named twice for one record.
        for name, state in list(self.streams.items()):
            if name.startswith("tender:") and state.events:
                self._guarded(f"opening record of {name}", self._control_prices, state)

    def _control_prices(self, tender: _Stream) -> None:
        """Each read-out price's standing (否决投标 above the limit) is the one the control
        price published with the tender (its last ``tender.configured``) gives it."""
        configured = [
            e for _, e in sorted(tender.events.items()) if e["type"] == "tender.configured"
        ]
        records = [
            SignedRecord(stage.record_seq, stage.record)
            for stage in self._tender_view(tender).stages.values()
            if stage.record is not None
        ]
        if not configured or not records:
            return
        payload = configured[-1]["payload"]
        for difference in control_differences(records, payload):
            self.fail(f"opening record of {tender.name}", difference)
        controlled = [
            s
            for s in payload.get("sections") or []
            if isinstance(s, dict) and s.get("control_price")
        ]
        if controlled:
            self.result.summary.append(
                f"opening record of {tender.name}: each read-out price held to the published"
                f" control price of {len(controlled)} section(s)"
            )

    def _record_reference(
        self,
        name: str,
        tender: _Stream,
        claimed: list[Any],
        expected: list[dict[str, Any]],
    ) -> bool:
        """The session names the record's events, and its digests are theirs."""
        ok = True
        for ref in _items(claimed):
            seq, digest = ref.get("seq"), ref.get("digest")
            event = tender.events.get(seq) if isinstance(seq, int) else None
            if event is None or event["type"] != RECORD_EVENT:
                what = "missing" if event is None else event["type"]
                self.fail(
                    f"event {name}#1",
                    f"names event {tender.name}#{seq} as its opening record, but that is {what}",
                )
                ok = False
            elif record_digest(event["payload"]) != digest:
                self.fail(
                    f"event {name}#1",
                    f"records digest {digest} of the opening record {tender.name}#{seq},"
                    f" which hashes to {record_digest(event['payload'])}",
                )
                ok = False
        if ok and [dict(r) for r in _items(claimed)] != expected:
            shown = ", ".join(f"{r['stage']} #{r['seq']}" for r in expected)
            self.fail(
                f"event {name}#1",
                f"names {len(claimed)} opening record(s); the signed record is {shown}",
            )
            ok = False
        return ok

    def _record_signers(
        self, tender: _Stream, opening: CeremonyView, reference: list[dict[str, Any]]
    ) -> None:
        """Each record's signers signed it: a valid ``opening.record_signed`` before it (the
        fold takes only validly signed ones, see ``_said``)."""
        used = {r["seq"] for r in reference}
        for stage in opening.stages.values():
            if stage.record is None or stage.record_seq not in used:
                continue
            signers = stage.record.get("signed_by")
            for role, by in signers.items() if isinstance(signers, dict) else []:
                if stage.record_signed_by.get(role) != by:
                    self.fail(
                        f"event {tender.name}#{stage.record_seq}",
                        f"the opening record names {by} as its {role}, but no validly signed"
                        " opening.record_signed of theirs precedes it",
                    )

    # -- awards (定标): clients/verify_award.py ----------------------------------------------
    def _awards(self) -> None:
        reports = {i.get("stream"): i.get("report") for i in _items(self.bundle.get("reports", []))}
        for name, state in self.streams.items():
            if not name.startswith("session:"):
                continue
            events = [state.events[seq] for seq in sorted(state.events)]
            if not any(e["type"] == "award.set_up" for e in events):
                continue
            report = reports.get(name)
            recommended = _items(report.get("recommended")) if isinstance(report, dict) else None
            self._guarded(f"award {name}", self._award, state, events, recommended)

    def _award(self, state: _Stream, events: list[Any], recommended: list[Any] | None) -> None:
        checked = check_award(state.name, events, state.signed_ok, recommended)
        for subject, reason in checked.problems:
            self.fail(subject, reason)
        self.result.summary.extend(checked.summary)
        self.result.notes.extend(checked.notes)

    # -- reports ---------------------------------------------------------------------------
    def _reports(self) -> None:
        reports = list(_items(self.bundle.get("reports", [])))
        if not reports:
            sessions = [s for s in self.streams if s.startswith("session:")]
            if sessions:
                self.note(f"no report in the bundle for {', '.join(sessions)}: ranking not checked")
            return
        for item in reports:
            subject = f"report {item.get('stream')}"
            self._guarded(subject, self._report, subject, item.get("stream"), item.get("report"))

    def _report(self, subject: str, stream: str, report: Mapping[str, Any]) -> None:
        try:
            method = ScoringMethod.from_dict(report["method"])
            bids = [
                BidFigures.from_dict({k: v for k, v in b.items() if k in BID_FIELDS})
                for b in report["bids"]
            ]
            sheets = [ExpertSheet.from_dict(s) for s in report["sheets"]]
            fp_text = report.get("floating_point")
            floating = None if fp_text is None else Decimal(str(fp_text))
            chair = next(
                (m.get("expert") for m in report.get("committee", []) if m.get("chair")), None
            )
            ranking = evaluate(method, bids, sheets, floating, chair=chair).to_dict()
        except (RuleError, InvalidOperation) as exc:
            self.fail(subject, f"cannot re-run the evaluation: {exc}")
            return
        claimed = report.get("ranking")
        if not isinstance(claimed, dict) or canonical_json(claimed) != canonical_json(ranking):
            self.fail(
                subject,
                f"the ranking does not follow from the scores: {_ranking_diff(claimed, ranking)}",
            )
        else:
            self.result.summary.append(f"{subject}: ranking recomputed from {len(sheets)} sheets")
        listed = report.get("recommended")
        if (
            isinstance(listed, list)
            and [r.get("bid_id") if isinstance(r, dict) else r for r in listed]
            != ranking["recommended"]
        ):
            self.fail(subject, f"recommends {listed}, the ranking {ranking['recommended']}")
        state = self.streams.get(stream)
        if state is None:
            self.fail(subject, f"its stream {stream} is not in the bundle")
            return
        self._signed_sheets(subject, state, sheets)
        self._report_signatures(subject, state, report, [s.expert_id for s in sheets])

    def _signed(self, state: _Stream) -> Iterable[tuple[int, str, Mapping[str, Any]]]:
        """(seq, actor, signed command body) of the stream's validly signed events.

        Not the fold: a fold holds what the server published (a revealed sheet, a payload's
        score), while a report's scores and digests must be what the experts themselves
        signed, so these checks read the signed commands."""
        for seq in sorted(state.signed_ok):
            event = state.events[seq]
            yield seq, event["actor"], event["payload"]["command"]["body"]

    def _signed_sheets(self, subject: str, state: _Stream, sheets: list[ExpertSheet]) -> None:
        """Every score and verdict in the report is the expert's last signed one for it."""
        scores: dict[tuple[str, str, str], tuple[int, Any]] = {}
        verdicts: dict[tuple[str, str, str], tuple[int, Any]] = {}
        for seq, actor, body in self._signed(state):
            if not isinstance(body, dict) or not {"bid", "criterion"} <= set(body):
                continue
            key = (actor, str(body["bid"]), str(body["criterion"]))
            if "score" in body:
                scores[key] = (seq, body["score"])
            if isinstance(body.get("pass"), bool):
                verdicts[key] = (seq, body["pass"])
        checked = 0
        for sheet in sheets:
            who = f"{subject}: {sheet.expert_id}"
            for bid, row in sheet.scores.items():
                for criterion, value in row.items():
                    found = scores.get((sheet.expert_id, bid, criterion))
                    checked += 1
                    if found is None:
                        self.fail(who, f"score {bid}/{criterion} {value} was never signed by them")
                    elif _decimal(found[1]) != value:
                        self.fail(
                            who,
                            f"score {bid}/{criterion} is {value} in the report but"
                            f" {found[1]} in their last signed score, event {state.name}#{found[0]}",
                        )
            for bid, verdict_row in sheet.verdicts.items():
                for criterion, passed in verdict_row.items():
                    got = verdicts.get((sheet.expert_id, bid, criterion))
                    checked += 1
                    if got is None or got[1] != passed:
                        where = f", event {state.name}#{got[0]}" if got else ""
                        self.fail(
                            who,
                            f"verdict {bid}/{criterion} {passed} is not their last signed one{where}",
                        )
        self.result.summary.append(f"{subject}: {checked} scores and verdicts match signed ones")

    def _report_signatures(
        self, subject: str, state: _Stream, report: Mapping[str, Any], experts: list[str]
    ) -> None:
        """Experts sign the report's digest (SHA-256 of its canonical JSON)."""
        digest = hashlib.sha256(canonical_json(dict(report))).hexdigest()
        signers: set[str] = set()
        for seq, actor, body in self._signed(state):
            signed = body.get("report_digest") if isinstance(body, dict) else None
            if signed is None:
                continue
            if signed == digest:
                signers.add(actor)
            else:
                self.fail(
                    subject,
                    f"{actor} signed another report (digest {signed}) in event {state.name}#{seq}",
                )
        missing = [e for e in experts if e not in signers]
        if missing:
            self.note(f"{subject}: not signed (yet) by {', '.join(missing)}")
        else:
            self.result.summary.append(f"{subject}: signed by all {len(experts)} experts")


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _items(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _ranking_diff(claimed: Any, ranking: Mapping[str, Any]) -> str:
    if not isinstance(claimed, dict):
        return "the report has no ranking"
    if claimed.get("recommended") != ranking.get("recommended"):
        return f"recommended {claimed.get('recommended')} but the rules give {ranking.get('recommended')}"
    ours = {b["bid_id"]: b for b in ranking.get("bids", [])}
    for bid in _items(claimed.get("bids")):
        mine = ours.get(bid.get("bid_id"))
        if mine is None:
            return f"bid {bid.get('bid_id')} is not among the evaluated bids"
        for key in ("rank", "total", "price_score", "expert_part", "passed"):
            if bid.get(key) != mine.get(key):
                return (
                    f"bid {bid['bid_id']}: {key} {bid.get(key)} but the rules give {mine.get(key)}"
                )
    return "some figure differs"


# -- reading and the command line ------------------------------------------------------------


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle (JSON, or gzip'd JSON); raises ``BundleUnreadable``."""
    try:
        data = Path(path).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        bundle = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, EOFError) as exc:
        raise BundleUnreadable(f"{path}: {exc}") from exc
    if not isinstance(bundle, dict):
        raise BundleUnreadable(f"{path}: not a JSON object")
    return bundle


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    log_key: str | None = None,
    platform_key: str | None = None,
    checkpoints: Sequence[tuple[str, str]] = (),
) -> Result:
    """Check ``bundle``; the result lists every failure (empty when all holds)."""
    return BundleVerifier(
        bundle, log_key=log_key, platform_key=platform_key, checkpoints=checkpoints
    ).run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="evalroom-verify",
        description="Verify an evalroom evidence bundle offline (证据包离线校验).",
    )
    parser.add_argument("bundle", help="bundle file (.json or .json.gz)")
    parser.add_argument("--log-key", help="trusted log verifier key (name+id+key)")
    parser.add_argument("--platform-key", help="trusted platform key (ed25519:...)")
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="NOTE_FILE",
        help="a signed checkpoint kept elsewhere; must agree with the bundle (repeatable)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    args = parser.parse_args(argv)
    try:
        bundle = load_bundle(args.bundle)
        extra = [(name, Path(name).read_text(encoding="utf-8")) for name in args.checkpoint]
    except (BundleUnreadable, OSError, UnicodeDecodeError) as exc:
        print(f"evalroom-verify: cannot read: {exc}", file=sys.stderr)
        return 2
    result = verify_bundle(
        bundle, log_key=args.log_key, platform_key=args.platform_key, checkpoints=extra
    )
    if not args.quiet:
        print(
            f"bundle {bundle.get('target')} ({bundle.get('format')}) exported {bundle.get('exported_at')}"
        )
        for line in result.summary:
            print(f"  {line}")
        for text in result.notes:
            print(f"note: {text}")
    for problem in result.problems:
        print(problem)
    if result.ok:
        print("OK: every check holds")
        return 0
    print(f"FAILED: {len(result.problems)} problem(s)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
