"""The documents beside the 评标报告 (evalroom/report_award.py), HTML and PDF, in Chinese and
in English: the report of a session closed under 否决所有投标 (no candidates, the decision and
its reasons), and the 定标报告 of the award after the evaluation as its own document —
rendered from sessions driven through the pure deciders."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from evalroom.db.sessions import ReportTender
from evalroom.report import WQY_MICROHEI, html_of, pdf_of
from evalroom.report_award import (
    WORDS,
    Words,
    all_rejected,
    award_document,
    reject_all_document,
)
from tests.test_award_domain import (
    BIDDER_B2,
    DRAW_SEED,
    PANEL,
    SUPERVISOR,
    SYSTEM,
    TENDERER,
    Room,
    _drawing,
    _panel_duties,
    closed_session,
    member,
)
from tests.test_control_price import AGENCY, config, review, session_room

STREAM = "session:T1-01"
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
needs_font = pytest.mark.skipif(
    not WQY_MICROHEI.is_file(),
    reason=f"no {WQY_MICROHEI} (Debian fonts-wqy-microhei; `python -m tests` installs it)",
)


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace(
        "\n", ""
    )


def tender() -> ReportTender:
    return ReportTender(
        "tender:T1",
        "西宁市滨河路改造工程",
        AGENCY.user_id,
        config(),
        [],
        {AGENCY.user_id: "代理甲"},
    )


def labels(doc: Any) -> list[str]:
    """Every heading and label of a document: titles, sub-headings, table heads, and the
    first column of two-column (item, details) tables."""
    out = [doc.title, *(s.title for s in doc.sections)]
    for s in doc.sections:
        for b in s.blocks:
            head = getattr(b, "head", None)
            if head is not None:
                out += list(head)
                if len(head) == 2:
                    out += [row[0] for row in b.rows]
            elif hasattr(b, "text"):
                out.append(b.text.split(" · ")[0])
    return out


# --- 否决所有投标 -----------------------------------------------------------------------------


def rejected_all() -> dict[str, Any]:
    room = session_room("reject_all")
    review(room, {"B4"})  # two valid bids left, B3 rejected at the opening
    assert room.phase == "closed" and room.state["report"] is None
    return dict(room.state)


def test_a_session_closed_under_reject_all_gets_a_report_without_candidates() -> None:
    state = rejected_all()
    assert all_rejected(state)
    doc = reject_all_document(STREAM, state, tender())
    titles = [s.title for s in doc.sections]
    assert titles == [
        "一、项目概况",
        "二、开标时否决的投标",
        "三、评标委员会",
        "四、初步评审",
        "五、有效投标不足三个的决定",
        "六、评审结论",
    ]
    page = html_of(doc, STREAM)
    decision = state["few_valid_decision"]
    chair = state["committee"][state["chair"]]["name"]
    for figure in (
        decision["detail"],  # the decision and its reasons, as the chair recorded it
        "否决所有投标",
        chair,
        "B3",
        state["rejected"][0]["detail"],  # the opening's rejection with its reason
        "资质不符",  # each expert's fail reason of the preliminary review
        "合格 0 / 不合格 5",
        "无推荐中标候选人",
        "（北京时间）",
        "西宁市滨河路改造工程",
    ):
        assert figure in page, figure
    assert "中标候选人</th>" not in page  # no candidates table, no ranking
    assert not all_rejected({**state, "few_valid_decision": {**decision, "decision": "continue"}})


@needs_font
def test_the_reject_all_report_in_english_pdf_has_every_section_and_no_chinese_label() -> None:
    state = rejected_all()
    doc = reject_all_document(STREAM, state, tender(), lang="en")
    assert doc.lang == "en"
    chinese = [label for label in labels(doc) if CJK.search(label)]
    assert not chinese, chinese
    text = pdf_text(pdf_of(doc, STREAM))
    for figure in (
        *(s.title for s in doc.sections),
        state["few_valid_decision"]["detail_en"],
        "Every bid is rejected: no candidate is recommended",
        "(Beijing time)",
        "西宁市滨河路改造工程",  # names as entered
        state["committee"][state["chair"]]["name"],
    ):
        assert figure.replace("\n", "") in text, figure
    assert '<html lang="en">' in html_of(doc, STREAM)


# --- 定标报告 ---------------------------------------------------------------------------------


def awarded() -> Room:
    """A 集体议事法 award with two appointed and three drawn members, to the notice."""
    room = Room(closed_session())
    body = _drawing(["m1", "m2"], 3, chair="m1")
    body["method"] = {"kind": "deliberation"}
    body["objection_days"] = 1
    # The names the service looks up for the set-up (services/award.py gather_names).
    room.send("award.setup", TENDERER, body, {**_panel_duties(), "names": NAMES})
    room.send("award.sign_in", SUPERVISOR)
    room.send("award.draw_members", TENDERER, {"seed": DRAW_SEED.hex()})
    members = room.award["members"]
    for m in members:
        room.send("award.sign_in", member(m))
    for i, m in enumerate(members):
        bid = "B1" if i < 3 else "B3"
        room.send("award.opinion", member(m), {"candidate": bid, "opinion": f"意见{i}"})
    room.send("award.decide", member("m1"), {"candidate": "B1", "reasons": "多数意见，综合最优"})
    digest = room.award["award_digest"]
    for i, m in enumerate(members):
        extra = {"dissent": "倾向 B3"} if i == 4 else {}
        room.send("award.sign_report", member(m), {"award_digest": digest, **extra})
    asked = room.send("award.object", BIDDER_B2, {"text": "请说明定标理由"})
    room.send("award.answer", TENDERER, {"id": asked.reply["id"], "answer": "见定标报告"})
    room.tick(86400 + 1)
    room.send("award.clock", SYSTEM)
    room.send("award.notify", TENDERER)
    assert room.phase == "awarded"
    return room


NAMES = {"m1": "马志远", "m2": "孙丽华", "sup-1": "监督乙", **{p: f"委员{p}" for p in PANEL}}


def test_the_award_report_is_its_own_document_with_every_step() -> None:
    room = awarded()
    doc = award_document(STREAM, room.state, tender(), NAMES)
    assert doc.title == "定标报告"
    assert [s.title for s in doc.sections] == [
        "一、定标概况",
        "二、中标候选人",
        "三、定标委员会",
        "四、定标过程",
        "五、定标结果",
        "六、定标委员签署",
        "七、中标候选人公示与异议",
        "八、中标通知",
    ]
    page = html_of(doc, STREAM)
    a = room.award
    for figure in (
        "集体议事法",
        a["award_digest"],
        room.state["report_digest"],  # the evaluation report the candidates came from
        "马志远（m1）",
        "从招标人成员库抽取",
        a["draw"]["commitment"],
        a["draw"]["seed"],
        "意见4",
        "多数意见，综合最优",
        "组长决定",
        "倾向 B3",
        "请说明定标理由",
        "见定标报告",
        "监督乙（sup-1）",
        "（北京时间）",
        "中标通知于",
    ):
        assert figure in page, figure
    for drawn in a["draw"]["drawn"]:
        assert f"委员{drawn}（{drawn}）" in page


@needs_font
def test_the_award_report_in_english_pdf_has_every_section_and_no_chinese_label() -> None:
    room = awarded()
    doc = award_document(STREAM, room.state, tender(), NAMES, lang="en")
    chinese = [label for label in labels(doc) if CJK.search(label)]
    assert not chinese, chinese
    text = pdf_text(pdf_of(doc, STREAM))
    for figure in (
        *(s.title for s in doc.sections),
        "collective deliberation",
        "drawn from the tenderer's panel",
        "The chair 马志远 (m1) decided: B1 C1",
        "(Beijing time)",
        "Dissent",
        "The notice of award was issued at",
    ):
        assert figure.replace("\n", "") in text, figure


def test_a_vote_and_lot_award_report_shows_the_rounds_and_the_lot() -> None:
    from evalroom.domain.method_rules import commit_seed
    from tests.test_award_domain import MEMBERS, SEED, duties

    room = Room(closed_session())
    body = {"method": {"kind": "vote_lot", "finalists": 2}, "members": MEMBERS, "chair": "m1"}
    room.send("award.setup", TENDERER, body, duties())
    room.send("award.commit_seed", SUPERVISOR, {"commitment": commit_seed(SEED)})
    for m in MEMBERS:
        room.send("award.sign_in", member(m))
    room.send("award.sign_in", SUPERVISOR)
    room.vote({"m1": "B1", "m2": "B1", "m3": "B3", "m4": "B3", "m5": "B2"})
    room.send("award.reveal_seed", SUPERVISOR, {"seed": SEED.hex()})
    doc = award_document(STREAM, room.state, tender(), NAMES, lang="en")
    page = html_of(doc, STREAM)
    pick = room.award["report"]["winner"]["bid_id"]
    for figure in ("Round 1", "B1 C1</td><td>2", "B2 C2</td><td>1", SEED.hex(), "appointed"):
        assert figure in page, figure
    assert f"it picked {pick}" in page
    assert "Not published yet." in page and "No notice of award yet." in page


def test_every_label_has_both_languages() -> None:
    # English keeps a Chinese term only as a gloss in brackets: "vote (票决法)".
    for key, (zh, en) in WORDS.items():
        assert zh and en, key
        assert not CJK.search(re.sub(r"\([^)]*\)", "", en)), key
    assert Words("en")("none") == "None" and Words("zh-CN")("none") == "无"


# --- the 评标报告 in English (the lang switch, evalroom/report_en.py) ---------------------------


def test_the_evaluation_report_in_english_has_every_label_in_english_and_names_as_entered() -> None:
    from evalroom.report import document
    from evalroom.report_en import SECTIONS, english
    from tests.test_report import ANSWER, QUESTION, sources

    state, signatures, tender_ = sources()
    zh = document("session:S1", state, signatures, tender_)
    doc = english(zh, state)
    assert [s.title for s in doc.sections] == [SECTIONS[s.title] for s in zh.sections]
    assert doc.title == "Evaluation report" and doc.lang == "en"
    # The criteria, the experts and the section are named as entered; nothing else is Chinese.
    entered = {c["name"] for c in state["method"]["criteria"]}
    entered |= {m["name"] for m in state["committee"].values()} | {"第一标段"}
    entered |= set(tender_.names.values())

    def without_names(text: str) -> str:
        """The text without the names as entered and the Chinese terms glossed: "(评定分离)"."""
        for name in sorted(entered, key=len, reverse=True):
            text = text.replace(name, "")
        return re.sub(r"\([^()]*\)", "", text)

    chinese = [label for label in labels(doc) if CJK.search(without_names(label))]
    assert not chinese, chinese
    page = render_html_en(state, signatures, tender_)
    for figure in (
        "Base price",
        "base price 1010000.00 yuan",
        "-0.99%",
        "59.51",
        "(Beijing time)",
        state["rejected"][0]["detail_en"],  # the recorded English of the opening's rejection
        "pass 2 / fail 3",
        "Score sheet of",
        "(dropped)",
        "The tenderer decides the award separately",
        "Each expert signed the report&#x27;s digest",
        ANSWER,  # what participants wrote, as written
        "B2 的技术分偏低",
        "西宁市滨河路改造工程",
    ):
        assert figure in page, figure
    assert "&lt;b&gt;工期&lt;/b&gt;" in page and QUESTION not in page  # still escaped
    # Every paragraph of the platform's own is translated: what is left in Chinese is only
    # what people entered (the question, the answer, the reasons, the dissent, names).
    paragraphs = [b for s in doc.sections for b in s.blocks if isinstance(b, str)]
    leftover = [p for p in paragraphs if CJK.search(without_names(p))]
    assert leftover == ["专家X5 (X5): B2 的技术分偏低"], leftover  # the dissent, as written


def render_html_en(state: dict[str, Any], signatures: Any, tender_: Any) -> str:
    from evalroom.report import render_html

    return render_html("session:S1", state, signatures, tender_, "en")


@needs_font
def test_the_evaluation_report_in_english_pdf_reads_every_section() -> None:
    from evalroom.report import render_pdf
    from evalroom.report_en import SECTIONS
    from tests.test_report import sources

    state, signatures, tender_ = sources()
    text = pdf_text(render_pdf("session:S1", state, signatures, tender_, "en"))
    for title in SECTIONS.values():
        assert title in text, title
    assert "Beijing time" in text and "北京时间" not in text


# --- over HTTP: GET /api/sessions/{s}/report.{html,pdf} of a session closed by 否决所有投标 ----


async def test_the_reject_all_report_is_served_over_http_in_both_languages(
    node: Any, pool: Any
) -> None:
    import json
    import uuid

    from evalroom.db.events import create_stream
    from tests.support import add_participant

    state = json.loads(json.dumps(rejected_all()))
    sid = f"RA{uuid.uuid4().hex[:6]}"
    async with pool.acquire() as conn, conn.transaction():
        await create_stream(conn, f"session:{sid}", "session", None, state)
    sup = await add_participant(pool, "sup", roles=[("supervisor", f"session:{sid}")])
    outsider = await add_participant(pool, "nobody")
    client = await sup.client(node.url)
    other = await outsider.client(node.url)
    try:
        async with httpx_client(node.url, client.token) as http:
            zh = await http.get(f"/api/sessions/{sid}/report.html")
            assert zh.status_code == 200, zh.text
            assert "否决所有投标" in zh.text and "无推荐中标候选人" in zh.text
            en = await http.get(f"/api/sessions/{sid}/report.pdf?lang=en")
            assert en.status_code == 200 and en.headers["content-type"] == "application/pdf"
            if WQY_MICROHEI.is_file():
                assert "no candidate is recommended" in pdf_text(en.content)
            bad = await http.get(f"/api/sessions/{sid}/report.html?lang=" + "x" * 65)
            assert bad.status_code == 422 and bad.json()["code"] == "invalid"
            award = await http.get(f"/api/sessions/{sid}/award.html")
            assert award.status_code == 422 and award.json()["code"] == "not_ready"
        async with httpx_client(node.url, other.token) as http:
            denied = await http.get(f"/api/sessions/{sid}/report.html")
            assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    finally:
        await client.close()
        await other.close()


def httpx_client(url: str, token: str | None) -> Any:
    import httpx

    return httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"})
