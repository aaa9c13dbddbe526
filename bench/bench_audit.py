"""The audit log under load (a script, not a test): appends per second with proofs available,
and proof generation at a million events, each beside a baseline measured in the same run.

1. **Appends with proofs available.** One node as its own process (``evalroom serve``), C
   clients on their own WebSockets sending ``tender.notice`` closed-loop over S tender streams
   (as ``bench_commands.py``): every ack is an event committed with its leaf hash. With the audit
   on, the node signs a checkpoint of every grown stream every 2 s, and a prover asks over HTTP,
   continuously, for the inclusion proof of the newest acked event in the tree of that size
   (the node syncs its Merkle log from PostgreSQL to answer) and for the consistency proof from
   the latest signed checkpoint; it checks both. Reported: appends/s, ack p50/p99, proofs/s and
   their latency, and how long after its ack each event was covered by a signed checkpoint.
   Baselines: the same node and load with the audit idle (checkpoints every hour, no prover),
   and bare single-row ``INSERT`` transactions into the same ``events`` table at the same
   concurrency (asyncpg, no node).
2. **Proofs at a million events.** ``MerkleLog`` with N leaves: appends/s and inclusion /
   consistency proof generation (µs, random indexes) at full size. Baseline: ``hashlib.sha256``
   (one node hash per append; ``log2 N`` hashes per proof is the floor of a proof).
3. **Rebuild from PostgreSQL at a million events** (what a restarted node does): N leaf hashes
   inserted into one stream, then ``StreamLogs.synced`` and an inclusion proof through it.
   Baseline: reading the same rows without building the tree.

Usage::

    .venv/bin/python bench/bench_audit.py [--clients 16] [--streams 4] [--seconds 10]
        [--leaves 1000000] [--skip-pipeline] [--skip-rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, too

import asyncpg
import httpx

from bench.bench_commands import CommandClient, RunResult
from bench.harness import (
    Services,
    add_roles,
    add_users,
    argument_parser,
    free_port,
    login,
    machine_line,
    node_process,
    percentile,
    raise_fd_limit,
    run_bench,
    started,
)
from crypto.checkpoint import open_checkpoint
from crypto.keys import SigningKey
from crypto.merkle import MerkleLog, verify_consistency, verify_inclusion

# -- 1. appends with proofs available --------------------------------------------------------


@dataclass
class Prover:
    """Asks for proofs of the newest acked events while the clients append."""

    base_url: str
    token: str
    log_key: str
    streams: list[str]
    newest: dict[str, int]
    proofs: int = 0
    bad: int = 0
    latencies: list[float] = field(default_factory=list)

    async def loop(self, until: float) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30) as http:
            turn = 0
            while time.monotonic() < until:
                stream = self.streams[turn % len(self.streams)]
                turn += 1
                seq = self.newest.get(stream, 0)
                if seq == 0:
                    await asyncio.sleep(0.01)
                    continue
                started = time.perf_counter()
                ok = await self._prove(http, stream, seq)
                self.latencies.append(time.perf_counter() - started)
                self.proofs += 1
                self.bad += not ok

    async def _prove(self, http: httpx.AsyncClient, stream: str, seq: int) -> bool:
        base = f"/api/log/{stream}"
        inc = (await http.get(f"{base}/proof/inclusion", params={"seq": seq, "size": seq})).json()
        ok = verify_inclusion(
            base64.b64decode(inc["leaf_hash"]),
            seq - 1,
            seq,
            [base64.b64decode(p) for p in inc["proof"]],
            base64.b64decode(inc["root"]),
        )
        r = await http.get(f"{base}/checkpoint")
        if r.status_code != 200:
            return ok
        cp = open_checkpoint(r.json()["note"], [self.log_key])
        if cp.size >= seq:
            return ok
        con = await http.get(f"{base}/proof/consistency", params={"from": cp.size, "to": seq})
        body = con.json()
        return ok and verify_consistency(
            cp.size,
            seq,
            cp.root,
            base64.b64decode(body["to_root"]),
            [base64.b64decode(p) for p in body["proof"]],
        )


class AckClock(CommandClient):
    """A command client that notes, per stream, the newest acked seq and when it was acked."""

    def __init__(self, *args: Any, newest: dict[str, int], acked: dict[tuple[str, int], float]):
        super().__init__(*args)
        self.newest, self.acked = newest, acked

    async def one(self) -> bool:
        text = f"{time.time():.6f}|c{self.index}|"
        body = {"text": text + "x" * max(1, self.size - len(text))}
        answer = await self.command(self.stream, "tender.notice", body)
        if answer.get("t") != "ack":
            return False
        seq = int(answer["seq"])
        self.acked[(self.stream, seq)] = time.time()
        self.newest[self.stream] = max(self.newest.get(self.stream, 0), seq)
        return True


@dataclass
class PipelineRun:
    result: RunResult
    prover: Prover | None = None
    checkpoints: int = 0
    coverage: list[float] = field(default_factory=list)  # s from ack to a covering checkpoint
    uncovered: int = 0


async def run_pipeline(
    args: argparse.Namespace,
    services: Services,
    pool: asyncpg.Pool,
    audit_on: bool,
    proving: bool,
    tmp: Path,
) -> PipelineRun:
    run = uuid.uuid4().hex[:6]
    streams = [f"tender:audit-{run}-{i}" for i in range(args.streams)]
    users = [(f"a{i}-{run}", SigningKey.generate()) for i in range(args.clients)]
    await add_users(pool, [(u, None, k) for u, k in users])
    await add_roles(pool, [(users[0][0], "platform", "agency")])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = node_process(services, port, f"benchaudit{run}", tmp / f"node-{run}.log")
    server.env["EVALROOM_CHECKPOINT_SECONDS"] = "2" if audit_on else "3600"
    newest: dict[str, int] = {}
    acked: dict[tuple[str, int], float] = {}
    clients: list[AckClock] = []
    try:
        await server.start("/healthz")
        creator = CommandClient(0, users[0][0], users[0][1], streams[0], args.payload)
        await creator.open(base_url)
        for stream in streams:
            answer = await asyncio.wait_for(
                creator.command(stream, "tender.create", {"title": "bench"}), 30
            )
            if answer.get("t") != "ack":
                raise RuntimeError(f"tender.create refused: {answer}")
        await creator.close()
        await add_roles(pool, [(u, s, "supervisor") for u, _k in users for s in streams])
        for i, (user, key) in enumerate(users):
            c = AckClock(
                i, user, key, streams[i % len(streams)], args.payload, newest=newest, acked=acked
            )
            await c.open(base_url)
            clients.append(c)
        warm = RunResult("warm-up", len(clients), args.warmup)
        until = time.monotonic() + args.warmup
        await asyncio.gather(*(c.loop(until, warm) for c in clients))
        acked.clear()
        prover = None
        if proving:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                token = await login(http, users[0][0], users[0][1])
                log_key = (await http.get("/api/log/keys")).json()["log"]["verifier_key"]
            prover = Prover(base_url, token, log_key, streams, newest)
        label = ("audit on" + (" + prover" if proving else "")) if audit_on else "audit idle"
        result = RunResult(f"node, {label}", len(clients), args.seconds)
        t0 = time.monotonic()
        loops = [c.loop(t0 + args.seconds, result) for c in clients]
        if prover is not None:
            loops.append(prover.loop(t0 + args.seconds))
        await asyncio.gather(*loops)
        result.seconds = time.monotonic() - t0
        outcome = PipelineRun(result, prover)
        if audit_on:
            await asyncio.sleep(2.5)  # let the last periodic checkpoint land
            await _coverage(pool, streams, acked, outcome)
        return outcome
    finally:
        for c in clients:
            await c.close()
        server.stop()


async def _coverage(
    pool: asyncpg.Pool,
    streams: list[str],
    acked: dict[tuple[str, int], float],
    outcome: PipelineRun,
) -> None:
    rows = await pool.fetch(
        "SELECT stream, size, extract(epoch FROM created_at) AS at FROM checkpoints"
        " WHERE stream = ANY($1::text[]) ORDER BY stream, size",
        streams,
    )
    outcome.checkpoints = len(rows)
    heads: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        heads.setdefault(r["stream"], []).append((r["size"], float(r["at"])))
    for (stream, seq), at in acked.items():
        covering = next((t for size, t in heads.get(stream, []) if size >= seq), None)
        if covering is None:
            outcome.uncovered += 1
        else:
            outcome.coverage.append(max(0.0, covering - at))


async def run_inserts(args: argparse.Namespace, pool_url: str, seconds: float) -> RunResult:
    """Baseline: single-row INSERT transactions into ``events``, same concurrency."""
    stream = f"tender:raw-{uuid.uuid4().hex[:6]}"
    pool = await asyncpg.create_pool(pool_url, min_size=args.clients, max_size=args.clients)
    assert pool is not None
    try:
        await pool.execute("INSERT INTO streams (name, kind) VALUES ($1, 'tender')", stream)
        counter = iter(range(1, 1 << 62))
        payload = '{"text": "' + "x" * args.payload + '"}'
        result = RunResult("bare INSERT", args.clients, seconds)

        async def loop(until: float) -> None:
            async with pool.acquire() as conn:
                while time.monotonic() < until:
                    seq = next(counter)
                    started = time.perf_counter()
                    await conn.execute(
                        "INSERT INTO events (stream, seq, type, actor, at, payload, visibility,"
                        " sig, leaf_hash) VALUES ($1, $2, 'tender.notice', NULL, now(),"
                        " $3::text::jsonb, 'public', NULL, $4)",
                        stream,
                        seq,
                        payload,
                        hashlib.sha256(payload.encode()).digest(),
                    )
                    result.done += 1
                    result.latencies.append(time.perf_counter() - started)

        t0 = time.monotonic()
        await asyncio.gather(*(loop(t0 + seconds) for _ in range(args.clients)))
        result.seconds = time.monotonic() - t0
        return result
    finally:
        await pool.close()


def print_pipeline(runs: list[PipelineRun], inserts: RunResult | None) -> None:
    print()
    print(f"{'run':<26}{'appends/s':>12}{'ack p50 ms':>12}{'ack p99 ms':>12}{'errors':>8}")
    rows = [r.result for r in runs] + ([inserts] if inserts else [])
    for r in rows:
        print(
            f"{r.name:<26}{r.rate:>12,.0f}{r.p(0.5) * 1000:>12.2f}{r.p(0.99) * 1000:>12.2f}"
            f"{r.errors:>8}"
        )
    for run in runs:
        prover = run.prover
        if not run.checkpoints:
            continue
        print(f"  {run.result.name}:")
        lat = sorted(prover.latencies) if prover else []
        if prover is not None:
            print(
                f"    proofs while appending: {prover.proofs / run.result.seconds:,.0f}/s"
                f" (inclusion of the newest event + consistency from the latest checkpoint),"
                f" p50 {percentile(lat, 0.5) * 1000:.1f} ms, p99 {percentile(lat, 0.99) * 1000:.1f}"
                f" ms, failed checks {prover.bad}"
            )
        cov = sorted(run.coverage)
        print(
            f"    signed checkpoints: {run.checkpoints}; ack -> covered by a signed checkpoint:"
            f" p50 {percentile(cov, 0.5):.2f} s, max {cov[-1] if cov else float('nan'):.2f} s,"
            f" never covered {run.uncovered}"
        )


# -- 2. proofs at a million events -----------------------------------------------------------


def _us(samples: list[int]) -> str:
    return (
        f"mean {statistics.fmean(samples) / 1000:7.1f} µs  "
        f"p99 {sorted(samples)[int(len(samples) * 0.99)] / 1000:7.1f} µs"
    )


def _timed(count: int, op: Callable[[int], object]) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for i in range(count):
        t0 = clock()
        op(i)
        out.append(clock() - t0)
    return out


def bench_merkle(n: int, proofs: int, rng: random.Random) -> list[bytes]:
    print(f"\nMerkleLog at {n:,} events (one process, this machine)")
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    node_input = b"\x01" + b"\x00" * 64
    t0 = time.perf_counter()
    for _ in range(n):
        hashlib.sha256(node_input).digest()
    floor_append = time.perf_counter() - t0
    tree = MerkleLog()
    t0 = time.perf_counter()
    for h in leaves:
        tree.append(h)
    build = time.perf_counter() - t0
    print(
        f"  append          {n / build:>12,.0f} /s   (baseline sha256 of 65 B: {n / floor_append:,.0f} /s)"
    )
    depth = math.ceil(math.log2(n))
    floor = _timed(proofs, lambda i: [hashlib.sha256(node_input).digest() for _ in range(depth)])
    inc_idx = [rng.randrange(n) for _ in range(proofs)]
    inc = _timed(proofs, lambda i: tree.inclusion_proof(inc_idx[i], n))
    pairs = [sorted((rng.randrange(1, n), rng.randrange(1, n + 1))) for _ in range(proofs)]
    con = _timed(proofs, lambda i: tree.consistency_proof(pairs[i][0], pairs[i][1]))
    root_old = [rng.randrange(1, n + 1) for _ in range(proofs)]
    roots = _timed(proofs, lambda i: tree.root(root_old[i]))
    print(f"  inclusion proof {_us(inc)}   ({proofs:,} random leaves, tree of {n:,})")
    print(f"  consistency     {_us(con)}   (random pairs of sizes)")
    print(f"  root at a size  {_us(roots)}")
    print(f"  baseline        {_us(floor)}   ({depth} x sha256 of 65 B: a proof's hashing floor)")
    return leaves


# -- 3. rebuild from PostgreSQL --------------------------------------------------------------


async def bench_rebuild(pool: asyncpg.Pool, leaves: list[bytes]) -> None:
    from evalroom.audit.log import StreamLogs

    n = len(leaves)
    stream = f"tender:rebuild-{uuid.uuid4().hex[:6]}"
    print(f"\nrebuild from PostgreSQL at {n:,} events (a restarted node)")
    await pool.execute(
        "INSERT INTO streams (name, kind, head) VALUES ($1, 'tender', $2)", stream, n
    )
    t0 = time.perf_counter()
    chunk = 100_000
    for first in range(0, n, chunk):
        part = leaves[first : first + chunk]
        await pool.execute(
            "INSERT INTO events (stream, seq, type, actor, at, payload, visibility, sig,"
            " leaf_hash) SELECT $1, s, 'bench', NULL, now(), '{}'::jsonb, 'public', NULL, h"
            " FROM unnest($2::bigint[], $3::bytea[]) AS u(s, h)",
            stream,
            list(range(first + 1, first + len(part) + 1)),
            part,
        )
    print(f"  (setup: INSERT of {n:,} rows took {time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    after, fetched = 0, 0
    while True:
        rows = await pool.fetch(
            "SELECT seq, leaf_hash FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT 50000",
            stream,
            after,
        )
        if not rows:
            break
        fetched += len(rows)
        after = rows[-1]["seq"]
    read = time.perf_counter() - t0
    logs = StreamLogs(pool)
    t0 = time.perf_counter()
    tree = await logs.synced(stream)
    rebuild = time.perf_counter() - t0
    t0 = time.perf_counter()
    await logs.inclusion_proof(stream, n // 3, n)
    proof_seconds = time.perf_counter() - t0
    print(
        f"  StreamLogs.synced  {rebuild:6.2f} s   ({tree.size:,} leaves, {tree.size / rebuild:,.0f} /s)"
    )
    print(f"  baseline: SELECT of the same rows alone {read:6.2f} s ({fetched:,} rows)")
    print(f"  then an inclusion proof through the cache: {proof_seconds * 1e6:,.0f} µs")


# -- main ------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> int:
    print(machine_line(), flush=True)
    raise_fd_limit()
    rng = random.Random(args.seed)
    leaves = bench_merkle(args.leaves, args.proofs, rng)
    if args.skip_pipeline and args.skip_rebuild:
        return 0
    print()
    async with started("audit") as env:
        if not args.skip_pipeline:
            print(
                f"pipeline: {args.clients} clients, {args.streams} streams,"
                f" {args.seconds:g} s per run (+{args.warmup:g} s warm-up)",
                flush=True,
            )
            runs = [
                await run_pipeline(args, env.services, env.pool, on, proving, env.tmp)
                for on, proving in ((True, True), (True, False), (False, False))
            ]
            inserts = await run_inserts(args, env.services.database_url, args.seconds)
            print_pipeline(runs, inserts)
        if not args.skip_rebuild:
            await bench_rebuild(env.pool, leaves)
    print(f"\n({os.cpu_count()} cores; clients, node, PostgreSQL and Redis share them)")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--payload", type=int, default=128)
    p.add_argument("--leaves", type=int, default=1_000_000)
    p.add_argument("--proofs", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--skip-rebuild", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_bench(amain, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
