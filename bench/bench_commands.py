"""Durable commands per second through one hub node, against pgbench running the same
transaction on the same PostgreSQL (a script, not a test).

* **evalroom**: one node as its own process (``python -m evalroom serve``, PostgreSQL and
  Redis as in production); C clients, each on its own WebSocket, send ``tender.notice``
  commands one after the other (closed loop: the next command leaves when the previous ack
  arrived) for a fixed time, spread over S tender streams. Each ack means: validated,
  authorized, committed in PostgreSQL, published to Redis.
* **pgbench** (baseline, same run, same database, after the node has stopped): C clients
  running the pipeline's transaction as a custom script, prepared statements like asyncpg::

      BEGIN;
      SELECT digest, result FROM commands WHERE actor = … AND client_id = …;   -- retry?
      SELECT name, kind, parent, head, state, now() FROM streams WHERE name = … FOR UPDATE;
      SELECT scope, role, venue FROM roles WHERE user_id = … AND scope = ANY(…); -- authorize
      INSERT INTO events (…) VALUES (…);
      UPDATE streams SET head = …, state = … WHERE name = …;
      INSERT INTO commands (…) VALUES (…);
      COMMIT;

  Its per-transaction log (``--log``) gives p50/p99 the same way as ours.

The ratio says what the hub (WebSocket, validation, Python between the statements, Redis
publish, ack) costs on top of the bare transaction. Clients, node, PostgreSQL and Redis share
this machine's cores.

Usage::

    .venv/bin/python bench/bench_commands.py [--clients 16] [--streams 4] [--seconds 10]
        [--payload 128] [--rate N] [--skip-pgbench] [--compare REF --rounds N]

``--rate N`` offers N commands/s in all, spread over the clients, whatever the acks (open
loop): the latency at a given load (e.g. half the closed-loop rate), not the most it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, too

import asyncpg
import httpx
import websockets

from bench.harness import (
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
    ratio,
    redis_cpu,
    run_bench,
    start_py_spy,
    started,
    tree_at,
    tree_cpu,
    ws_url,
)
from crypto.keys import SigningKey

PGBENCH_SCRIPT = r"""
\set sn random(1, :nstreams)
\set cid random(1, 9000000000000000000)
BEGIN;
SELECT digest, result FROM commands
 WHERE actor = :actor::text AND client_id = ('c' || :client_id::text || '-' || :cid::text);
SELECT name, kind, parent, head, state, now() AS now FROM streams
 WHERE name = (:prefix::text || :sn::text) FOR UPDATE \gset
SELECT scope, role, venue FROM roles
 WHERE user_id = :actor::text AND scope = ANY(ARRAY[:name::text]);
INSERT INTO events (stream, seq, type, actor, at, payload, visibility, sig, leaf_hash)
 VALUES (:name::text, :head::bigint + 1, 'tender.notice', :actor::text, :now::timestamptz,
         :payload::jsonb, 'public', NULL,
         sha256(convert_to(:name::text || :head::text || :payload::text, 'UTF8')));
UPDATE streams SET head = :head::bigint + 1, state = :state::jsonb WHERE name = :name::text;
INSERT INTO commands (actor, client_id, digest, stream, seq, result)
 VALUES (:actor::text, ('c' || :client_id::text || '-' || :cid::text),
         sha256(convert_to(:cid::text, 'UTF8')), :name::text, :head::bigint + 1,
         jsonb_build_object('t', 'ack', 'id', 'c' || :cid::text, 'stream', :name::text,
                            'seq', :head::bigint + 1));
COMMIT;
"""


@dataclass
class RunResult:
    name: str
    clients: int
    seconds: float
    done: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # the node (or pgbench's own process for the baseline)
    pg_cpu: float = 0.0
    redis_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q)


def pgbench_executable() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    raise RuntimeError("no pgbench: put one on PATH or install pgserver")


class CommandClient:
    """One participant on its own socket: a command, its ack, the next command."""

    def __init__(self, index: int, user: str, key: SigningKey, stream: str, size: int) -> None:
        self.index, self.user, self.key, self.stream, self.size = index, user, key, stream, size
        self.ws: Any = None
        self._n = 0
        self._prefix = uuid.uuid4().hex[:8]

    async def open(self, base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            token = await login(http, self.user, self.key)
        self.ws = await websockets.connect(
            ws_url(base_url, token), compression=None, max_size=None, ping_interval=None
        )

    async def command(self, stream: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one command and return its answer (ack or error); other frames are skipped."""
        self._n += 1
        ref = f"{self._prefix}-{self._n}"
        msg = {"t": "cmd", "v": 1, "id": ref, "stream": stream, "type": type_, "body": body}
        await self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(await self.ws.recv())
            for item in reply if isinstance(reply, list) else (reply,):
                if item.get("id") == ref:
                    return dict(item)

    async def one(self) -> bool:
        text = f"{time.time():.6f}|c{self.index}|"
        body = {"text": text + "x" * max(1, self.size - len(text))}
        answer = await self.command(self.stream, "tender.notice", body)
        return answer.get("t") == "ack"

    async def loop(self, until: float, result: RunResult, hb_every: float = 2.0) -> None:
        hb_due = time.monotonic() + hb_every
        while time.monotonic() < until:
            started = time.perf_counter()
            ok = await self.one()
            if ok:
                result.done += 1
                result.latencies.append(time.perf_counter() - started)
            else:
                result.errors += 1
            if time.monotonic() > hb_due:  # commands count as liveness; stay explicit anyway
                hb_due = time.monotonic() + hb_every
                await self.ws.send('{"t":"hb"}')

    async def open_loop(self, seconds: float, result: RunResult, rate: float) -> None:
        """Send ``rate`` commands per second for ``seconds`` whatever the answers (open loop);
        each latency counts from when its command was due, so a stall is not hidden by the
        commands it held back."""
        due: dict[str, float] = {}
        sending = True

        async def read() -> None:
            while sending or due:
                reply = json.loads(await self.ws.recv())
                for item in reply if isinstance(reply, list) else (reply,):
                    at = due.pop(str(item.get("id")), None)
                    if at is None:
                        continue
                    if item.get("t") == "ack":
                        result.done += 1
                        result.latencies.append(time.perf_counter() - at)
                    else:
                        result.errors += 1

        reader = asyncio.create_task(read())
        interval = 1.0 / rate
        start = time.perf_counter()
        end = start + seconds
        at = start + random.random() * interval  # clients out of step with each other
        hb_due = start + 2.0
        while at < end:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            self._n += 1
            ref = f"{self._prefix}-{self._n}"
            text = f"{time.time():.6f}|c{self.index}|"
            body = {"text": text + "x" * max(1, self.size - len(text))}
            msg = {"t": "cmd", "v": 1, "id": ref, "stream": self.stream}
            due[ref] = at
            await self.ws.send(json.dumps({**msg, "type": "tender.notice", "body": body}))
            if at > hb_due:
                hb_due = at + 2.0
                await self.ws.send('{"t":"hb"}')
            at += interval
        sending = False
        try:
            await asyncio.wait_for(reader, 30)
        except TimeoutError:
            result.errors += len(due)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


async def run_evalroom(
    args: argparse.Namespace,
    services: Services,
    pool: asyncpg.Pool,
    streams: list[str],
    users: list[tuple[str, SigningKey]],
    tmp: Path,
    run: str,
    tree: Path | None = None,
    name: str = "evalroom node",
) -> RunResult:
    """``tree``: the node's code from that source tree (``--compare``), else this checkout."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = node_process(services, port, f"benchcmd{run}", tmp / f"node-{port}.log", tree)
    clients: list[CommandClient] = []
    try:
        await server.start("/healthz")
        agency_user, agency_key = users[0]
        creator = CommandClient(0, agency_user, agency_key, streams[0], args.payload)
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
            c = CommandClient(i, user, key, streams[i % len(streams)], args.payload)
            await c.open(base_url)
            clients.append(c)
        # Warm-up: prepared statements, pool connections, the first Redis publish.
        warm = RunResult("warm-up", len(clients), args.warmup)
        until = time.monotonic() + args.warmup
        await asyncio.gather(*(c.loop(until, warm) for c in clients))
        pg_pid = await postmaster_pid(pool)
        result = RunResult(name, len(clients), args.seconds)
        cpu0, pg0, rd0 = process_cpu(server.pid), tree_cpu(pg_pid), redis_cpu(services.redis_url)
        me0 = process_cpu(os.getpid())
        spy = None
        if args.py_spy is not None:
            spy = start_py_spy(server.pid, args.seconds, args.py_spy / "evalroom-commands.txt")
        t0 = time.monotonic()
        if args.rate:
            per_client = args.rate / len(clients)
            await asyncio.gather(*(c.open_loop(args.seconds, result, per_client) for c in clients))
        else:
            await asyncio.gather(*(c.loop(t0 + args.seconds, result) for c in clients))
        result.seconds = time.monotonic() - t0
        result.server_cpu = process_cpu(server.pid) - cpu0
        result.pg_cpu = tree_cpu(pg_pid) - pg0
        result.redis_cpu = redis_cpu(services.redis_url) - rd0
        result.client_cpu = process_cpu(os.getpid()) - me0
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        return result
    finally:
        for c in clients:
            await c.close()
        server.stop()


async def run_pgbench(
    args: argparse.Namespace, services: Services, pool: asyncpg.Pool, prefix: str, tmp: Path
) -> RunResult:
    script = tmp / "pipeline.sql"
    script.write_text(PGBENCH_SCRIPT)
    logs = tmp / "pgbench-log"
    logs.mkdir()
    payload = json.dumps({"text": f"{time.time():.6f}|pgb|".ljust(args.payload, "x")})
    argv = [pgbench_executable(), "-n", "-M", "prepared", "-f", str(script)]
    argv += ["-c", str(args.clients), "-j", str(min(args.clients, os.cpu_count() or 1))]
    argv += ["-T", str(max(1, round(args.seconds)))]
    argv += ["-D", f"nstreams={args.streams}", "-D", f"prefix={prefix}"]
    argv += ["-D", "actor=pgb-actor", "-D", f"payload={payload}"]
    argv += ["--log", f"--log-prefix={logs / 'tx'}", services.database_url]
    await pool.execute(
        "INSERT INTO users (id, name, signing_key) VALUES ('pgb-actor', 'pgbench', 'none')"
        " ON CONFLICT DO NOTHING"
    )
    await add_roles(
        pool, [("pgb-actor", f"{prefix}{i}", "supervisor") for i in range(1, args.streams + 1)]
    )
    pg_pid = await postmaster_pid(pool)
    pg0, rd0 = tree_cpu(pg_pid), redis_cpu(services.redis_url)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stdout = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{stdout}\n{err.decode()}")
    result = RunResult("pgbench (same tx)", args.clients, float(args.seconds))
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", stdout)
    failed = re.search(r"number of failed transactions: (\d+)", stdout)
    for path in logs.iterdir():
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6:
                result.latencies.append(int(fields[2]) / 1e6)
    result.done = int(processed.group(1)) if processed else len(result.latencies)
    result.errors = int(failed.group(1)) if failed else 0
    if match:  # pgbench's own rate excludes connection set-up, as ours does
        result.seconds = result.done / float(match.group(1)) if float(match.group(1)) else 0.0
    result.server_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    result.pg_cpu = tree_cpu(pg_pid) - pg0
    result.redis_cpu = redis_cpu(services.redis_url) - rd0
    return result


def print_table(results: list[RunResult], args: argparse.Namespace) -> None:
    head = (
        f"{'':<20}{'clients':>8}{'streams':>8}{'tx/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'front CPU µs/tx':>17}{'PG CPU µs/tx':>14}{'Redis µs/tx':>13}"
    )
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        per = 1e6 / r.done if r.done else float("nan")
        print(
            f"{r.name:<20}{r.clients:>8}{args.streams:>8}{r.rate:>10,.0f}"
            f"{r.p(0.5) * 1e3:>9.2f}{r.p(0.99) * 1e3:>9.2f}{r.errors:>8}"
            f"{r.server_cpu * per:>17.0f}{r.pg_cpu * per:>14.0f}{r.redis_cpu * per:>13.0f}"
        )
    ours = results[0]
    for base in results[1:]:
        if not base.name.startswith("pgbench") or not base.rate:
            continue
        print(
            f"{'evalroom / pgbench':<20}{'':>8}{'':>8}{ratio(ours.rate, base.rate):>10.2f}"
            f"{ratio(ours.p(0.5), base.p(0.5)):>9.2f}{ratio(ours.p(0.99), base.p(0.99)):>9.2f}"
        )
    print()
    print(
        f"{os.cpu_count()} cores shared by clients, node, PostgreSQL and Redis. 'front CPU' is"
        " the node process for evalroom (WebSocket, validation, pipeline, Redis publish) and"
        " the pgbench process for the baseline; our own client process used"
        f" {results[0].client_cpu / max(1, results[0].done) * 1e6:.0f} µs/command."
    )


async def amain(args: argparse.Namespace) -> int:
    print(machine_line(), flush=True)
    results: list[RunResult] = []
    befores: list[RunResult] = []
    async with started("cmd") as env:
        prefix = f"tender:cmd-{env.run}-"
        users = [(f"c{i}-{env.run}", SigningKey.generate()) for i in range(args.clients)]
        await add_users(env.pool, [(u, None, k) for u, k in users])
        await add_roles(env.pool, [(users[0][0], "platform", "agency")])
        tree = tree_at(args.compare, env.tmp) if args.compare else None
        # With --compare, the rounds alternate which node goes first (now, before; before,
        # now; ...), so a drift in the machine's load falls on both alike.
        plan: list[Path | None] = []
        for round_ in range(args.rounds):
            plan += [None, tree] if round_ % 2 == 0 else [tree, None]
        if tree is None:
            plan = [None] * args.rounds
        for i, node_tree in enumerate(plan):
            run = f"{env.run}r{i}"
            streams = [f"{prefix}{i}-{n}" for n in range(1, args.streams + 1)]
            label = "evalroom node" if node_tree is None else f"node at {args.compare}"[:19]
            print(
                f"{label}: {args.clients} clients, {args.streams} streams, {args.seconds:g} s",
                flush=True,
            )
            r = await run_evalroom(
                args, env.services, env.pool, streams, users, env.tmp, run, node_tree, label
            )
            print(f"  {r.done} commands acked, {r.rate:,.0f}/s, {r.errors} refused", flush=True)
            (results if node_tree is None else befores).append(r)
        if not args.skip_pgbench:
            print(f"pgbench: {args.clients} clients, same transaction, same database", flush=True)
            pgb_prefix = f"{prefix}0-"  # the first round's streams, already created
            results.append(await run_pgbench(args, env.services, env.pool, pgb_prefix, env.tmp))
            r = results[-1]
            print(f"  {r.done} transactions, {r.rate:,.0f}/s, {r.errors} failed", flush=True)
    now = [r for r in results if not r.name.startswith("pgbench")]
    print_table([*now, *befores, *(r for r in results if r not in now)], args)
    if befores:
        print_rounds(now, befores)
    return 0


def print_rounds(now: list[RunResult], before: list[RunResult]) -> None:
    """Each round's pair and the median of the ratios: the node now against the node at REF."""
    print("rounds (now vs before, same run):")
    rates, cpus = [], []
    for i, (a, b) in enumerate(zip(now, before, strict=False)):
        rate = ratio(a.rate, b.rate)
        cpu = ratio(a.server_cpu / max(1, a.done), b.server_cpu / max(1, b.done))
        rates.append(rate)
        cpus.append(cpu)
        print(
            f"  round {i + 1}: {a.rate:,.0f}/s vs {b.rate:,.0f}/s (x{rate:.2f}),"
            f" p99 {a.p(0.99) * 1e3:.1f} vs {b.p(0.99) * 1e3:.1f} ms,"
            f" node CPU {a.server_cpu / max(1, a.done) * 1e6:.0f} vs"
            f" {b.server_cpu / max(1, b.done) * 1e6:.0f} µs/command (x{cpu:.2f})"
        )
    print(
        f"  median: throughput x{statistics.median(rates):.2f},"
        f" node CPU per command x{statistics.median(cpus):.2f}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--streams", type=int, default=4, help="tender streams the clients share")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--payload", type=int, default=128, help="notice text bytes")
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offer this many commands/s in all (open loop) instead of closed-loop clients",
    )
    p.add_argument("--skip-pgbench", action="store_true")
    p.add_argument("--rounds", type=int, default=1, help="runs of the node (each side)")
    p.add_argument(
        "--compare",
        metavar="REF",
        default=None,
        help="also run the node as it is at git revision REF, in the same run",
    )
    add_py_spy_option(p, "the node during the measured run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_bench(amain, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
