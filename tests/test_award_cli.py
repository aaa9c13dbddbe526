"""The award's command-line client (evalroom-award) as real processes against a real node: the
tenderer sets up a 集体议事法 award whose 定标委员会 is two appointed members and three drawn
from its own panel with a seed committed in the set-up; the supervisor signs in before the
draw; the members sign in by signature, give their opinions, the chair decides with reasons,
every member signs the 定标报告 after checking its digest, a bidder objects within the 公示, the
tenderer answers and, once the window passed, issues the notice. Refusals print the server's
sentence with its code; the exported bundle verifies offline, the members' draw recomputed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from clients.keyfile import ParticipantKey, save_key_file
from clients.verify import verify_bundle
from clients.verify_award import check_award
from evalroom.audit.bundle import export_bundle, uncovered
from evalroom.domain.award_rules import draw_members
from tests.support import InProcessNode, Participant, add_participant, slack
from tests.test_award import _state, closed_by_lowest_price
from tests.test_opening import _events_until
from tests.test_session import _opened_tender
from tests.test_session_cli import Tools

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


async def test_an_award_by_deliberation_with_drawn_members_through_the_cli(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "AWC1")
    sid = "AWC1-S1"
    stream = f"session:{sid}"
    number = await closed_by_lowest_price(o, pool, node, stream, "AWC1")
    tools = Tools(node.url, tmp_path)

    def key(p: Participant, name: str) -> list[str]:
        path = tmp_path / f"{name}.key"
        if not path.exists():
            save_key_file(path, ParticipantKey(p.user_id, p.key))
        return ["--server", node.url, "--key", str(path)]

    owner = await add_participant(pool, "owner", org="甘肃交通厅", roles=[("tenderer", o.stream)])
    appointed = [await add_participant(pool, f"lead{i}", org="甘肃交通厅") for i in range(2)]
    panel = [await add_participant(pool, f"panel{i}", org="甘肃交通厅") for i in range(6)]
    people = {p.user_id: p for p in [*appointed, *panel]}
    sup = o.people["sup"]
    watch = await owner.client(node.url)
    feed = await watch.subscribe(stream)

    async def award(p: Participant, name: str, *args: str, lang: str = "zh-CN"):  # type: ignore[no-untyped-def]
        return await tools.run("award", args[0], sid, *args[1:], *key(p, name), "--lang", lang)

    # The tenderer: two appointed (the first chairs), three drawn from a panel of six.
    seed_file = tmp_path / "panel-seed.hex"
    setup = [
        "setup", "--method", "deliberation", "--objection-seconds", str(round(slack(4))),
        "--member", appointed[0].user_id, "--member", appointed[1].user_id,
        "--chair", appointed[0].user_id,
        *[a for p in panel for a in ("--panel", p.user_id)],
        "--draw", "3", "--seed-out", str(seed_file),
    ]  # fmt: skip
    bad = await award(owner, "owner", *setup[:-4], "--draw", "3")
    assert bad.rc == 2 and "--seed-out" in bad.err  # a local problem: nothing sent
    done = await award(owner, "owner", *setup)
    assert done.rc == 0, done
    assert "集体议事法" in done.out and seed_file.exists()
    assert (seed_file.stat().st_mode & 0o777) == 0o600

    # No draw before a supervisor signs in: the server's sentence and its code, exit 1.
    early = await award(owner, "owner", "draw", "--seed-file", str(seed_file))
    assert early.rc == 1 and "[supervisor_absent]" in early.err and "监督" in early.err
    assert (await award(sup, "sup", "sign-in")).rc == 0
    drawn_out = await award(owner, "owner", "draw", "--seed-file", str(seed_file), lang="en")
    assert drawn_out.rc == 0, drawn_out
    state = (await _state(pool, stream))["award"]
    seed = bytes.fromhex(seed_file.read_text().strip())
    ids = sorted(p.user_id for p in panel)
    drawn = draw_members(ids, 3, seed, state["draw"]["commitment"])
    assert state["draw"]["drawn"] == drawn
    assert state["members"] == [appointed[0].user_id, appointed[1].user_id, *drawn]
    # Shown by name (as registered), with the id.
    shown_drawn = "、".join(f"{m.rsplit('-', 1)[0]}（{m}）" for m in drawn)
    assert f"Members drawn: {shown_drawn}" in drawn_out.out
    members = state["members"]
    names = {m: f"m-{i}" for i, m in enumerate(members)}

    # A panel member not drawn is no member: refused with the stable code.
    left_out = next(p for p in panel if p.user_id not in drawn)
    refused = await award(left_out, "left", "sign-in")
    assert refused.rc == 1 and "[forbidden]" in refused.err
    for m in members:
        assert (await award(people[m], names[m], "sign-in")).rc == 0

    # Opinions (a candidate by its company's name or its number), then the chair decides.
    b, d = number["b"], number["d"]
    status = await award(owner, "owner", "status", lang="en")
    assert status.rc == 0 and "deliberation" in status.out and "signed in 5/5" in status.out
    no_vote = await award(people[members[1]], names[members[1]], "vote", b)
    assert no_vote.rc == 1 and "没有进行中的投票轮次" in no_vote.err
    early_decide = await award(people[members[0]], names[members[0]], "decide", b, "--reasons", "x")
    assert early_decide.rc == 1 and "[opinions_missing]" in early_decide.err
    for i, m in enumerate(members):
        choice = "company-b" if i < 3 else d
        done = await award(people[m], names[m], "opinion", choice, "--text", f"意见{i}：报价合理")
        assert done.rc == 0, done
    unknown = await award(
        people[members[0]], names[members[0]], "decide", "nobody", "--reasons", "x"
    )
    assert unknown.rc == 1 and "nobody" in unknown.err and "company-b" in unknown.err
    not_chair = await award(people[members[1]], names[members[1]], "decide", b, "--reasons", "x")
    assert not_chair.rc == 1 and "[not_the_award_chair]" in not_chair.err
    decided = await award(
        people[members[0]], names[members[0]], "decide", b, "--reasons", "多数委员意见，报价最低"
    )
    assert decided.rc == 0 and "company-b" in decided.out

    # The 定标报告: every member signs its digest, computed by the client; then the 公示.
    for i, m in enumerate(members):
        extra = ["--dissent", "倾向另一候选人"] if i == 4 else []
        signed = await award(people[m], names[m], "sign-report", *extra)
        assert signed.rc == 0 and f"{b} company-b" in signed.out, signed
    await _events_until(feed, "award.publicity")
    objection = await award(o.people["d"], "bidder-d", "object", "--text", "请说明定标理由")
    assert objection.rc == 0 and "O1" in objection.out
    early_notice = await award(owner, "owner", "notify")
    assert early_notice.rc == 1 and "[publicity_running]" in early_notice.err
    assert (await award(owner, "owner", "answer", "O1", "--text", "已在定标报告中说明")).rc == 0
    shown = await award(o.people["d"], "bidder-d", "status")
    assert shown.rc == 0 and "公示截止" in shown.out and "北京时间" in shown.out
    assert members[0] not in shown.out  # a bidder sees no committee member

    await _events_until(feed, "award.publicity_closed", timeout=slack(30))
    notice = await award(owner, "owner", "notify", lang="en")
    assert notice.rc == 0 and f"{b} company-b" in notice.out and "Beijing time" in notice.out
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Beijing time", notice.out)

    # The 定标报告 as its own document, in English on --lang en; a bidder may not read it.
    pdf_path = tmp_path / "award.pdf"
    got = await award(owner, "owner", "report", "--out", str(pdf_path), lang="en")
    assert got.rc == 0, got
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages
    )
    for heading in ("1. The award", "3. The award committee", "7. Publicity", "8. Notice of award"):
        assert heading in text, heading
    assert "drawn from the tenderer's panel" in text and "多数委员意见，报价最低" in text
    denied = await award(o.people["d"], "bidder-d", "report", "--out", str(tmp_path / "x.pdf"))
    assert denied.rc == 1 and "[forbidden]" in denied.err
    # The evaluation report itself in English (?lang=en), for the tenderer once closed.
    async with httpx.AsyncClient(
        base_url=node.url, headers={"authorization": f"Bearer {watch.token}"}
    ) as http:
        english = await http.get(f"/api/sessions/{sid}/report.html?lang=en")
    assert english.status_code == 200 and "12. Recommended candidates" in english.text
    assert '<html lang="en">' in english.text

    # The bundle: the award recomputed, the members' draw with it.
    audit = node.node.extras["audit"]
    for _ in range(10):
        for name in (o.stream, stream):
            await audit.checkpoint_now(name, "export")
        bundle = json.loads(json.dumps(await export_bundle(pool, stream)))
        if not uncovered(bundle):
            break
    result = verify_bundle(bundle)
    assert result.ok, [str(p) for p in result.problems]
    assert any(
        line.startswith(f"award {stream}: deliberation → {b}")
        and line.endswith("3 members drawn from a panel of 6, recomputed")
        for line in result.summary
    ), result.summary
    # The award's own check names a draw that does not follow from the seed and the panel.
    events = next(s for s in bundle["streams"] if s["name"] == stream)["events"]
    signed_ok = {e["seq"] for e in events if e.get("sig")}
    recommended = (await _state(pool, stream))["report"]["recommended"]
    assert not check_award(stream, events, signed_ok, recommended).problems
    drawn_event = next(e for e in events if e["type"] == "award.members_drawn")
    drawn_event["payload"]["drawn"] = [left_out.user_id, *drawn[1:]]
    problems = [r for _, r in check_award(stream, events, signed_ok, recommended).problems]
    assert any(r.startswith("the draw names") for r in problems), problems
    drawn_event["payload"]["drawn"] = drawn
    sup_in = next(e for e in events if e["type"] == "award.signed_in" and e["actor"] == sup.user_id)
    problems = [
        r for _, r in check_award(stream, events, signed_ok - {sup_in["seq"]}, recommended).problems
    ]
    assert "the members were drawn with no supervisor signed in" in problems
    for c in [*o.clients.values(), watch]:
        await c.close()
