"""The opening ceremony (开标) in lines and tables for people, zh-CN or English: the status
table, the read-out, one line per event, times in Beijing time (``Out.when``). It only
formats: what the participant knows is folded from the tender's events by
:mod:`clients.folds.tender`, and :class:`clients.follow.Follower` feeds the fold, history
first (the hub ends a replay with a ``live`` marker), then news.
"""

from __future__ import annotations

from typing import Any

from clients.cli_common import Out, table
from clients.folds.tender import Bid, CeremonyView, Stage

# -- rendering -----------------------------------------------------------------------------


class Render:
    """Lines and tables of the ceremony for people, in the CLI's language."""

    def __init__(self, out: Out) -> None:
        self.out = out

    def t(self, key: str, **fields: Any) -> str:
        return self.out.t(key, **fields)

    def word(self, prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        return self.t(key) if key in self.out.catalog else value

    def note(self, bid: Bid) -> str:
        parts = []
        if bid.reason:
            parts.append(self.word("reason", bid.reason))
        if bid.via == "committee":
            parts.append(self.word("via", bid.via))
        return "；".join(parts) if not self.out.en else "; ".join(parts)

    def status_table(self, stage: Stage) -> str:
        rows = []
        for number, bid in sorted(stage.bids.items()):
            mark = f" ({self.t('mine')})" if number in stage.mine else ""
            rows.append(
                [number + mark, bid.section, self.word("status", bid.status), self.note(bid)]
            )
        headers = [self.t("h.number"), self.t("h.section"), self.t("h.status"), self.t("h.note")]
        return table(headers, rows)

    def read_out_table(self, entries: list[dict[str, Any]], mine: dict[str, str]) -> str:
        rows = []
        for e in entries:
            number = str(e["number"])
            mark = f" ({self.t('mine')})" if number in mine else ""
            if e.get("form"):
                figures = ", ".join(f"{k}={v}" for k, v in e["form"].items())
            else:
                figures = self.word("reason", str(e.get("reason", "")))
            for key in ("rejected", "review"):  # its standing against the control price
                standing = e.get(key)
                if isinstance(standing, dict):
                    detail = standing.get("detail_en" if self.out.en else "detail", "")
                    figures += "; " + self.t(f"standing.{key}", detail=detail)
            rows.append(
                [
                    number + mark,
                    str(e["section"]),
                    str(e["org"]),
                    self.word("status", str(e["status"])),
                    figures,
                ]
            )
        headers = [
            self.t("h.number"),
            self.t("h.section"),
            self.t("h.bidder"),
            self.t("h.status"),
            self.t("h.figures"),
        ]
        return table(headers, rows)

    def announcement(self, event: dict[str, Any], view: CeremonyView) -> list[str]:
        """What a participant is told of an event: its line, and the status table when a
        stage starts or its window closes (on a terminal, at each bid's status too)."""
        line = self.event_line(event, view)
        lines = [line] if line is not None else []
        stage, kind = view.current, event["type"]
        moved = kind in ("opening.started", "opening.window_closed")
        if stage is not None and (moved or (kind == "bid.status" and self.out.tty)):
            lines.append(self.status_table(stage))
        return lines

    def event_line(self, event: dict[str, Any], view: CeremonyView) -> str | None:
        """One line announcing an event, or None for events not worth a line."""
        kind, p = event["type"], event.get("payload", {})
        stage = view.current
        if kind == "tender.configured":
            return self.t(
                "ev.configured",
                opening_at=self.out.when(p["opening_at"]),
                window=p.get("decryption_window_seconds"),
                min_bids=p.get("min_bids"),
            )
        if kind == "tender.published":
            return self.t("ev.published")
        if kind == "bid.submitted":
            return self.t(
                "ev.submitted",
                section=p["section"],
                envelope=p["envelope"],
                version=p["version"],
                sha=str(p["sha256"])[:16],
            )
        if kind == "bid.withdrawn":
            return self.t("ev.withdrawn", section=p["section"])
        if kind == "opening.started":
            return self.t(
                "ev.started",
                stage=self.word("stage", str(p["stage"])),
                count=len(p.get("bids", [])),
                ends=self.out.when(p["window_ends"]),
            )
        if kind == "opening.your_bid":
            return self.t("ev.your_bid", number=p["number"], section=p["section"])
        if kind == "opening.signed_in":
            return self.t("ev.signed_in", who=p["who"])
        if kind == "bid.status" and stage is not None:
            bid = stage.bids.get(str(p["number"]))
            note = self.note(bid) if bid is not None else str(p.get("reason", ""))
            return self.t(
                "ev.status",
                number=p["number"],
                status=self.word("status", str(p["status"])),
                note=f" ({note})" if note else "",
            )
        if kind == "opening.window_closed":
            pending = ", ".join(p.get("pending", [])) or self.t("none")
            return self.t("ev.window_closed", pending=pending, rule=p.get("rule", ""))
        if kind == "opening.fallback":
            return self.t("ev.fallback", k=p.get("k"), numbers=", ".join(p.get("numbers", [])))
        if kind == "opening.share_received":
            return self.t("ev.share", count=p.get("count"))
        if kind == "opening.read_out":
            mine = stage.mine if stage is not None else {}
            return self.t("ev.read_out") + "\n" + self.read_out_table(p.get("entries", []), mine)
        if kind == "section.failed":
            return self.t(
                "ev.section_failed",
                sections=", ".join(p.get("sections", [])),
                min_bids=p.get("min_bids"),
            )
        if kind == "opening.objection":
            return self.t("ev.objection", id=p["id"], org=p["org"], text=p["text"])
        if kind == "opening.answered":
            return self.t("ev.answered", id=p["id"], text=p["text"])
        if kind == "opening.confirmed":
            return self.t("ev.confirmed", org=p["org"])
        if kind == "opening.record_signed":
            return self.t("ev.record_signed", role=self.word("role", str(p["role"])))
        if kind == "opening.record":
            bids = p.get("bids", [])
            valid = sum(1 for b in bids if b.get("status") == "decrypted")
            return self.t("ev.record", valid=valid, count=len(bids))
        return None
