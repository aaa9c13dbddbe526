"""Keep the last signed checkpoint seen per stream and check that each new one extends it.

A participant who remembers a tree head can tell whether the server later shows it another
history: on every reconnect (and every ``interval`` seconds) :meth:`LogWatch.follow` fetches the
stream's latest checkpoint and an RFC 9162 consistency proof from the one it kept. A new head
that does not extend the kept one raises (or reports) :class:`LogForked`; the kept note is
evidence the participant can hand to an auditor (``evalroom-verify BUNDLE --checkpoint FILE``).
Supervisors' clients run one.

The core (:meth:`LogWatch.advance`) is pure: give it a signed note and the proof, it answers.
:meth:`LogWatch.refresh` and :meth:`LogWatch.follow` fetch them over HTTP with the SDK's login.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from clients.sdk import Client
from crypto.checkpoint import Checkpoint, open_checkpoint, parse_verifier_key
from crypto.merkle import verify_consistency, verify_inclusion


class LogForked(Exception):
    """The server showed a tree head that does not extend the one kept for the stream."""

    def __init__(self, stream: str, kept: Checkpoint, shown: Checkpoint, why: str) -> None:
        super().__init__(f"{stream}: checkpoint @{shown.size} does not extend @{kept.size}: {why}")
        self.stream = stream
        self.kept = kept
        self.shown = shown
        self.why = why


def origin_prefix(log_key: str) -> str:
    """The deployment's origin prefix, derived from its log key as the server does."""
    raw = parse_verifier_key(log_key).public_key.raw()
    return "evalroom/" + hashlib.sha256(raw).hexdigest()[:12]


class LogWatch:
    """The last checkpoint seen of each stream, optionally kept in a JSON file."""

    def __init__(self, log_key: str, *, path: Path | None = None) -> None:
        self.log_key = log_key
        self.prefix = origin_prefix(log_key)
        self.path = path
        self.notes: dict[str, str] = {}
        if path is not None and path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("log_key") != log_key:
                raise ValueError(f"{path} was kept for another log key")
            self.notes = dict(saved.get("streams", {}))

    @classmethod
    async def from_server(cls, base_url: str, *, path: Path | None = None) -> LogWatch:
        """Trust the server's log key on first use (pin it instead when you can)."""
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            r = await http.get("/api/log/keys")
            r.raise_for_status()
            return cls(str(r.json()["log"]["verifier_key"]), path=path)

    def open(self, stream: str, note: str) -> Checkpoint:
        return open_checkpoint(note, [self.log_key], origin=f"{self.prefix}/{stream}")

    def last(self, stream: str) -> Checkpoint | None:
        note = self.notes.get(stream)
        return None if note is None else self.open(stream, note)

    def advance(self, stream: str, note: str, proof: Sequence[bytes] = ()) -> Checkpoint:
        """Accept ``note`` as the stream's new head if it extends the kept one (``proof`` is
        the consistency proof from the kept size); raise ``LogForked`` otherwise, keeping the
        old head. Raises ``CheckpointError`` if ``note`` is not a valid checkpoint of the log."""
        shown = self.open(stream, note)
        kept = self.last(stream)
        if kept is not None:
            if shown.size < kept.size:
                raise LogForked(stream, kept, shown, "the log shrank")
            if shown.size == kept.size and shown.root != kept.root:
                raise LogForked(stream, kept, shown, "same size, another root")
            if shown.size > kept.size and not verify_consistency(
                kept.size, shown.size, kept.root, shown.root, list(proof)
            ):
                raise LogForked(stream, kept, shown, "the consistency proof fails")
        self.notes[stream] = note
        self._save()
        return shown

    def _save(self) -> None:
        if self.path is not None:
            data = {"log_key": self.log_key, "streams": self.notes}
            self.path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    async def refresh(self, base_url: str, token: str, stream: str) -> Checkpoint | None:
        """Fetch the stream's latest checkpoint (and the proof from the kept one) and advance.

        Returns None while the stream has no checkpoint yet."""
        headers = {"authorization": f"Bearer {token}"}
        path = f"/api/log/{quote(stream, safe=':')}"
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            r = await http.get(f"{path}/checkpoint")
            if r.status_code == 404 and r.json().get("code") == "no_checkpoint":
                return None
            r.raise_for_status()
            note = str(r.json()["note"])
            shown = self.open(stream, note)
            kept = self.last(stream)
            proof: list[bytes] = []
            if kept is not None and shown.size > kept.size:
                r = await http.get(
                    f"{path}/proof/consistency",
                    params={"from": kept.size, "to": shown.size},
                )
                r.raise_for_status()
                proof = [base64.b64decode(p) for p in r.json()["proof"]]
        return self.advance(stream, note, proof)

    async def receipt_inclusion(
        self, base_url: str, token: str, receipt: Mapping[str, Any], *, leaf: bytes | None = None
    ) -> dict[str, Any]:
        """Prove a bid receipt's event is in the tender's log (回执上链校验), for a bidder.

        Fetches the inclusion proof of event (``receipt["stream"]``, ``receipt["seq"]``) against
        the latest signed checkpoint, advances the kept checkpoint to it (so the head is also
        checked against the ones seen before), and checks the proof for ``leaf`` (or the
        receipt's ``leaf_hash``; else the leaf the server names, which the bidder should compare
        with the event it received). Returns the ``inclusion`` object to keep beside the
        receipt, the shape ``clients/verify.py`` checks. Raises ``LogForked`` or ``ValueError``.
        """
        stream, seq = str(receipt["stream"]), int(receipt["seq"])
        if leaf is None and isinstance(receipt.get("leaf_hash"), str):
            leaf = base64.b64decode(receipt["leaf_hash"])
        head = await self.refresh(base_url, token, stream)
        if head is None or head.size < seq:
            raise ValueError(f"no signed checkpoint of {stream} covers #{seq} yet")
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            r = await http.get(
                f"/api/log/{quote(stream, safe=':')}/proof/inclusion",
                params={"seq": seq, "size": head.size},
            )
            r.raise_for_status()
            body = r.json()
        named = base64.b64decode(body["leaf_hash"])
        proof = [base64.b64decode(p) for p in body["proof"]]
        if leaf is not None and leaf != named:
            raise ValueError(f"{stream}#{seq} in the log is not the receipted event")
        if not verify_inclusion(named, seq - 1, head.size, proof, head.root):
            raise ValueError(f"the inclusion proof of {stream}#{seq} does not verify")
        return {
            "stream": stream,
            "seq": seq,
            "size": head.size,
            "proof": body["proof"],
            "checkpoint": self.notes[stream],
        }

    async def follow(
        self,
        client: Client,
        streams: Sequence[str],
        *,
        interval: float = 10.0,
        on_fork: Callable[[LogForked], Any] | None = None,
    ) -> None:
        """Check every stream on connect, on every reconnect and every ``interval`` seconds,
        until cancelled. A fork goes to ``on_fork`` (default: raise it)."""
        seen_reconnects = -1
        waited = 0.0
        tick = min(interval, 0.05)
        while True:
            await client.connected.wait()
            if client.reconnects != seen_reconnects or waited >= interval:
                seen_reconnects, waited = client.reconnects, 0.0
                for stream in streams:
                    try:
                        await self.refresh(client.base_url, client.token or "", stream)
                    except LogForked as fork:
                        if on_fork is None:
                            raise
                        on_fork(fork)
            await asyncio.sleep(tick)
            waited += tick
