"""Benchmark the evidence red flags: a tender of 50 opened bids, 20 MiB of documents each
(a script, not a test).

Each bid's package, made once before the clock starts (``--bids``, ``--mib``, ``--pages``):
its form (with a project manager and phone), the sealing machine's keyed hashes, a technical
proposal as a PDF of ``--pages`` pages of text (reportlab, Helvetica; ``--cjk``: Chinese in
reportlab's CID font, which is not embedded, so PDFium substitutes a font on every page, about
10 ms a page, an artefact of the generated file: real Chinese proposals embed their fonts),
the first 50 paragraphs as a DOCX, and scans (incompressible bytes, as photos and scanned
certificates are) filling the package up to ``--mib`` MiB. Bids 1 and 2 share a machine and a
near-identical proposal (one paragraph changed); the others are independent.

Timed, on one core (the process is pinned to one CPU):

* **all evidence signals**: every package read (``package_facts``: every document hashed, PDF
  and OOXML metadata and text extracted), then every identity and document signal computed;
* the floor, in the same run: SHA-256 of the same package bytes with ``hashlib`` (no
  evidence can cost less than reading each byte once);
* with ``--db``: :func:`evidence_signals` end to end on a real PostgreSQL (``DATABASE_URL``),
  the packages stored as opened uploads and read back in chunks, as after an opening.

Usage::

    .venv/bin/python bench/bench_evidence.py [--bids 50] [--mib 20] [--pages 60] [--rounds 3] [--db]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from crypto.bidpackage import write_package
from crypto.origin import origin_document, origin_key
from evalroom.domain.redflags.documents import Document, FormFacts, document_signals
from evalroom.domain.redflags.identity import BidOrigin, identity_signals
from evalroom.domain.redflags.signal import Signal
from evalroom.services.document_facts import package_facts

_CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
    "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两"
    "体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线"
    "内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并"
    "提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见"
    "计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七"
    "海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场"
)
LINES_PER_PAGE = 40
CHARS_PER_LINE = 38


_WORDS = (
    "the contractor shall provide quality works schedule safety plan site labour material "
    "machinery inspection acceptance drainage asphalt concrete maintenance traffic control "
    "environment protection measures staff engineer survey design review warranty period "
    "days month week bridge road pavement repair section lane night work equipment supply"
).split()


def _paragraphs(seed: int, n: int, cjk: bool) -> list[str]:
    rng = random.Random(seed)
    if cjk:
        return ["".join(rng.choice(_CHARS) for _ in range(CHARS_PER_LINE * 4)) for _ in range(n)]
    return [" ".join(rng.choice(_WORDS) for _ in range(60)) for _ in range(n)]


def _pdf(paragraphs: list[str], pages: int, author: str, cjk: bool, minute: int) -> bytes:
    font = "Helvetica"
    if cjk:
        font = "STSong-Light"
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setAuthor(author)
    c.setCreator("Microsoft Word 2016")
    # Each bid's own creation time: generated here within a second, they would all share one.
    c.setDateFormatter(
        lambda *_: f"D:2026110{1 + minute // 600}{minute // 60 % 10:02d}{minute % 60:02d}00+08'00'"
    )
    width = CHARS_PER_LINE if cjk else 90
    lines = [p[i : i + width] for p in paragraphs for i in range(0, len(p), width)]
    for page in range(pages):
        c.setFont(font, 11)
        for row in range(LINES_PER_PAGE):
            c.drawString(40, 800 - row * 19, lines[(page * LINES_PER_PAGE + row) % len(lines)])
        c.showPage()
    c.save()
    return buf.getvalue()


def _docx(paragraphs: list[str], author: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:creator>{author}</dc:creator></cp:coreProperties>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docProps/core.xml", core)
        z.writestr(
            "word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
        )
    return out.getvalue()


def make_packages(folder: Path, bids: int, mib: int, pages: int, cjk: bool) -> list[Path]:
    key = origin_key("BENCH", "age1bench")
    paths = []
    paragraphs_per_doc = pages * LINES_PER_PAGE // 4
    for i in range(bids):
        text = _paragraphs(1 if i < 2 else 100 + i, paragraphs_per_doc, cjk)
        if i == 1:
            text[5] = _paragraphs(999, 1, cjk)[0]  # bid 2: bid 1's proposal, one paragraph changed
        machine = {"machine_id": [f"{1 if i < 2 else i:032x}"], "hostname": [f"pc-{min(i, 1)}-{i}"]}
        files: dict[str, bytes] = {
            "技术标.pdf": _pdf(text, pages, f"author-{i}", cjk, i),
            "技术标摘要.docx": _docx(text[:50], f"author-{i}"),
        }
        used = sum(len(v) for v in files.values())
        files["扫描件.jpg"] = os.urandom(max(0, mib * (1 << 20) - used))
        form = {
            "price": f"{9_000_000 + i * 37_000}.00",
            "project_manager": f"经理{i}",
            "contact_phone": f"1380013{i:04d}",
        }
        path = folder / f"bid-{i:02d}.zip"
        with path.open("wb") as f:
            write_package(f, form, files, origin_document(key, machine, "cli"))
        paths.append(path)
    return paths


def all_signals(paths: list[Path]) -> list[Signal]:
    origins, docs, forms = [], [], []
    for i, path in enumerate(paths):
        number, org = f"S1-B{i + 1:02d}", f"company-{i}"
        with path.open("rb") as f:
            facts = package_facts(f)
        origins.append(BidOrigin(number, org, facts.origin or {}, form=facts.form))
        forms.append(FormFacts(number, org, facts.form))
        docs += [
            Document(number, org, d.name, d.sha256, d.size, d.metadata, d.text)
            for d in facts.documents
        ]
    return [*identity_signals(origins), *document_signals(docs, forms)]


def hash_floor(paths: list[Path]) -> None:
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)


def _timed(work: Any, rounds: int) -> tuple[float, float, Any]:
    """Median wall time and median CPU time of this process (the machine may be shared: the
    CPU time is what the work itself cost), and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


async def _db_run(paths: list[Path], rounds: int) -> tuple[float, float]:
    from evalroom.db import blobs
    from evalroom.db import events as store
    from evalroom.db.pool import open_pool
    from evalroom.services.redflag_evidence import evidence_signals

    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("--db needs DATABASE_URL")
    pool = await open_pool(url, min_size=1, max_size=2)
    tender = "tender:bench-" + secrets.token_hex(4)
    uploads: list[str] = []
    try:
        bids = {}
        for i, path in enumerate(paths):
            plain = await blobs.new_upload(pool, tender, "platform", "plain")
            uploads.append(plain)
            writer = blobs.ChunkWriter(pool, plain)
            with path.open("rb") as f:
                while chunk := f.read(blobs.CHUNK):
                    await writer.write(chunk)
            await writer.close()
            bids[f"S1-B{i + 1:02d}"] = {
                "section": "S1",
                "org": f"company-{i}",
                "status": "decrypted",
                "upload": "u-none",
                "plain": plain,
                "form": {},
            }
        state = {"phase": "opened", "opening": {"stage": "single", "single": {"bids": bids}}}
        async with pool.acquire() as conn, conn.transaction():
            await store.create_stream(conn, tender, "tender", None, state)
        walls, cpus = [], []
        for _ in range(rounds):
            started, cpu = time.perf_counter(), time.process_time()
            await evidence_signals(pool, tender)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        return statistics.median(walls), statistics.median(cpus)
    finally:
        for upload in uploads:
            await blobs.drop_upload(pool, upload)
        await pool.execute("DELETE FROM streams WHERE name = $1", tender)
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bids", type=int, default=50)
    parser.add_argument("--mib", type=int, default=20, help="documents per bid, MiB")
    parser.add_argument("--pages", type=int, default=60, help="pages of text in each proposal")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", action="store_true", help="also end to end through PostgreSQL")
    parser.add_argument(
        "--cjk", action="store_true", help="Chinese PDF text in reportlab's non-embedded CID font"
    )
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(
        f"python {platform.python_version()} on {platform.machine()}; {args.bids} bids × "
        f"{args.mib} MiB, proposals of {args.pages} pages; median of {args.rounds} rounds; one core"
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = make_packages(Path(tmp), args.bids, args.mib, args.pages, args.cjk)
        total = sum(p.stat().st_size for p in paths)
        print(
            f"  made {total / (1 << 20):,.0f} MiB of packages in {time.perf_counter() - started:.1f} s"
        )
        floor, floor_cpu, _ = _timed(lambda: hash_floor(paths), args.rounds)
        spent, spent_cpu, signals = _timed(lambda: all_signals(paths), args.rounds)
        print(f"  {'':44} {'wall':>8} {'CPU':>8}")
        print(
            f"  {'floor: SHA-256 of the same bytes (hashlib)':44} {floor:7.2f}s {floor_cpu:7.2f}s"
        )
        print(
            f"  {'all evidence signals (read + compute)':44} {spent:7.2f}s {spent_cpu:7.2f}s"
            f"  (x{spent_cpu / floor_cpu:.1f} the floor's CPU)"
        )
        codes: dict[str, int] = {}
        for s in signals:
            codes[s.code] = codes.get(s.code, 0) + 1
        print("  signals raised: " + ", ".join(f"{c} ×{n}" for c, n in sorted(codes.items())))
        if args.db:
            db_wall, db_cpu = asyncio.run(_db_run(paths, args.rounds))
            label = "evidence_signals() through PostgreSQL"
            print(f"  {label:44} {db_wall:7.2f}s {db_cpu:7.2f}s  (CPU: this process only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
