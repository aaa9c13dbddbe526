"""Red flags on who made and sent the bids (围标串标 · 身份与来源预警), pure and advisory.

Each bid comes with its origin: the keyed hashes of the machine that sealed it (from the bid
package, ``crypto/origin.py``), the client addresses and login-key fingerprints its uploads
came from (recorded by the server), and its bid form. A signal is raised when one of these is
shared by two or more *different* bidders (the same company's own bids may share anything):

- ``identity.same_machine`` — the same machine id, MAC address, disk serial, hostname or
  browser install id (条例 art. 40 (一): prepared by the same party);
- ``identity.same_ip`` — uploads from the same client address;
- ``identity.same_login_key`` — uploads authenticated with the same participant key;
- ``identity.same_person`` — the same person named as project manager or contact (art. 40 (三)
  for the project manager, (二) for one party handling several bids);
- ``identity.same_phone`` — the same phone number in those forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalroom.domain.redflags.signal import Evidence, Signal
from evalroom.domain.redflags.thresholds import Thresholds
from evalroom.domain.rules import RuleError

__all__ = ["MACHINE_KINDS", "BidOrigin", "identity_signals", "normalise_name", "normalise_phone"]

MACHINE_KINDS = ("machine_id", "mac", "disk_serial", "hostname", "install_id")
_KIND_ZH = {
    "machine_id": "系统机器码",
    "mac": "MAC 地址",
    "disk_serial": "硬盘序列号",
    "hostname": "计算机名",
    "install_id": "浏览器安装标识",
}
_KIND_EN = {
    "machine_id": "OS machine id",
    "mac": "MAC address",
    "disk_serial": "disk serial",
    "hostname": "hostname",
    "install_id": "browser install id",
}
_NAME_DROP = re.compile(r"[\s·•・.\-_()（）]+")


@dataclass(frozen=True)
class BidOrigin:
    """One bid as the identity checks see it: its id (the opening's number), the bidder
    company, the machine hashes by kind, the upload addresses and login-key fingerprints,
    and its bid form (one stage's, or the stages' merged)."""

    bid_id: str
    bidder: str
    machine: Mapping[str, frozenset[str]] = field(default_factory=dict)
    upload_ips: frozenset[str] = frozenset()
    login_keys: frozenset[str] = frozenset()
    form: Mapping[str, Any] = field(default_factory=dict)


def normalise_name(value: Any) -> str | None:
    """A person's name for comparison: NFKC, case-folded, without spaces, dots and brackets;
    None for fewer than two characters left."""
    if not isinstance(value, str):
        return None
    text = _NAME_DROP.sub("", unicodedata.normalize("NFKC", value).casefold())
    return text if len(text) >= 2 else None


def normalise_phone(value: Any) -> str | None:
    """A phone number for comparison: its digits, without China's country code (+86, 0086);
    None for fewer than 7 digits."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    digits = "".join(c for c in unicodedata.normalize("NFKC", str(value)) if c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 12):
            digits = digits[len(prefix) :]
            break
    return digits if len(digits) >= 7 else None


def _shared(
    bids: Sequence[BidOrigin], keys_of: Iterable[tuple[BidOrigin, str, str]]
) -> dict[frozenset[str], list[tuple[str, str]]]:
    """Group (label, value) pairs held by two or more bidders; merge groups with the same
    bids. ``keys_of`` yields (bid, label, value)."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for bid, label, value in keys_of:
        holders[(label, value)].add(bid.bid_id)
    bidder = {b.bid_id: b.bidder for b in bids}
    merged: dict[frozenset[str], list[tuple[str, str]]] = defaultdict(list)
    for key, ids in holders.items():
        if len({bidder[i] for i in ids}) >= 2:
            merged[frozenset(ids)].append(key)
    return merged


def _ordered(ids: frozenset[str]) -> list[str]:
    return sorted(ids)


def _bidders(bids: Sequence[BidOrigin], ids: frozenset[str]) -> int:
    return len({b.bidder for b in bids if b.bid_id in ids})


def same_machine(bids: Sequence[BidOrigin], t: Thresholds) -> list[Signal]:
    kinds = [k for k in MACHINE_KINDS if k in t.machine_kinds]
    found = _shared(
        bids,
        ((b, k, h) for b in bids for k in kinds for h in b.machine.get(k, ())),
    )
    signals = []
    for ids, keys in sorted(found.items(), key=lambda g: _ordered(g[0])):
        shared = [k for k in kinds if any(label == k for label, _ in keys)]
        n = _bidders(bids, ids)
        figures = {k: ", ".join(sorted(h[:16] for label, h in keys if label == k)) for k in shared}
        signals.append(
            Signal(
                "identity.same_machine",
                f"{n} 家投标人的 {len(ids)} 份投标文件在同一台机器上制作（"
                f"{'、'.join(_KIND_ZH[k] for k in shared)}相同）。",
                f"{len(ids)} bids of {n} bidders were sealed on the same machine "
                f"(same {', '.join(_KIND_EN[k] for k in shared)}).",
                Evidence.of(
                    _ordered(ids), [f"origin.{k}" for k in shared], {"bidders": n, **figures}
                ),
                {"machine_kinds": ", ".join(kinds)},
            )
        )
    return signals


def same_upload_source(bids: Sequence[BidOrigin], t: Thresholds) -> list[Signal]:
    ignored = set(t.ip_ignore)
    signals = []
    ips = _shared(bids, ((b, "ip", ip) for b in bids for ip in b.upload_ips if ip not in ignored))
    for ids, keys in sorted(ips.items(), key=lambda g: _ordered(g[0])):
        n, shown = _bidders(bids, ids), ", ".join(sorted(v for _, v in keys))
        signals.append(
            Signal(
                "identity.same_ip",
                f"{n} 家投标人从同一 IP 地址（{shown}）上传投标文件。",
                f"{n} bidders uploaded their bids from the same IP address ({shown}).",
                Evidence.of(_ordered(ids), ["upload.client_ip"], {"bidders": n, "ip": shown}),
                {"ip_ignore": ", ".join(t.ip_ignore) or "—"},
            )
        )
    logins = _shared(bids, ((b, "key", k) for b in bids for k in b.login_keys))
    for ids, keys in sorted(logins.items(), key=lambda g: _ordered(g[0])):
        n, shown = _bidders(bids, ids), ", ".join(sorted(v[:23] for _, v in keys))
        signals.append(
            Signal(
                "identity.same_login_key",
                f"{n} 家投标人使用同一登录密钥（{shown}…）上传投标文件。",
                f"{n} bidders uploaded their bids with the same login key ({shown}…).",
                Evidence.of(_ordered(ids), ["upload.login_key"], {"bidders": n, "key": shown}),
                {},
            )
        )
    return signals


def same_person(bids: Sequence[BidOrigin], t: Thresholds) -> list[Signal]:
    signals = []
    for code, fields, norm, zh, en in (
        ("identity.same_person", t.person_fields, normalise_name, "同一人员", "the same person"),
        ("identity.same_phone", t.phone_fields, normalise_phone, "同一电话号码", "the same phone"),
    ):
        values = {
            (b.bid_id, f): v for b in bids for f in fields if (v := norm(b.form.get(f))) is not None
        }
        found = _shared(
            bids, ((b, "v", v) for b in bids for (i, _), v in values.items() if i == b.bid_id)
        )
        for ids, keys in sorted(found.items(), key=lambda g: _ordered(g[0])):
            for _label, value in keys:
                where = sorted({f for (i, f), v in values.items() if i in ids and v == value})
                raw = sorted(
                    {str(b.form[f]) for b in bids if b.bid_id in ids for f in where if f in b.form}
                )
                n, shown = _bidders(bids, ids), " / ".join(raw)
                signals.append(
                    Signal(
                        code,
                        f"{n} 家投标人的投标文件中出现{zh}（{shown}，字段 {', '.join(where)}）。",
                        f"{n} bidders' forms name {en} ({shown}, fields {', '.join(where)}).",
                        Evidence.of(_ordered(ids), where, {"bidders": n, "value": shown}),
                        {"fields": ", ".join(fields)},
                    )
                )
    return signals


def identity_signals(
    bids: Sequence[BidOrigin], thresholds: Thresholds | None = None
) -> list[Signal]:
    """Every identity signal for one tender, in a stable order."""
    ids = [b.bid_id for b in bids]
    if len(set(ids)) != len(ids):
        raise RuleError("invalid", "bid ids repeat in the identity red-flag input")
    t = thresholds or Thresholds()
    return [*same_machine(bids, t), *same_upload_source(bids, t), *same_person(bids, t)]
