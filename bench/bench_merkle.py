"""Benchmark crypto.merkle.MerkleLog at audit-log scale (a script, not a test).

Measures, in one run so the figures are comparable on the same machine:

* the hashing floor: plain ``hashlib.sha256`` over the same leaf inputs (what computing the leaf
  hashes costs with no tree at all) and over 65-byte node inputs (the one node hash an append
  costs on average);
* appends per second into :class:`~crypto.merkle.MerkleLog` (precomputed leaf hashes, and
  ``leaf_hash`` + ``append`` together);
* root, inclusion-proof and consistency-proof generation at the full size (mean microseconds
  over many random proofs), plus verification of the same proofs for reference.

Usage::

    .venv/bin/python bench/bench_merkle.py [--leaves 1000000] [--proofs 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, too

from bench.harness import argument_parser, machine_line, ratio, run_bench
from crypto.merkle import MerkleLog, leaf_hash, verify_consistency, verify_inclusion


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s"


def _per_op_us(samples_ns: list[int]) -> str:
    mean = statistics.fmean(samples_ns) / 1000
    p50 = statistics.median(samples_ns) / 1000
    p99 = sorted(samples_ns)[int(len(samples_ns) * 0.99)] / 1000
    return f"mean {mean:8.1f} µs   p50 {p50:8.1f} µs   p99 {p99:8.1f} µs"


def _time_each(count: int, op: Callable[[int], object]) -> list[int]:
    samples = []
    clock = time.perf_counter_ns
    for i in range(count):
        t0 = clock()
        op(i)
        samples.append(clock() - t0)
    return samples


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def bench(args: argparse.Namespace) -> int:
    n, proofs = args.leaves, args.proofs
    rng = random.Random(args.seed)

    print(f"{machine_line()}; {platform.machine()}, {n:,} leaves")
    # Leaf inputs shaped like audit events: ~200 bytes of canonical JSON each.
    data = [
        b'{"event":"bid.opened","seq":%d,"tender":"T-2026-0001","pad":"%s"}' % (i, b"x" * 128)
        for i in range(n)
    ]

    sha256 = hashlib.sha256
    t0 = time.perf_counter()
    for d in data:
        sha256(b"\x00" + d).digest()
    floor_leaf = time.perf_counter() - t0
    print(f"baseline sha256(0x00||leaf)              {_rate(n, floor_leaf)}  (hashing floor)")

    node_input = b"\x01" + bytes(64)
    t0 = time.perf_counter()
    for _ in range(n):
        sha256(node_input).digest()
    floor_node = time.perf_counter() - t0
    print(f"baseline sha256(65-byte node)            {_rate(n, floor_node)}")

    hashes = [leaf_hash(d) for d in data]
    log = MerkleLog()
    append = log.append
    t0 = time.perf_counter()
    for h in hashes:
        append(h)
    t_append = time.perf_counter() - t0
    print(f"MerkleLog.append(precomputed leaf hash)  {_rate(n, t_append)}")

    log2 = MerkleLog()
    append2 = log2.append
    t0 = time.perf_counter()
    for d in data:
        append2(leaf_hash(d))
    t_both = time.perf_counter() - t0
    print(f"MerkleLog.append(leaf_hash(data))        {_rate(n, t_both)}")
    print(
        f"  -> append overhead over the sha256 floor: "
        f"{(t_both - floor_leaf) / n * 1e6:.2f} µs/leaf "
        f"({ratio(t_both, floor_leaf):.1f}x the leaf-hash floor)"
    )
    del log2, data

    assert log.size == n
    root_now = log.root()
    root_samples = _time_each(proofs, lambda i: log.root())
    print(f"root() at {n:,}                      {_per_op_us(root_samples)}")
    sizes = [rng.randint(1, n) for _ in range(proofs)]
    root_any = _time_each(proofs, lambda i: log.root(sizes[i]))
    print(f"root(size) random earlier size         {_per_op_us(root_any)}")

    indices = [rng.randrange(n) for _ in range(proofs)]
    incl: list[list[bytes]] = []
    incl_samples = _time_each(proofs, lambda i: incl.append(log.inclusion_proof(indices[i], n)))
    print(f"inclusion_proof(i, {n:,})          {_per_op_us(incl_samples)}")

    pairs = []
    for _ in range(proofs):
        a, b = sorted((rng.randint(1, n), rng.randint(1, n)))
        pairs.append((a, b))
    cons: list[list[bytes]] = []
    cons_samples = _time_each(
        proofs, lambda i: cons.append(log.consistency_proof(pairs[i][0], pairs[i][1]))
    )
    print(f"consistency_proof(m, k) random pairs   {_per_op_us(cons_samples)}")
    latest = [rng.randint(1, n - 1) for _ in range(proofs)]
    cons_latest = _time_each(proofs, lambda i: log.consistency_proof(latest[i], n))
    print(f"consistency_proof(m, {n:,})        {_per_op_us(cons_latest)}")

    # Verification, for reference (what a third-party verifier pays per proof).
    roots = {b: log.root(b) for _, b in pairs[:2000]}
    roots.update({a: log.root(a) for a, _ in pairs[:2000]})
    ok = _time_each(
        2000, lambda i: verify_inclusion(hashes[indices[i]], indices[i], n, incl[i], root_now)
    )
    print(f"verify_inclusion                       {_per_op_us(ok)}")
    okc = _time_each(
        2000,
        lambda i: verify_consistency(
            pairs[i][0], pairs[i][1], roots[pairs[i][0]], roots[pairs[i][1]], cons[i]
        ),
    )
    print(f"verify_consistency                     {_per_op_us(okc)}")
    # Sanity: the measured proofs are real proofs.
    assert all(
        verify_inclusion(hashes[indices[i]], indices[i], n, incl[i], root_now) for i in range(200)
    )
    assert all(
        verify_consistency(a, b, roots[a], roots[b], cons[i])
        for i, (a, b) in enumerate(pairs[:200])
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_bench(bench, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
