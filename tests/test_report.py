"""The evaluation report (评标报告) as HTML and PDF holds every section a committee's report
must: rendered from a session driven through the pure deciders (three venues, five experts,
a bid rejected by the control price at the opening, one flagged below its floor, one failing
the preliminary review, a clarification, a deviation with its reason, dissent)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from evalroom import report as report_module
from evalroom.db.sessions import ReportTender
from evalroom.report import WQY_MICROHEI, beijing, document, render_html, render_pdf
from tests.__main__ import DEBIAN_PACKAGES
from tests.support import ROOT
from tests.test_control_price import SUPERVISOR, chaired_session, config, opened
from tests.test_session_domain import (
    AGENCY,
    COMPREHENSIVE,
    Room,
    bidder,
    explained,
    reviewed,
    scored,
    signed,
)

STREAM = "session:S1"
PRICES = {
    "B1": "1000000.00",
    "B2": "980000.00",
    "B3": "1050000.00",
    "B4": "900000.00",  # below the floor: flagged, then failed by 3 of 5 in the review
    "B5": "1100000.00",  # above the control price: rejected at the opening
}
CONTROL = {"limit": "1060000.00", "floor": "950000.00"}
QUESTION = "<b>工期</b>能否保证？"  # markup in a participant's text is printed, never obeyed
ANSWER = "保证 180 日历天内完工"
SECTIONS = [
    "一、项目概况",
    "二、开标记录摘要",
    "三、评标委员会",
    "四、否决投标",
    "五、评标办法与价格分计算",
    "六、专家评分表",
    "七、评分对比表",
    "八、评审结果与排名",
    "九、澄清",
    "十、评分偏离及书面说明",
    "十一、不同意见",
    "十二、推荐中标候选人",
    "十三、专家签名",
]


def evaluated() -> tuple[Room, dict[str, Any]]:
    """A closed session, and the opening record its bids came from."""
    _readout, record = opened(PRICES, config(control=CONTROL))
    room = chaired_session(record, COMPREHENSIVE)
    asked = room.send(
        "session.clarify_ask",
        room.expert(1),
        {"company": "C-B1", "question": QUESTION, "deadline_seconds": 600},
    )
    cid = asked.reply["id"]
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    room.tick(120)
    room.send("session.clarify_answer", bidder("C-B1"), {"id": cid, "answer": ANSWER})
    for step in (reviewed, scored, explained, signed):
        step(room)
    assert room.phase == "closed"
    return room, record


def sources() -> tuple[dict[str, Any], list[dict[str, Any]], ReportTender]:
    room, record = evaluated()
    state = dict(room.state)
    signatures = [
        {
            "expert": e.payload["expert"],
            "name": room.state["committee"][e.payload["expert"]]["name"],
            "sig": "c2ln" * 22,
            "seq": 100 + i,
            "at": room.state["signatures"][e.payload["expert"]]["at"],
            "key": "ed25519:" + "a" * 43,
        }
        for i, e in enumerate(room.events("session.report_signed"))
    ]
    tender = ReportTender(
        "tender:T1",
        "西宁市滨河路改造工程",
        AGENCY.user_id,
        config(control=CONTROL),
        [{"seq": 41, "at": "2026-12-01T10:02:03+00:00", "payload": record}],
        {AGENCY.user_id: "代理甲", SUPERVISOR.user_id: "监督乙"},
    )
    return state, signatures, tender


def key_figures(state: dict[str, Any]) -> list[str]:
    names = [m["name"] for m in state["committee"].values()]
    rejected = state["rejected"][0]["detail"]
    deviation = state["report"]["deviations"][0]["reason"]
    return [
        *names,
        rejected,  # the rejected bid's reason, as read out at the opening
        "1100000.00",
        deviation,  # the deviation's written reason
        "资质不符",  # the preliminary review's fail reason
        "评标基准价 1010000.00 元",  # (1000000 + 980000 + 1050000) / 3, B4 and B5 out
        "-0.99%",  # B1's deviation from the base
        "59.51",  # B1's price score: 60 − 0.5 × 0.99 = 59.505, rounded half up
        QUESTION,
        ANSWER,
        "B2 的技术分偏低",  # dissent
        "西宁市滨河路改造工程",
        "2025-03-03 17:02:00（北京时间）",  # the signatures' time (09:02 UTC)
        "2026-12-01 17:30:00（北京时间）",  # the opening time (09:30 UTC)
        "2026-12-01 18:02:03（北京时间）",  # when the opening record was signed
        "代理甲",
        state["report_digest"],
    ]


def test_beijing_time_is_utc_plus_eight_and_labelled() -> None:
    assert beijing("2026-12-07T14:08:10+00:00") == "2026-12-07 22:08:10（北京时间）"
    assert beijing("2026-12-07T14:08:10Z") == "2026-12-07 22:08:10（北京时间）"
    assert beijing(datetime(2026, 12, 31, 16, 0, tzinfo=UTC).isoformat()).startswith("2027-01-01")
    assert beijing(None) == "—"


def test_the_document_has_every_section_in_order_and_the_ranking_recomputes() -> None:
    state, signatures, tender = sources()
    doc = document(STREAM, state, signatures, tender)
    assert [s.title for s in doc.sections] == SECTIONS
    text = repr(doc)
    assert "与各专家签署的排名一致" in text and "不一致" not in text


def test_the_html_holds_every_section_and_escapes_what_participants_wrote() -> None:
    state, signatures, tender = sources()
    page = render_html(STREAM, state, signatures, tender)
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page
    for figure in key_figures(state):
        if figure != QUESTION:
            assert figure in page, figure
    assert "&lt;b&gt;工期&lt;/b&gt;" in page and "<b>工期" not in page


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def fonts(pdf: bytes) -> list[Any]:
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page["/Resources"].get_object()
        for font in resources["/Font"].get_object().values():
            found.append(font.get_object())
    return found


@pytest.mark.skipif(
    not WQY_MICROHEI.is_file(),
    reason=f"no {WQY_MICROHEI} (Debian fonts-wqy-microhei; `python -m tests` installs it)",
)
def test_the_pdf_holds_every_section_in_an_embedded_font() -> None:
    state, signatures, tender = sources()
    pdf = render_pdf(STREAM, state, signatures, tender)
    text = pdf_text(pdf)
    for figure in [*SECTIONS, *key_figures(state)]:
        assert figure in text.replace("\n", ""), figure
    # reportlab's canvas sets Helvetica at each page's start and draws no text in it.
    used = [f for f in fonts(pdf) if f["/BaseFont"] != "/Helvetica"]
    assert used and all("/FontFile2" in f["/FontDescriptor"] for f in used)
    assert all("WenQuanYiMicroHei" in f["/BaseFont"] for f in used)
    assert "embedded subset" in PdfReader(io.BytesIO(pdf)).metadata["/Keywords"]
    assert len(pdf) < 400_000  # a subset, not the 5 MB collection


def test_without_a_font_file_the_pdf_says_its_font_is_not_embedded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(report_module, "WQY_MICROHEI", tmp_path / "none.ttc")
    monkeypatch.delenv("EVALROOM_REPORT_FONT", raising=False)
    report_module._font.cache_clear()
    try:
        state, signatures, tender = sources()
        pdf = render_pdf(STREAM, state, signatures, tender)
    finally:
        report_module._font.cache_clear()
    keywords = PdfReader(io.BytesIO(pdf)).metadata["/Keywords"]
    assert "STSong-Light, not embedded" in keywords
    assert not any("/FontFile2" in f.get("/FontDescriptor", {}) for f in fonts(pdf))
    assert "评标报告" in pdf_text(pdf)  # still readable where the reader has the CID font


def test_the_image_and_the_test_command_install_the_font_the_pdf_looks_for() -> None:
    assert DEBIAN_PACKAGES[str(WQY_MICROHEI)] == "fonts-wqy-microhei"
    assert "fonts-wqy-microhei" in (ROOT / "Dockerfile").read_text()
