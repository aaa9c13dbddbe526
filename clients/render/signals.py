"""Red flags as a supervisor reads them (风险提示): one line per signal, and its evidence.

Pure: a ``signal.raised`` payload (``evalroom.domain.redflag_record``) and the language in,
lines out. The sentence is the server's own, in the reader's language; the evidence names
the bids with their companies, the fields read, the figures and the thresholds used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clients.cli_common import Out


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def signal_line(out: Out, payload: Mapping[str, Any]) -> str:
    """``⚠ 风险提示 [price.identical] 第一标段 S1 开标：2 份投标报价完全相同（900000.00）。``"""
    message = payload.get("message") or {}
    sentence = message.get("en" if out.en else "zh-CN") or payload.get("code", "")
    where = out.t(f"signals.phase.{payload.get('phase')}")
    return out.t(
        "signals.line",
        code=payload.get("code", ""),
        section=payload.get("section", ""),
        where=where,
        sentence=sentence,
    )


def evidence_lines(out: Out, payload: Mapping[str, Any]) -> list[str]:
    """The drill-down: bids by name, fields, figures, thresholds."""
    evidence = payload.get("evidence") or {}
    bidders = payload.get("bidders") or {}
    bids = [f"{b} ({bidders[b]})" if bidders.get(b) else str(b) for b in evidence.get("bids", [])]
    lines = [
        out.t("signals.bids", bids=", ".join(bids) or out.t("word.none")),
        out.t("signals.fields", fields=", ".join(evidence.get("fields", [])) or "-"),
        out.t("signals.figures", figures=_pairs(evidence.get("figures") or {}) or "-"),
        out.t("signals.threshold", threshold=_pairs(payload.get("threshold") or {}) or "-"),
    ]
    return ["    " + line for line in lines]
