"""The evaluation report (评标报告) in English: the ``lang`` switch of :mod:`evalroom.report`.

:func:`english` takes the Chinese document model :func:`evalroom.report.document` builds and
gives the same document with every heading, label and sentence of the platform's own in
English. What people entered (names, companies, criteria, questions, answers, reasons,
dissent) is printed as entered. The sentences the session itself recorded in both languages
(a bid rejected by the control price, one flagged below its floor, the decision on fewer than
three valid bids) are printed in their recorded English.

It works on the finished model, so the Chinese report's functions stay as they are: each
label is a whole-string entry (:data:`EXACT`), each sentence with figures in it a whole-string
pattern (:data:`PATTERNS`); a string matching neither is the participants' own and is left
alone. ``tests/test_report_award.py`` renders the English report and checks that no heading or
label is left in Chinese, so a Chinese sentence added without its English here is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from evalroom.report import Block, Document, Heading, Section, Table

SECTIONS = {
    "一、项目概况": "1. Project basics",
    "二、开标记录摘要": "2. The opening record",
    "三、评标委员会": "3. The evaluation committee",
    "四、否决投标": "4. Rejected bids",
    "五、评标办法与价格分计算": "5. The method and the price calculation",
    "六、专家评分表": "6. Each expert's score sheet",
    "七、评分对比表": "7. Score comparison",
    "八、评审结果与排名": "8. Results and ranking",
    "九、澄清": "9. Clarifications",
    "十、评分偏离及书面说明": "10. Score deviations and their written reasons",
    "十一、不同意见": "11. Dissent",
    "十二、推荐中标候选人": "12. Recommended candidates",
    "十三、专家签名": "13. The experts' signatures",
}

STAGES = {"开标": "opening", "技术标开标": "technical opening", "商务标开标": "commercial opening"}
CLARIFICATION = {
    "待监督审批": "awaiting the supervisor's approval",
    "监督已批准，待答复": "approved by the supervisor, awaiting the answer",
    "监督已批准，已答复": "approved by the supervisor, answered",
    "监督已批准，逾期未答复": "approved by the supervisor, not answered in time",
    "监督未批准": "not approved by the supervisor",
}

EXACT: dict[str, str] = {
    **SECTIONS,
    "评标报告": "Evaluation report",
    "无": "None",
    "—": "—",
    # table heads and row labels
    "项目": "Item",
    "内容": "Details",
    "招标项目": "Tender",
    "标段": "Section",
    "招标人": "Tenderer",
    "招标代理": "Agency",
    "开标时间": "Opening time",
    "最高投标限价": "Control price",
    "评标方法": "Evaluation method",
    "评标会话": "Evaluation session",
    "评标地点": "Venues",
    "报告签署完成": "Report signed by all",
    "报告摘要（SHA-256）": "Report digest (SHA-256)",
    "投标编号": "Bid",
    "投标人": "Bidder",
    "状态": "Status",
    "投标报价（元）": "Bid price (yuan)",
    "备注": "Note",
    "姓名": "Name",
    "专家编号": "Expert id",
    "专业": "Specialty",
    "职务": "Role",
    "座位": "Seat",
    "签到时间": "Checked in",
    "回避专家": "Withdrawn expert",
    "原因": "Reason",
    "补抽专家": "Replacement",
    "时间": "Time",
    "否决理由": "Reason for rejection",
    "依据": "Basis",
    "评审项": "Criterion",
    "表决": "Vote",
    "说明": "Explanation",
    "类型": "Kind",
    "分值": "Points",
    "评标价（元）": "Evaluated price (yuan)",
    "偏差率": "Deviation",
    "价格分": "Price score",
    "算术错误扣分": "Arithmetic-error penalty",
    "合计": "Total",
    "评审得分": "Score",
    "专家评分": "Expert score",
    "排名": "Rank",
    "扣分": "Deductions",
    "总分/评标价": "Total / evaluated price",
    "初步评审": "Preliminary review",
    "编号": "No.",
    "问题": "Question",
    "提问专家": "Asked by",
    "监督审批": "Supervisor's approval",
    "答复": "Answer",
    "答复时间": "Answered",
    "专家": "Expert",
    "评分": "Score",
    "其他专家平均": "Others' mean",
    "偏离": "Deviation",
    "书面说明": "Written reason",
    "原评分": "From",
    "修改后": "To",
    "理由": "Reason",
    "回退至": "Back to",
    "批准人（监督）": "Approved by (supervisor)",
    "批准时间": "Approved at",
    "名次": "Rank",
    "中标候选人": "Candidate",
    "签署时间": "Signed at",
    "签名（节选）": "Signature (excerpt)",
    "公钥（节选）": "Public key (excerpt)",
    # sub-headings
    "回避与补抽": "Withdrawals and replacements",
    "开标时否决（最高投标限价）": "Rejected at the opening (control price)",
    "初步评审未通过": "Failed the preliminary review",
    "低于成本评审（报价低于限价下限）": "Below-cost review (price under the floor)",
    "有效投标不足三个": "Fewer than three valid bids",
    "评标基准价": "Base price",
    "评标价": "Evaluated price",
    "价格分计算": "Price score",
    "专家合计": "Expert totals",
    "评分修改记录": "Score revisions",
    "评审回退": "Going back",
    # cells
    "已解密": "decrypted",
    "解密失败": "decryption failed",
    "撤销": "withdrawn",
    "组长": "chair",
    "成员": "member",
    "合格": "pass",
    "不合格": "fail",
    "否决": "rejected",
    "通过": "passed",
    "未通过": "failed",
    "合格制": "pass/fail",
    "扣分项": "deduction",
    "综合评估法": "comprehensive scoring (综合评估法)",
    "经评审的最低投标价法": "lowest evaluated price (经评审的最低投标价法)",
    "未设": "not set",
    "详细评审": "detailed review",
    "评分偏离": "deviation check",
    **CLARIFICATION,
    # sentences without figures
    "以上数值按评标办法由报告数据复算，与各专家签署的排名一致。": (
        "The figures above are recomputed from the report's data under the method and equal"
        " the ranking every expert signed."
    ),
    "警告：按评标办法复算的结果与签署的排名不一致，请核查。": (
        "Warning: recomputing under the method does not give the signed ranking; check it."
    ),
    "注：标“（去）”者为汇总时去掉的最高分或最低分。": (
        "Note: “(dropped)” marks the highest or lowest score left out of the mean."
    ),
    "定标由招标人依法另行确定（评定分离）。": (
        "The tenderer decides the award separately, as the law provides (评定分离)."
    ),
}

BJ = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)（北京时间）"
ID = r"[A-Za-z0-9_.:-]+"  # a user, expert or stream id (never a name)


def _time(text: str) -> str:
    return re.sub(BJ, r"\1 (Beijing time)", text)


def _venues(m: re.Match[str]) -> str:
    parts = []
    for one in m.group(0).split("；"):
        found = re.fullmatch(r"(.*)（(主场|副场)，(.*)）", one)
        if found is None:
            parts.append(one)
            continue
        kind = "main venue" if found.group(2) == "主场" else "branch venue"
        parts.append(f"{found.group(1)} ({kind}, {found.group(3)})")
    return "; ".join(parts)


def _stage(text: str) -> str:
    return STAGES.get(text, text)


def _bands(text: str) -> str:
    text = re.sub(r"（至 (\S+?)%）", r" (up to \1%)", text)
    return text.replace("、", ", ")


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rule(pattern: str, make: Callable[[re.Match[str]], str]) -> Rule:
    return re.compile(pattern), make


PATTERNS: list[Rule] = [
    _rule(
        r"签署于 (.+?)；招标代理 (.+?)、监督 (.+?) 签署；本标段投标 (\d+) 个，解密 (\d+) 个，"
        r"解密失败或撤销 (\d+) 个，开标时否决 (\d+) 个；投标人确认 (\d+) 个，质询 (\d+) 项。"
        r"记录摘要（SHA-256）：(.*)",
        lambda m: (
            f"Signed at {_time(m[1])} by the agency {_person(m[2])} and the supervisor"
            f" {_person(m[3])}; {m[4]} bids in this section, {m[5]} decrypted, {m[6]} failed or"
            f" withdrawn, {m[7]} rejected at the opening; {m[8]} confirmed by bidders, {m[9]}"
            f" objections. Record digest (SHA-256): {m[10]}"
        ),
    ),
    _rule(
        r"质询（(.*?)）：(.*?)；答复：(.*)", lambda m: f"Objection ({m[1]}): {m[2]}; answer: {m[3]}"
    ),
    _rule(
        r"开标记录（(.*?)）：第 (\d+) 号事件，摘要（SHA-256）(.*)",
        lambda m: f"Opening record ({_stage(m[1])}): event {m[2]}, digest (SHA-256) {m[3]}",
    ),
    _rule(r"(开标|技术标开标|商务标开标)记录", lambda m: f"Record of the {_stage(m[1])}"),
    _rule(
        r"专家抽取：种子承诺 (.*?)；专家库快照摘要 (.*)",
        lambda m: f"Expert draw: seed commitment {m[1]}; pool snapshot digest {m[2]}",
    ),
    _rule(r"(.*?)记录第 (\d+) 号事件", lambda m: f"{_stage(m[1])} record, event {m[2]}"),
    _rule(r"合格 (\d+) / 不合格 (\d+)", lambda m: f"pass {m[1]} / fail {m[2]}"),
    _rule(
        r"评标方法：(.*?)；推荐中标候选人 (\d+) 名。",
        lambda m: f"Method: {EXACT.get(m[1], m[1])}; {m[2]} candidates recommended.",
    ),
    _rule(
        r"专家评分汇总：(按评审项取专家评分平均值|取各专家合计的平均值)"
        r"(?:，专家人数不少于 (\d+) 人时去掉一个最高分和一个最低分)?。",
        lambda m: (
            "Expert scores: "
            + (
                "the mean of the experts' scores per criterion"
                if m[1].startswith("按")
                else "the mean of the experts' totals"
            )
            + (f", the highest and the lowest dropped from {m[2]} experts up" if m[2] else "")
            + "."
        ),
    ),
    _rule(
        r"参与计算的有效报价（元）：(.*?)；(?:去掉最低报价 (.*?)，去掉最高报价 (.*?)；)?"
        r"算术平均值 (\S+)；下浮系数 (\S+?)(?:，浮动点 (\S+?)%)?；评标基准价 (\S+) 元。",
        lambda m: (
            f"Valid prices taken (yuan): {m[1].replace('，', ', ')}; "
            + (
                f"the lowest dropped: {_bands(m[2])}, the highest dropped: {_bands(m[3])}; "
                if m[2] is not None
                else ""
            )
            + f"mean {m[4]}; downward coefficient {m[5]}"
            + (f", floating point {m[6]}%" if m[6] else "")
            + f"; base price {m[7]} yuan."
        ),
    ),
    _rule(
        r"复核更正：计算值 (\S+) 元更正为 (\S+) 元。",
        lambda m: f"Corrected after review: the computed {m[1]} yuan corrected to {m[2]} yuan.",
    ),
    _rule(
        r"偏差率 =（投标报价 − 评标基准价）/ 评标基准价；高于基准价每 1% 扣 (.*) 分，"
        r"低于基准价每 1% 扣 (.*) 分，最低 0 分，四舍五入保留两位小数。",
        lambda m: (
            "Deviation = (bid price − base price) / base price; per 1% above the base"
            f" {_bands(m[1])} points off, per 1% below {_bands(m[2])} points off; never below 0,"
            " rounded half up to 2 decimals."
        ),
    ),
    _rule(
        r"偏离阈值：与其他专家评分平均值相差超过 (\S+)%。",
        lambda m: f"Deviation threshold: more than {m[1]}% from the other experts' mean.",
    ),
    _rule(
        r"各专家以其签名密钥（Ed25519）签署报告摘要（SHA-256）：(.*)",
        lambda m: (
            f"Each expert signed the report's digest (SHA-256) with their key (Ed25519): {m[1]}"
        ),
    ),
    _rule(
        r"(\S+) 元；低于 (\S+) 元须作成本说明",
        lambda m: f"{m[1]} yuan; a price below {m[2]} yuan must be shown not below cost",
    ),
    _rule(
        r"(\S+) 元；低于限价的 (\S+) 倍须作成本说明",
        lambda m: f"{m[1]} yuan; a price below {m[2]} × the limit must be shown not below cost",
    ),
    _rule(r"(\S+) 元", lambda m: f"{m[1]} yuan"),
    _rule(r"(.*?（(?:主场|副场)，.*?）)(?:；.*（(?:主场|副场)，.*?）)*", _venues),
    _rule(
        r"(待监督审批|监督已批准，待答复|监督已批准，已答复|监督已批准，逾期未答复|监督未批准)"
        r"(?:：(.*?))?(?:（答复期限 (.+)）)?",
        lambda m: (
            CLARIFICATION[m[1]]
            + (f": {m[2]}" if m[2] else "")
            + (f" (answer due {_time(m[3])})" if m[3] else "")
        ),
    ),
    _rule(rf"(.+)，{BJ}", lambda m: f"{m[1]}, {m[2]} (Beijing time)"),
    _rule(r"(.*)（去）", lambda m: f"{m[1]} (dropped)"),
    _rule(r"(.+)（满分 (\S+)）", lambda m: f"{m[1]} (max {m[2]})"),
    _rule(rf"(.+)（({ID})）的评分表", lambda m: f"Score sheet of {m[1]} ({m[2]})"),
    _rule(r"(.+) · 标段 (.+)", lambda m: f"{m[1]} · Section {m[2]}"),
    _rule(rf"(.*)（组长 (.+?)，{BJ}）", lambda m: f"{m[1]} (chair {m[2]}, {m[3]} (Beijing time))"),
    _rule(rf"(.+?)（({ID})）：(.*)", lambda m: f"{m[1]} ({m[2]}): {m[3]}"),
    _rule(rf"(.+)（({ID})）", lambda m: f"{m[1]} ({m[2]})"),
]


def _person(text: str) -> str:
    found = re.fullmatch(rf"(.+)（({ID})）", text)
    return f"{found[1]} ({found[2]})" if found else text


def _recorded(state: Mapping[str, Any]) -> dict[str, str]:
    """The session's own sentences recorded in both languages: zh -> en."""
    out: dict[str, str] = {}
    for entry in [
        *(state.get("rejected") or []),
        *(state.get("flagged") or []),
        state.get("few_valid_decision") or {},
        *((state.get("report") or {}).get("rejected_bids") or []),
    ]:
        if entry.get("detail") and entry.get("detail_en"):
            out[str(entry["detail"])] = str(entry["detail_en"])
    return out


def translate(text: str, recorded: Mapping[str, str]) -> str:
    """One string of the model in English, or as it is when it is the participants' own."""
    if text in EXACT:
        return EXACT[text]
    for zh, en in recorded.items():  # a recorded sentence, alone or inside a sentence
        text = text.replace(zh, en)
    for pattern, make in PATTERNS:
        found = pattern.fullmatch(text)
        if found is not None:
            return _time(make(found))
    return _time(text)


def english(doc: Document, state: Mapping[str, Any]) -> Document:
    """The document with the platform's own words in English (names as entered)."""
    recorded = _recorded(state)

    def tr(text: str) -> str:
        return translate(text, recorded)

    def block(b: Block) -> Block:
        if isinstance(b, Heading):
            return Heading(tr(b.text))
        if isinstance(b, Table):
            return Table([tr(h) for h in b.head], [[tr(c) for c in row] for row in b.rows])
        return tr(b)

    sections = [Section(tr(s.title), [block(b) for b in s.blocks]) for s in doc.sections]
    return replace(
        doc, title=tr(doc.title), subtitle=tr(doc.subtitle), sections=sections, lang="en"
    )
