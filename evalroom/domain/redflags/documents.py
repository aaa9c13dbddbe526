"""Red flags on the opened bid documents (围标串标 · 文件雷同预警), pure and advisory.

Input: the facts read from each decrypted package (``services/document_facts.py`` reads them):
per document its bid, bidder, name, SHA-256, size, metadata and text; per bid its form.
Signals, each only across two or more *different* bidders:

- ``documents.identical_file`` — the same file (SHA-256) in several bids;
- ``documents.same_metadata`` — the same author, last-modified-by, company, manager, template,
  creation time or PDF document id (the creating software and version are shown, never flag
  alone: nearly everyone uses the same office suite);
- ``documents.near_duplicate_text`` — texts whose shingle sets have a Jaccard similarity at or
  above the threshold, found by MinHash LSH (``datasketch``) and confirmed exactly, with the
  longest shared passages as evidence;
- ``documents.same_form_error`` — the same wrong amount in words: a form's ``<field>_words``
  (大写金额) that does not state its ``<field>`` figure, identically in several bids;
- ``documents.same_sum_error`` — the same arithmetic error: a total that differs from the sum
  of its components (as the tender declares them, ``form_sums``) by the same amount in
  several bids.

All are 条例 art. 40: (一) prepared by the same party, and (四) abnormally identical.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from evalroom.domain.redflags.signal import Evidence, Signal
from evalroom.domain.redflags.thresholds import Thresholds

__all__ = [
    "METADATA_FIELDS",
    "Document",
    "FormFacts",
    "document_signals",
    "parse_amount_words",
    "shingle_hashes",
]

# Fields that identify a person, an organisation or one original file: one shared flags.
METADATA_FIELDS = (
    "author",
    "last_modified_by",
    "company",
    "manager",
    "template",
    "created",
    "document_id",
)
SOFTWARE_FIELD = "software"  # application and version (and producer): evidence only
WORDS_SUFFIX = "_words"
_FIELD_ZH = {
    "author": "作者",
    "last_modified_by": "最后修改者",
    "company": "单位",
    "manager": "经理",
    "template": "模板",
    "created": "创建时间",
    "document_id": "PDF 文档标识",
}
NUM_PERM = 128
# MinHash input: a consistent 1-in-16 sample of a text's shingles (those whose hash is 0 mod
# 16, Broder's mod-m sampling), which estimates the same Jaccard similarity at a sixteenth of
# the cost. Texts with fewer than EXACT_BELOW shingles have too small a sample: every pair
# with one of them is compared exactly instead (cheap at that size).
SAMPLE_MASK = np.uint64(15)
EXACT_BELOW = 16_384
_PRIME = np.uint64(1_000_003)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Document:
    """One attached document of an opened bid, as read from its package."""

    bid_id: str
    bidder: str
    name: str
    sha256: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class FormFacts:
    bid_id: str
    bidder: str
    form: Mapping[str, Any]


def _bidders(ids: Sequence[str], bidder: Mapping[str, str]) -> int:
    return len({bidder[i] for i in ids})


# -- identical files -----------------------------------------------------------------------


def identical_files(docs: Sequence[Document], t: Thresholds) -> list[Signal]:
    groups: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        if d.size >= t.file_min_bytes:
            groups[d.sha256].append(d)
    signals = []
    for sha, found in sorted(groups.items()):
        bidders = {d.bidder for d in found}
        if len(bidders) < 2:
            continue
        ids = sorted({d.bid_id for d in found})
        names = sorted({d.name for d in found})
        signals.append(
            Signal(
                "documents.identical_file",
                f"{len(bidders)} 家投标人的投标文件中有完全相同的文件（{'、'.join(names)}，"
                f"SHA-256 {sha[:16]}…）。",
                f"{len(bidders)} bidders' packages hold an identical file ({', '.join(names)}, "
                f"SHA-256 {sha[:16]}…).",
                Evidence.of(
                    ids,
                    names,
                    {"sha256": sha, "size": found[0].size, "bidders": len(bidders)},
                ),
                {"file_min_bytes": str(t.file_min_bytes)},
            )
        )
    return signals


# -- metadata ------------------------------------------------------------------------------


def _meta_value(name: str, value: str, ignored: frozenset[str]) -> str | None:
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()
    if name == "created":
        digits = "".join(c for c in text if c.isdigit())
        return digits[:14] if len(digits) >= 12 else None  # to the minute at least
    if not text or text in ignored:
        return None
    return text


def same_metadata(docs: Sequence[Document], t: Thresholds) -> list[Signal]:
    ignored = frozenset(v.casefold() for v in t.metadata_ignore)
    holders: dict[tuple[str, str], list[Document]] = defaultdict(list)
    for d in docs:
        for name in METADATA_FIELDS:
            raw = d.metadata.get(name)
            if raw and (value := _meta_value(name, raw, ignored)) is not None:
                holders[(name, value)].append(d)
    # One signal per set of bids: every field they share is in it.
    merged: dict[frozenset[str], list[tuple[str, str, list[Document]]]] = defaultdict(list)
    for (name, value), found in holders.items():
        if len({d.bidder for d in found}) >= 2:
            merged[frozenset(d.bid_id for d in found)].append((name, value, found))
    signals = []
    for ids, shared in sorted(merged.items(), key=lambda g: sorted(g[0])):
        shared.sort(key=lambda s: METADATA_FIELDS.index(s[0]))
        files = sorted({f"{d.bid_id}/{d.name}" for _, _, found in shared for d in found})
        n = len({d.bidder for _, _, found in shared for d in found})
        figures: dict[str, str] = {
            name: next(d.metadata[name] for d in found) for name, _v, found in shared
        }
        software = sorted(
            {
                d.metadata[SOFTWARE_FIELD]
                for _, _, f in shared
                for d in f
                if d.metadata.get(SOFTWARE_FIELD)
            }
        )
        figures["software"] = " | ".join(software) or "n/a"
        figures["files"] = ", ".join(files)
        names = [s[0] for s in shared]
        signals.append(
            Signal(
                "documents.same_metadata",
                f"{n} 家投标人的文件属性相同（{'、'.join(_FIELD_ZH[x] for x in names)}）。",
                f"{n} bidders' documents share the same metadata ({', '.join(names)}).",
                Evidence.of(sorted(ids), [f"metadata.{x}" for x in names], figures),
                {"fields": ", ".join(METADATA_FIELDS), "ignored_values": str(len(ignored))},
            )
        )
    return signals


# -- near-duplicate text -------------------------------------------------------------------


def _kept(codes: np.ndarray[Any, np.dtype[np.uint32]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which code points are letters, digits or CJK ideographs (punctuation and spaces go,
    so reflowed lines and changed punctuation do not hide a copy)."""
    c = codes
    kept: np.ndarray[Any, np.dtype[np.bool_]] = (
        ((c >= 0x30) & (c <= 0x39))
        | ((c >= 0x61) & (c <= 0x7A))
        | ((c >= 0xDF) & (c <= 0x24F) & (c != 0xF7))
        | ((c >= 0x3040) & (c <= 0x30FF))
        | ((c >= 0x3400) & (c <= 0x9FFF))
        | ((c >= 0xF900) & (c <= 0xFAFF))
        | ((c >= 0xAC00) & (c <= 0xD7AF))
    )
    return kept


@dataclass(frozen=True)
class _Text:
    text: str  # NFKC, case-folded
    where: np.ndarray[Any, np.dtype[np.intp]]  # kept code point i is text[where[i]]
    hashes: np.ndarray[Any, np.dtype[np.uint64]]  # shingle i's hash, over kept i .. i+k-1
    unique: np.ndarray[Any, np.dtype[np.uint64]]  # sorted distinct shingle hashes


def shingle_hashes(text: str, k: int) -> _Text:
    """The text's character shingles: every run of ``k`` letters, digits or ideographs
    (after NFKC and case folding, punctuation and spaces skipped), as 64-bit hashes."""
    norm = unicodedata.normalize("NFKC", text).casefold()
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32)
    where = np.flatnonzero(_kept(codes))
    kept = codes[where].astype(np.uint64)
    n = len(kept) - k + 1
    if n <= 0:
        empty = np.zeros(0, dtype=np.uint64)
        return _Text(norm, where, empty, empty)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # a polynomial hash, wrapping mod 2**64 (array arithmetic wraps)
        h = h * _PRIME + kept[j : j + n]
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    return _Text(norm, where, h, np.unique(h))


def _minhash(unique: np.ndarray[Any, np.dtype[np.uint64]]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=int)
    sample = unique[(unique & SAMPLE_MASK) == 0] >> np.uint64(4)
    low = (sample & np.uint64(0xFFFFFFFF)).tolist()  # datasketch permutes 32-bit hash values
    for start in range(0, len(low), 8192):  # bounded memory: batch x permutations
        m.update_batch(low[start : start + 8192])
    return m


def _passages(a: _Text, b: _Text, k: int, t: Thresholds) -> list[str]:
    """The longest passages of ``a`` whose every shingle is also in ``b``, trimmed."""
    inside = np.isin(a.hashes, b.unique, assume_unique=False)
    if not inside.any():
        return []
    edges = np.diff(np.concatenate(([0], inside.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends exclusive
    order = np.argsort(starts - ends, kind="stable")[: t.passages_shown]
    shown = []
    for i in order:
        first, last = int(a.where[starts[i]]), int(a.where[ends[i] - 1 + k - 1])
        passage = _SPACE.sub(" ", a.text[first : last + 1]).strip()
        if len(passage) > t.passage_chars:
            passage = passage[: t.passage_chars - 1] + "…"
        shown.append(passage)
    return shown


def near_duplicate_text(docs: Sequence[Document], t: Thresholds) -> list[Signal]:
    by_bid: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        if d.text:
            by_bid[d.bid_id].append(d)
    bidder = {d.bid_id: d.bidder for d in docs}
    texts: dict[str, _Text] = {}
    for bid, found in sorted(by_bid.items()):
        joined = "\n".join(d.text for d in sorted(found, key=lambda d: d.name))
        shingles = shingle_hashes(joined, t.shingle_chars)
        if len(shingles.unique) >= t.text_min_shingles:
            texts[bid] = shingles
    # LSH at a lower threshold than the flag's, so a pair just above it is not missed; each
    # candidate pair is then confirmed on the exact shingle sets.
    lsh = MinHashLSH(threshold=max(0.05, t.text_similarity_min - 0.2), num_perm=NUM_PERM)
    large = {bid for bid, x in texts.items() if len(x.unique) >= EXACT_BELOW}
    hashes = {bid: _minhash(texts[bid].unique) for bid in sorted(large)}
    for bid, m in hashes.items():
        lsh.insert(bid, m)
    candidates = {
        (min(bid, other), max(bid, other))
        for bid, m in hashes.items()
        for other in lsh.query(m)
        if other != bid
    }
    small = sorted(set(texts) - large)
    candidates |= {(min(s, o), max(s, o)) for s in small for o in texts if o != s}
    pairs = sorted((a, b) for a, b in candidates if bidder[a] != bidder[b])
    signals = []
    for a, b in pairs:
        x, y = texts[a], texts[b]
        shared = len(np.intersect1d(x.unique, y.unique, assume_unique=True))
        jaccard = shared / (len(x.unique) + len(y.unique) - shared)
        if jaccard < t.text_similarity_min:
            continue
        passages = _passages(x, y, t.shingle_chars, t)
        names = sorted({f"{d.bid_id}/{d.name}" for d in [*by_bid[a], *by_bid[b]]})
        figures: dict[str, Any] = {
            "jaccard": round(jaccard, 4),
            "minhash_estimate": (
                round(hashes[a].jaccard(hashes[b]), 4) if a in hashes and b in hashes else "n/a"
            ),
            "shared_shingles": shared,
            "shingles": f"{len(x.unique)}, {len(y.unique)}",
        }
        figures.update({f"passage_{i + 1}": p for i, p in enumerate(passages)})
        pct = f"{jaccard * 100:.1f}%"
        signals.append(
            Signal(
                "documents.near_duplicate_text",
                f"投标 {a} 与 {b} 的文件文本高度雷同（相似度 {pct}，{shared} 个相同片段）。",
                f"The texts of bids {a} and {b} are near-duplicates (similarity {pct}, "
                f"{shared} shared shingles).",
                Evidence.of([a, b], names, figures),
                {
                    "text_similarity_min": str(t.text_similarity_min),
                    "shingle_chars": str(t.shingle_chars),
                    "text_min_shingles": str(t.text_min_shingles),
                },
            )
        )
    return signals


# -- the same error in the forms -----------------------------------------------------------

_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")} | {
    c: i for i, c in enumerate("〇一二三四五六七八九")
}
_DIGITS["两"] = 2
_SMALL = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}
_FRACTION = {"角": Decimal("0.1"), "分": Decimal("0.01"), "厘": Decimal("0.001")}


def parse_amount_words(text: str) -> Decimal | None:
    """An amount in Chinese capital numerals (大写金额, e.g. 壹佰贰拾万零伍拾元整), or None
    if the text is not one."""
    words = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    words = words.removeprefix("人民币").removesuffix("整").removesuffix("正")
    if not words:
        return None
    total, section, number = 0, 0, 0
    fraction, seen_yuan = Decimal(0), False
    for ch in words:
        if ch in _DIGITS:
            number = _DIGITS[ch]
        elif ch in _SMALL:
            section += (number or 1) * _SMALL[ch]
            number = 0
        elif ch == "万":
            total += (section + number) * 10_000
            section = number = 0
        elif ch == "亿":
            total = (total + section + number) * 100_000_000
            section = number = 0
        elif ch in ("元", "圆"):
            total, section, number, seen_yuan = total + section + number, 0, 0, True
        elif ch in _FRACTION and seen_yuan:
            fraction += number * _FRACTION[ch]
            number = 0
        else:
            return None
    if not seen_yuan:
        total += section + number
    elif number:
        return None  # a digit after 元 without its unit
    return total + fraction


def same_form_error(forms: Sequence[FormFacts], t: Thresholds) -> list[Signal]:
    errors: dict[tuple[str, str, str], list[FormFacts]] = defaultdict(list)
    for f in forms:
        for name, words in f.form.items():
            figure = f.form.get(name.removesuffix(WORDS_SUFFIX))
            if not name.endswith(WORDS_SUFFIX) or not isinstance(words, str) or figure is None:
                continue
            stated = parse_amount_words(words)
            try:
                written = Decimal(str(figure))
            except InvalidOperation:
                continue
            if stated is not None and stated != written:
                errors[(name, str(figure), _SPACE.sub("", words))].append(f)
    signals = []
    for (name, figure, words), found in sorted(errors.items()):
        bidders = {f.bidder for f in found}
        if len(bidders) < 2:
            continue
        stated = parse_amount_words(words)
        field_name = name.removesuffix(WORDS_SUFFIX)
        signals.append(
            Signal(
                "documents.same_form_error",
                f"{len(bidders)} 家投标人的投标函出现相同错误：{field_name} 小写 {figure} 与"
                f"大写“{words}”（{stated}）不符。",
                f"{len(bidders)} bidders' forms carry the same error: {field_name} {figure} "
                f"in figures but “{words}” ({stated}) in words.",
                Evidence.of(
                    sorted(f.bid_id for f in found),
                    [field_name, name],
                    {"figure": figure, "words": words, "words_value": str(stated)},
                ),
                {},
            )
        )
    return signals


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value)) if isinstance(value, str | int) else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def same_sum_error(forms: Sequence[FormFacts], t: Thresholds) -> list[Signal]:
    errors: dict[tuple[str, Decimal], list[tuple[FormFacts, Decimal, Decimal]]] = defaultdict(list)
    for f in forms:
        for total_field, parts in t.form_sums:
            total = _decimal(f.form.get(total_field))
            values = [_decimal(f.form.get(p)) for p in parts]
            if total is None or any(v is None for v in values):
                continue
            added = sum((v for v in values if v is not None), Decimal(0))
            if added != total:
                errors[(total_field, (total - added).normalize())].append((f, total, added))
    signals = []
    for (total_field, gap), found in sorted(errors.items()):
        bidders = {f.bidder for f, _, _ in found}
        if len(bidders) < 2:
            continue
        parts = dict(t.form_sums)[total_field]
        shown = f"{gap:f}"
        signals.append(
            Signal(
                "documents.same_sum_error",
                f"{len(bidders)} 家投标人的投标函出现相同计算错误：{total_field} 与"
                f"{' + '.join(parts)} 之和相差同一数额（{shown}）。",
                f"{len(bidders)} bidders' forms carry the same arithmetic error: {total_field} "
                f"differs from {' + '.join(parts)} by the same amount ({shown}).",
                Evidence.of(
                    sorted(f.bid_id for f, _, _ in found),
                    [total_field, *parts],
                    {
                        "difference": shown,
                        **{f"{f.bid_id}": f"{total} ≠ {added}" for f, total, added in found},
                    },
                ),
                {"form_sums": f"{total_field} = {' + '.join(parts)}"},
            )
        )
    return signals


def document_signals(
    docs: Sequence[Document],
    forms: Sequence[FormFacts] = (),
    thresholds: Thresholds | None = None,
) -> list[Signal]:
    """Every document signal for one tender, in a stable order."""
    t = thresholds or Thresholds()
    return [
        *identical_files(docs, t),
        *same_metadata(docs, t),
        *near_duplicate_text(docs, t),
        *same_form_error(forms, t),
        *same_sum_error(forms, t),
    ]
