"""The cross-tender red flags over a 100,000-tender history, from PostgreSQL (a script).

Loads a synthetic history into a scratch database with COPY: N tenders (one section each), each
with its signed ``opening.record`` event naming 4..12 bidders drawn from one of the regional
markets, an award notice (中标通知) in a session stream for most of them, and F filler events
per tender (the log's other events, which the history reads must not pay for). A few cartels
are planted: groups that bid together and take turns winning, with cover bidders that never
win. Then it times what ``services/redflag_history.history_signals`` does — the one
aggregating statement of ``db/history.py``, the fences and flags of
``domain/redflags/history.py``, the lots of the rotation candidates — with the indexes of
migration 0008, and beside it, in the same run:

- ``SELECT count(*) FROM events``: one plain scan of the table the history is read from;
- the same history reads with the 0008 indexes dropped.

Usage::

    .venv/bin/python bench/bench_history.py [--tenders 100000] [--filler 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    Services,
    argument_parser,
    machine_line,
    process_cpu,
    ratio,
    run_bench,
)

LEAF = bytes(32)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
INDEXES = ("events_opening_records", "events_award_notices", "streams_sessions")


def synthetic(n: int, seed: int) -> Iterator[tuple[str, list[str], str | None]]:
    """(tender, bidders, winner or None): 100 markets of 60 companies; 20 planted cartels of
    4 that bid together (with 0..2 of 10 cover bidders and 0..4 outsiders) and rotate the win in 1 % of the tenders each."""
    rng = random.Random(seed)
    markets = [[f"m{m:03d}c{c:02d}" for c in range(60)] for m in range(100)]
    cartels = [[f"cartel{k:02d}-{i}" for i in range(4)] for k in range(20)]
    shills = [f"cover{j:02d}" for j in range(10)]
    turns = [0] * len(cartels)
    for t in range(n):
        name = f"tender:h{t:06d}"
        market = markets[rng.randrange(len(markets))]
        if rng.random() < 0.2:
            k = rng.randrange(len(cartels))
            # Cover bidders from outside that bid often and never win (买标陪标).
            covers = rng.sample(shills, rng.randint(0, 2))
            bidders = cartels[k] + covers + rng.sample(market, rng.randint(0, 4))
            winner: str | None = cartels[k][turns[k] % 4]
            turns[k] += 1
        else:
            bidders = rng.sample(market, rng.randint(4, 12))
            winner = rng.choice(bidders)
        if rng.random() < 0.1:
            winner = None  # not decided yet
        yield name, bidders, winner


def _record(bidders: list[str]) -> str:
    bids = [
        {"number": f"{i + 1:03d}", "section": "1", "org": org, "status": "decrypted"}
        for i, org in enumerate(bidders)
    ]
    return json.dumps({"stage": "single", "bids": bids, "phase": "opened"})


def _csv(rows: list[tuple[object, ...]]) -> io.BytesIO:
    """Rows as CSV for COPY (text format: jsonb and bytea as their text forms)."""
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow(
            "\\x" + v.hex()
            if isinstance(v, bytes)
            else v.isoformat()
            if isinstance(v, datetime)
            else ""
            if v is None
            else v
            for v in row
        )
    return io.BytesIO(text.getvalue().encode())


async def load(conn: object, n: int, filler: int, seed: int) -> int:
    """COPY the synthetic history in; returns the number of events."""
    streams: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    for t, (name, bidders, winner) in enumerate(synthetic(n, seed)):
        at = T0 + timedelta(minutes=t)
        streams.append((name, "tender", None, filler + 1, "{}"))
        for seq in range(1, filler + 1):
            events.append((name, seq, "tender.notice", "u", at, '{"text": "x"}', "public", LEAF))
        events.append(
            (name, filler + 1, "opening.record", "u", at, _record(bidders), "public", LEAF)
        )
        if winner is not None:
            session = f"session:h{t:06d}"
            state = json.dumps({"tender": name, "section": "1", "phase": "closed"})
            streams.append((session, "session", name, 1, state))
            payload = json.dumps({"winner": {"bid_id": "001", "company": winner}})
            events.append((session, 1, "award.notice", "u", at, payload, "public", LEAF))
    cols_s = ("name", "kind", "parent", "head", "state")
    cols_e = ("stream", "seq", "type", "actor", "at", "payload", "visibility", "leaf_hash")
    # Tenders before their sessions (the parent key), sessions after.
    streams.sort(key=lambda s: s[1] != "tender")
    for table, rows, cols in (("streams", streams, cols_s), ("events", events, cols_e)):
        await conn.copy_to_table(  # type: ignore[attr-defined]
            table, source=_csv(rows), columns=cols, format="csv", timeout=3600
        )
    await conn.execute("ANALYZE streams; ANALYZE events")  # type: ignore[attr-defined]
    return len(events)


async def timed(label: str, rounds: int, body: object, backend: int) -> tuple[float, float]:
    """Median wall time and median CPU time (PostgreSQL's backend plus this process) of
    ``body``: on a shared machine the CPU time is what the work costs on one free core."""
    times, cpus, ours = [], [], []
    for _ in range(rounds):
        b0, p0 = process_cpu(backend), time.process_time()
        t0 = time.perf_counter()
        await body()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
        ours.append(time.process_time() - p0)
        cpus.append(process_cpu(backend) - b0 + ours[-1])
    median, cpu = statistics.median(times), statistics.median(cpus)
    print(
        f"  {label:<42} wall median {median:6.3f} s (best {min(times):6.3f})"
        f"   CPU median {cpu:6.3f} s ({statistics.median(ours):.3f} s of it in Python)",
        flush=True,
    )
    return median, cpu


async def amain(args: argparse.Namespace) -> int:
    import asyncpg

    from evalroom.db.pool import open_pool
    from evalroom.domain.redflags.history import HistoryThresholds
    from evalroom.services.redflag_history import history_signals

    print(machine_line(), flush=True)
    services = Services.start(need_redis=False)
    pool: asyncpg.Pool | None = None
    try:
        url = await services.create_database()
        pool = await open_pool(url, min_size=1, max_size=2)
        t0 = time.perf_counter()
        async with pool.acquire() as conn:
            n_events = await load(conn, args.tenders, args.filler, args.seed)
        print(
            f"loaded {args.tenders:,} tenders, {n_events:,} events by COPY"
            f" in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        t = HistoryThresholds()
        found: dict[str, int] = {}
        async with pool.acquire() as conn:
            backend = int(await conn.fetchval("SELECT pg_backend_pid()"))

            async def signals() -> None:
                found.clear()
                for s in await history_signals(conn, t):
                    found[s.code] = found.get(s.code, 0) + 1

            async def scan() -> None:
                await conn.fetchval("SELECT count(*) FROM events")

            print(f"\n{args.rounds} rounds each, one connection:")
            ours, ours_cpu = await timed(
                "history_signals (0008 indexes)", args.rounds, signals, backend
            )
            print(f"    signals: {dict(sorted(found.items()))}")
            base, base_cpu = await timed(
                "baseline: SELECT count(*) FROM events", args.rounds, scan, backend
            )
            await conn.execute("".join(f"DROP INDEX {i};" for i in INDEXES))
            bare, bare_cpu = await timed(
                "history_signals without the 0008 indexes", args.rounds, signals, backend
            )
        print(
            f"\n  history_signals: wall {ours:.3f} s = x{ratio(ours, base):.1f} of one scan of"
            f" events; CPU {ours_cpu:.3f} s = x{ratio(ours_cpu, base_cpu):.1f}; without the"
            f" indexes wall x{ratio(bare, ours):.2f}, CPU x{ratio(bare_cpu, ours_cpu):.2f}"
        )
        verdict = "met" if ours_cpu < 5 else "NOT met"
        print(
            f"  budget (under 5 s, {args.tenders:,} tenders): CPU {ours_cpu:.2f} s on one core"
            f" -> {verdict}; wall {ours:.2f} s here, load {os.getloadavg()[0]:.1f}"
            f" on {os.cpu_count()} cores"
        )
    finally:
        if pool is not None:
            await pool.close()
        await services.drop_database()
        services.stop()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--tenders", type=int, default=100_000)
    p.add_argument("--filler", type=int, default=10, help="other events per tender")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run_bench(amain, parse_args(None)))
