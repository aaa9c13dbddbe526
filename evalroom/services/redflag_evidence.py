"""The evidence red flags of a tender after its opening (身份、来源与文件雷同预警).

:func:`evidence_signals` gathers, for every bid decrypted at the opening (every stage), its
uploads' origins from the database (client address, login-key fingerprint), the sealing
machine's keyed hashes, documents and form from the opened package, and returns the identity
and document signals of ``domain/redflags/identity.py`` and ``documents.py``. It only reads:
recording the signals as events and showing them is the red-flag pipeline's job.

The packages are read one at a time through a temporary file (bounded memory), and the CPU
work runs in a worker thread so the node's event loop keeps serving while it runs.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evalroom.db import Executor, blobs, origins
from evalroom.db import events as store
from evalroom.domain.redflags.documents import Document, FormFacts, document_signals
from evalroom.domain.redflags.identity import BidOrigin, identity_signals
from evalroom.domain.redflags.signal import Signal
from evalroom.domain.redflags.thresholds import Thresholds
from evalroom.domain.rules import RuleError
from evalroom.services.document_facts import PackageFacts, package_facts

__all__ = ["OpenedBid", "evidence_signals", "opened_bids"]


@dataclass
class OpenedBid:
    """One bid (an opening number) with what its stages' envelopes tell."""

    number: str
    org: str
    uploads: list[str] = field(default_factory=list)  # the sealed envelopes
    plains: list[str] = field(default_factory=list)  # the opened packages
    form: dict[str, Any] = field(default_factory=dict)  # the stages' validated forms merged


def opened_bids(state: Mapping[str, Any]) -> list[OpenedBid]:
    """The tender's decrypted bids by number, from its state (``opening.<stage>.bids``)."""
    found: dict[str, OpenedBid] = {}
    for stage, entry in sorted(state.get("opening", {}).items()):
        if stage == "stage" or not isinstance(entry, dict):
            continue
        for number, bid in sorted(entry.get("bids", {}).items()):
            if bid.get("status") != "decrypted":
                continue
            opened = found.setdefault(number, OpenedBid(number, str(bid["org"])))
            opened.uploads.append(str(bid["upload"]))
            opened.plains.append(str(bid["plain"]))
            opened.form.update(bid.get("form") or {})
    return [found[n] for n in sorted(found)]


async def _facts(db: Executor, plain: str) -> PackageFacts | None:
    with tempfile.TemporaryFile() as f:
        async for chunk in blobs.chunks(db, plain):
            f.write(chunk)
        f.seek(0)
        try:
            return await asyncio.to_thread(package_facts, f)
        except Exception:  # not a readable ZIP: the opening recorded the form; no facts
            return None


async def evidence_signals(
    db: Executor, tender: str, thresholds: Thresholds | None = None
) -> list[Signal]:
    """Every identity and document signal of ``tender`` (``tender:<id>`` or ``<id>``).

    ``thresholds`` defaults to the tender configuration's ``red_flags`` object, if any, over
    the documented defaults. ``unknown_stream`` for a tender that does not exist; no signal
    before any bid is decrypted."""
    stream = tender if tender.startswith("tender:") else f"tender:{tender}"
    state = await store.stream_state(db, stream)
    if state is None:
        raise RuleError("unknown_stream", stream)
    if thresholds is None:
        raw = (state.get("config") or {}).get("red_flags")
        thresholds = Thresholds.from_dict(raw)
    bids = opened_bids(state)
    seen = await origins.upload_origins(db, [u for b in bids for u in b.uploads])
    identities, documents, forms = [], [], []
    for bid in bids:
        machine: dict[str, set[str]] = {}
        for plain in bid.plains:
            facts = await _facts(db, plain)
            if facts is None:
                continue
            for kind, hashes in (facts.origin or {}).items():
                machine.setdefault(kind, set()).update(hashes)
            documents += [
                Document(bid.number, bid.org, d.name, d.sha256, d.size, d.metadata, d.text)
                for d in facts.documents
            ]
        sources = [seen[u] for u in bid.uploads if u in seen]
        identities.append(
            BidOrigin(
                bid.number,
                bid.org,
                {k: frozenset(v) for k, v in machine.items()},
                frozenset(s.client_ip for s in sources if s.client_ip),
                frozenset(s.login_key for s in sources),
                bid.form,
            )
        )
        forms.append(FormFacts(bid.number, bid.org, bid.form))
    t = thresholds

    def compute() -> list[Signal]:
        return [*identity_signals(identities, t), *document_signals(documents, forms, t)]

    return await asyncio.to_thread(compute)
