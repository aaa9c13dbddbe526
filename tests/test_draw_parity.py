"""The supervisor's page draws the committee again (clients/web/js/draw.js) exactly as
``evalroom.domain.draw`` does: same seats in the same order, from as many candidates, the same
exclusions, replacements replayed; and a forged record does not reproduce. Runs the page's
module under Node (WebCrypto's HMAC and SHA-256); without Node it skips visibly."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evalroom.domain.draw import (
    DrawResult,
    ExpertPool,
    Slot,
    commit_seed,
    draw_experts,
    pool_digest,
    redraw,
)
from evalroom.domain.session_committee import record_to_dict
from tests.test_draw import TWO_VENUES, big_pool, expert, pool_of, request

JS = Path(__file__).resolve().parent.parent / "clients" / "web" / "js"
NODE = shutil.which("node")
RUNNER = """
import { readFileSync } from "node:fs";
import { drawReproduces, poolDigest } from "./draw.js";
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const c of cases) {
  out.push({ digest: await poolDigest(c.pool), same: await drawReproduces(c.pool, c.request, c.seed, c.record) });
}
process.stdout.write(JSON.stringify(out));
"""


def _in_page(cases: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    if NODE is None:
        pytest.skip("node is not installed: the page's draw is not checked")
    for name in ("draw.js", "canonical.js"):
        shutil.copy(JS / name, tmp / name)
    (tmp / "package.json").write_text('{"type": "module"}', "utf-8")
    (tmp / "run.js").write_text(RUNNER, "utf-8")
    done = subprocess.run(
        [NODE, str(tmp / "run.js")],
        input=json.dumps(cases, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def _case(pool: ExpertPool, req: Any, seed: bytes, record: DrawResult) -> dict[str, Any]:
    return {
        "pool": pool.to_dict(),
        "request": req.to_dict(),
        "seed": seed.hex(),
        "record": record_to_dict(record),
    }


def _avoiding_pool() -> ExpertPool:
    """The big pool with experts avoided for every reason the draw knows."""
    return pool_of(
        *big_pool().experts,
        expert("A1", employer="C-BID-1"),
        expert("A2", employer="C-OWNER"),
        expert("A3", relations=("C-BID-2", "C-BID-1")),
        expert("A4", credit=Decimal("59.5")),
        expert("A5", available=False),
        expert("A6", region="兰州"),
    )


def test_the_page_draws_the_same_committee_as_the_domain(tmp_path: Path) -> None:
    cases, pools = [], []
    pool = _avoiding_pool()
    for i in range(12):
        seed = bytes([i]) * 16 + bytes(range(16))
        req = request(*TWO_VENUES, min_credit=Decimal(60), avoid_tenderer_region=True)
        if i % 3 == 1:
            req = request(Slot("土建", "main", 4), Slot("造价", "sub", 1), excluded=("X03",))
        record = draw_experts(pool, req, seed)
        if i % 4 == 2:  # replacements (补抽) replayed from the record
            record = redraw(pool, req, seed, record, record.seats[0].expert_id, "回避")
            record = redraw(pool, req, seed, record, record.seats[-1].expert_id, "未到场")
        cases.append(_case(pool, req, seed, record))
        pools.append(pool)
    found = _in_page(cases, tmp_path)
    assert [f["digest"] for f in found] == [pool_digest(p) for p in pools]
    assert all(f["same"] for f in found), [i for i, f in enumerate(found) if not f["same"]]
    assert commit_seed(bytes.fromhex(cases[0]["seed"])) == cases[0]["record"]["seed_commitment"]


def test_a_forged_seat_or_a_dropped_exclusion_does_not_reproduce(tmp_path: Path) -> None:
    pool, req, seed = big_pool(), request(*TWO_VENUES), bytes(range(32))
    honest = _case(pool, req, seed, draw_experts(pool, req, seed))
    forged = json.loads(json.dumps(honest))
    unpicked = next(
        e.id
        for e in pool.experts
        if e.region == "西安"
        and "土建" in e.specialties
        and e.id not in {s["expert_id"] for s in forged["record"]["seats"]}
    )
    forged["record"]["seats"][0]["expert_id"] = unpicked
    avoided = _case(_avoiding_pool(), req, seed, draw_experts(_avoiding_pool(), req, seed))
    dropped = json.loads(json.dumps(avoided))
    dropped["record"]["exclusions"] = dropped["record"]["exclusions"][1:]
    found = _in_page([honest, forged, avoided, dropped], tmp_path)
    assert [f["same"] for f in found] == [True, False, True, False]
