"""The evaluation report (评标报告) as a document a person reads and prints: HTML and PDF.

Both are rendered from the session's report object (the same object every expert signed by
its digest) and list each expert's signature. The PDF uses reportlab's built-in Chinese font
(STSong-Light, a CID font), so no font file is needed.
"""

from __future__ import annotations

import html
import io
from typing import Any

from evalroom.domain.session import report_digest


def _venue(state: dict[str, Any], venue_id: str) -> str:
    return str(state.get("venues", {}).get(venue_id, {}).get("name", venue_id))


def _rows(state: dict[str, Any]) -> list[list[str]]:
    report = state["report"]
    companies = {b["bid_id"]: b["company"] for b in report["bids"]}
    rows = []
    for bid in report["ranking"]["bids"]:
        rows.append(
            [
                str(bid.get("rank") or "—"),
                bid["bid_id"],
                companies.get(bid["bid_id"], ""),
                str(bid.get("price", "")),
                str(bid.get("price_score") or "—"),
                str(bid.get("expert_part") or "—"),
                str(bid.get("total") or bid.get("evaluated_price") or "—"),
                "通过" if bid.get("passed") else "未通过",
            ]
        )
    return rows


HEAD = ["排名", "投标编号", "投标人", "报价", "价格分", "专家评分", "总分/评标价", "初步评审"]


def render_html(stream: str, state: dict[str, Any], signatures: list[dict[str, Any]]) -> str:
    report = state["report"]
    esc = html.escape
    table = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _rows(state)
    )
    committee = "".join(
        f"<li>{esc(m.get('name', m['expert']))}（{esc(m.get('specialty', ''))}，"
        f"{esc(_venue(state, m.get('venue', '')))}）{'，组长' if m.get('chair') else ''}</li>"
        for m in report["committee"]
    )
    recommended = "".join(
        f"<li>第{r['rank']}名：{esc(r['company'])}（{esc(r['bid_id'])}）</li>"
        for r in report["recommended"]
    )
    deviations = (
        "".join(
            f"<li>{esc(d['expert'])} · {esc(d['bid'])} · {esc(d['criterion'])}：{esc(d['reason'])}</li>"
            for d in report["deviations"]
        )
        or "<li>无</li>"
    )
    signed = "".join(
        f"<tr><td>{esc(s['name'])}</td><td>{esc(s['expert'])}</td><td>{esc(s['at'])}</td>"
        f"<td><code>{esc(s['sig'][:24])}…</code></td></tr>"
        for s in signatures
    )
    dissent = (
        "".join(
            f"<li>{esc(e)}：{esc(v['dissent'])}</li>"
            for e, v in state.get("signatures", {}).items()
            if v.get("dissent")
        )
        or "<li>无</li>"
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>评标报告 {esc(stream)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:.3em .5em}}
th{{background:#eef}}code{{font-size:.85em}}</style></head><body>
<h1>评标报告</h1>
<p>项目：{esc(report["tender"])} · 标段：{esc(report["section"])} · 会话：{esc(stream)}</p>
<p>报告摘要（SHA-256）：<code>{esc(report_digest(report))}</code></p>
<h2>评标委员会</h2><ul>{committee}</ul>
<h2>评审结果与排名</h2>
<table><tr>{"".join(f"<th>{h}</th>" for h in HEAD)}</tr>{table}</table>
<h2>推荐中标候选人</h2><ol>{recommended}</ol>
<h2>评分偏离说明</h2><ul>{deviations}</ul>
<h2>不同意见</h2><ul>{dissent}</ul>
<h2>专家签名</h2>
<table><tr><th>专家</th><th>编号</th><th>时间</th><th>签名（Ed25519）</th></tr>{signed}</table>
</body></html>"""


def _register_font(pdfmetrics: Any, cid_font: Any) -> str:
    """A TrueType font named by ``EVALROOM_REPORT_FONT`` is embedded (the PDF then reads the
    same everywhere); otherwise the standard CID font STSong-Light, which every Chinese PDF
    reader has, is referenced without embedding."""
    import os

    path = os.environ.get("EVALROOM_REPORT_FONT", "")
    if path and os.path.exists(path):
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("ReportFont", path, subfontIndex=0))
        return "ReportFont"
    pdfmetrics.registerFont(cid_font("STSong-Light"))
    return "STSong-Light"


def render_pdf(stream: str, state: dict[str, Any], signatures: list[dict[str, Any]]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font(pdfmetrics, UnicodeCIDFont)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=24)
    h2 = ParagraphStyle("h2", parent=body, fontSize=13, leading=18, spaceBefore=8)
    report = state["report"]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=f"评标报告 {stream}")
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf8")),
        ]
    )
    story: list[Any] = [
        Paragraph("评标报告", title),
        Paragraph(f"项目：{report['tender']}　标段：{report['section']}　会话：{stream}", body),
        Paragraph(f"报告摘要（SHA-256）：{report_digest(report)}", body),
        Paragraph("评审结果与排名", h2),
        Table([HEAD, *_rows(state)], style=grid, repeatRows=1),
        Paragraph("推荐中标候选人", h2),
    ]
    story += [
        Paragraph(f"第{r['rank']}名：{r['company']}（{r['bid_id']}）", body)
        for r in report["recommended"]
    ]
    story.append(Paragraph("评标委员会", h2))
    story += [
        Paragraph(
            f"{m.get('name', m['expert'])}（{m.get('specialty', '')}，{_venue(state, m.get('venue', ''))}）"
            f"{'，组长' if m.get('chair') else ''}",
            body,
        )
        for m in report["committee"]
    ]
    story.append(Paragraph("专家签名", h2))
    sig_rows = [["专家", "编号", "时间", "签名（Ed25519，节选）"]] + [
        [s["name"], s["expert"], s["at"][:19], s["sig"][:32] + "…"] for s in signatures
    ]
    story += [Table(sig_rows, style=grid, repeatRows=1), Spacer(1, 12)]
    doc.build(story)
    return out.getvalue()
