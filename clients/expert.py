"""``evalroom-expert``: what an evaluation expert runs at the venue (评标专家客户端).

    evalroom-expert check-in-token EV1-S1 --seat lanzhou-1 --key me.key   # -> the operator
    evalroom-expert vote-chair EV1-S1 lz2-xxxx --key me.key
    evalroom-expert preliminary EV1-S1 --bid S1-B01 --criterion qualification --pass
    evalroom-expert preliminary EV1-S1 --bid S1-B02 --criterion qualification --fail \\
        --reason "投标保证金不足"
    evalroom-expert score EV1-S1 --bid S1-B01 --criterion tech --score 26.5
    evalroom-expert scores EV1-S1 --file scores.json [--submit]     # {bid: {criterion: "26.5"}}
    evalroom-expert sheet EV1-S1                                      # your sheet as recorded
    evalroom-expert submit EV1-S1
    evalroom-expert revise EV1-S1 --bid S1-B01 --criterion tech --score 25 --reason "…"
    evalroom-expert deviation-reason EV1-S1 --bid S1-B02 --criterion tech --reason "…"
    evalroom-expert ask EV1-S1 --company company-c --question "请说明工期" --deadline 600
    evalroom-expert close-phase EV1-S1 preliminary_review             # chair
    evalroom-expert goback EV1-S1 --to detailed_review --reason "…"   # chair
    evalroom-expert report EV1-S1 [--out report.pdf]
    evalroom-expert sign-report EV1-S1 [--digest HEX] [--dissent "…"] [--yes]
    evalroom-expert conflict EV1-S1 --reason "与投标人有利害关系"        # 回避, before the start
    evalroom-expert watch EV1-S1
    evalroom-expert criteria EV1-S1                 # what each item takes (1–2 分, 0/4/8, 扣分项)
    evalroom-expert arithmetic-errors EV1-S1 --bid S1-B01 --errors 2 --reason "…"   # chair
    evalroom-expert correct EV1-S1 --expert E3 --bid S1-B01 --criterion tech \\
        --to 21 --reason "复核发现漏计业绩"                                  # chair, 复核
    evalroom-expert correct EV1-S1 --base-price --to 1000000.00 --reason "…"  # chair, 复核
    evalroom-expert recommend EV1-S1 S1-B01 S1-B03          # 投票法 / 排序法 ballot, signed

``SESSION`` is the session id (``EV1-S1``) or its stream (``session:EV1-S1``). Scores are
decimals written as text (at most 2 places); the score commands, verdicts, deviation reasons
and the report signature are signed with the expert's key. Every command takes ``--server``
(env ``EVALROOM_SERVER``), ``--key`` (env ``EVALROOM_KEY``) and ``--lang`` (env
``EVALROOM_LANG``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from clients.cli_common import (
    EXIT_LOCAL,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    require_key,
    server_options,
    table,
)
from clients.folds.session import session_id, session_stream
from clients.keyfile import ParticipantKey
from clients.render.session import SessionRender
from clients.sdk import ClientError
from clients.session_commands import (
    check_report,
    criteria_rows,
    live_client,
    load_view,
    report_command,
    send,
    sheet_command,
)
from clients.session_live import LiveSession
from crypto.events import check_in_statement

PHASE_ALIASES = {
    "preliminary": "preliminary_review",
    "detailed": "detailed_review",
    "deviation": "deviation_check",
}


@click.group(help="evalroom expert client (评标专家客户端)")
def main() -> None:
    pass


def _phase(value: str) -> str:
    return PHASE_ALIASES.get(value, value)


add_keygen(main)


@main.command(
    "check-in-token",
    help="Sign your check-in statement for the site operator (签到令牌). Offline.",
)
@click.argument("session")
@click.option("--seat", required=True, help="Your seat at the venue")
@server_options
@cli_command
def check_in_token(
    out: Out, session: str, seat: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    """Prints a one-line token on stdout (the signature of the check-in statement binding
    session, expert and seat); the operator passes it to ``evalroom-operator check-in``."""

    key = require_key(key_path, out)
    stream = session_stream(session)
    token = key.signing_key.sign(check_in_statement(stream, key.user, seat))
    click.echo(out.t("token_for", session=session_id(stream), user=key.user, seat=seat), err=True)
    click.echo(token)
    return 0


@main.command("vote-chair", help="Vote for the chair of the committee (推选组长).")
@click.argument("session")
@click.argument("candidate")
@server_options
@cli_command
def vote_chair(
    out: Out, session: str, candidate: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    send(out, server, key_path, session, "session.vote_chair", {"candidate": candidate})
    out.say("voted", candidate=candidate)
    return 0


@main.command(help="Your pass/fail verdict on one bid and criterion, signed (初步评审).")
@click.argument("session")
@click.option("--bid", required=True)
@click.option("--criterion", required=True)
@click.option("--pass/--fail", "passes", default=None, help="The verdict (a fail needs --reason)")
@click.option("--reason", help="Why it fails (否决理由)")
@server_options
@cli_command
def preliminary(
    out: Out,
    session: str,
    bid: str,
    criterion: str,
    passes: bool | None,
    reason: str | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    if passes is None:
        raise CliError("pass_or_fail")
    body: dict[str, Any] = {"bid": bid, "criterion": criterion, "pass": passes}
    if reason:
        body["reason"] = reason
    send(out, server, key_path, session, "session.preliminary", body, sign=True)
    result = out.t("word.pass" if passes else "word.fail")
    out.say("verdict_saved", bid=bid, criterion=criterion, result=result)
    return 0


@main.command(help="Score one bid on one criterion, signed (详细评审打分).")
@click.argument("session")
@click.option("--bid", required=True)
@click.option("--criterion", required=True)
@click.option("--score", "points", required=True, help="A decimal, e.g. 26.5 (at most 2 places)")
@click.option("--reason", help="An optional note (评分理由)")
@server_options
@cli_command
def score(
    out: Out,
    session: str,
    bid: str,
    criterion: str,
    points: str,
    reason: str | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body: dict[str, Any] = {"bid": bid, "criterion": criterion, "score": points.strip()}
    if reason:
        body["reason"] = reason
    send(out, server, key_path, session, "session.score", body, sign=True)
    out.say("score_saved", bid=bid, criterion=criterion, score=points.strip())
    return 0


def read_sheet(path: Path) -> list[tuple[str, str, str]]:
    """(bid, criterion, score) of a score file ``{bid: {criterion: "26.5"}}``. Numbers keep
    their literal text (26.50 stays "26.50"), so nothing goes through a float."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=str, parse_int=str)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError("bad_json", path=path, detail=str(exc)) from None
    if not isinstance(data, dict) or not data:
        raise CliError("sheet_shape", path=path, detail="not a non-empty object")
    cells = []
    for bid, row in data.items():
        if not isinstance(row, dict) or not row:
            raise CliError("sheet_shape", path=path, detail=f"{bid}: not a non-empty object")
        for criterion, value in row.items():
            if not isinstance(value, str):
                raise CliError("sheet_shape", path=path, detail=f"{bid}/{criterion}: {value!r}")
            cells.append((bid, criterion, value.strip()))
    return cells


@main.command(help="Score a whole sheet from a JSON file, signed (批量打分).")
@click.argument("session")
@click.option(
    "--file",
    "sheet_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='{"S1-B01": {"tech": "26.5"}, …}',
)
@click.option("--submit", "then_submit", is_flag=True, help="Submit the sheet once all is saved")
@server_options
@cli_command
def scores(
    out: Out,
    session: str,
    sheet_path: Path,
    then_submit: bool,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    """Each score is its own signed command, sent in file order; a refusal stops the run and
    says which cell (the ones before it are saved; running it again is harmless)."""
    stream = session_stream(session)

    async def send_all(key: ParticipantKey, cells: list[tuple[str, str, str]]) -> None:
        async with connected(server, key, out.lang) as client:
            for i, (bid, criterion, points) in enumerate(cells):
                body = {"bid": bid, "criterion": criterion, "score": points}
                try:
                    await client.command(stream, "session.score", body, sign=True)
                except ClientError:
                    n = len(cells)
                    out.say("sheet_stopped", done=i, total=n, bid=bid, criterion=criterion)
                    raise
                out.say(
                    "sheet_progress",
                    done=i + 1,
                    total=len(cells),
                    bid=bid,
                    criterion=criterion,
                    score=points,
                )
            out.say("sheet_saved", total=len(cells))
            if then_submit:
                await client.command(stream, "session.submit_scores", sign=True)
                out.say("expert.submitted")

    key = require_key(key_path, out)
    asyncio.run(send_all(key, read_sheet(sheet_path)))
    return 0


@main.command(help="Show your score sheet as recorded (or another's once revealed) (评分表).")
@click.argument("session")
@click.option("--expert", help="Another expert's sheet (after the reveal)")
@server_options
@cli_command
def sheet(
    out: Out, session: str, expert: str | None, server: str, key_path: Path | None, lang: str
) -> int | None:
    return sheet_command(out, server, key_path, session, expert)


@main.command(help="Submit your score sheet, signed (提交评分表).")
@click.argument("session")
@server_options
@cli_command
def submit(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    send(out, server, key_path, session, "session.submit_scores", sign=True)
    out.say("expert.submitted")
    return 0


@main.command(help="Change a submitted score, with a reason, signed (修改评分).")
@click.argument("session")
@click.option("--bid", required=True)
@click.option("--criterion", required=True)
@click.option("--score", "points", required=True)
@click.option("--reason", required=True)
@server_options
@cli_command
def revise(
    out: Out,
    session: str,
    bid: str,
    criterion: str,
    points: str,
    reason: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"bid": bid, "criterion": criterion, "score": points.strip(), "reason": reason}
    send(out, server, key_path, session, "session.revise_score", body, sign=True)
    out.say("revised", bid=bid, criterion=criterion, score=points.strip())
    return 0


@main.command("deviation-reason", help="Explain a deviating score in writing, signed (偏离说明).")
@click.argument("session")
@click.option("--bid", required=True)
@click.option("--criterion", required=True)
@click.option("--reason", required=True)
@server_options
@cli_command
def deviation_reason(
    out: Out,
    session: str,
    bid: str,
    criterion: str,
    reason: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"bid": bid, "criterion": criterion, "reason": reason}
    send(out, server, key_path, session, "session.deviation_reason", body, sign=True)
    out.say("deviation_explained", bid=bid, criterion=criterion)
    return 0


@main.command(help="Ask a bidder a question, sent once the supervisor approves (澄清).")
@click.argument("session")
@click.option("--company", required=True, help="The bidder company")
@click.option("--question", required=True)
@click.option(
    "--deadline", type=int, default=600, show_default=True, help="Seconds to answer, once sent"
)
@server_options
@cli_command
def ask(
    out: Out,
    session: str,
    company: str,
    question: str,
    deadline: int,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"company": company, "question": question, "deadline_seconds": deadline}
    ack = send(out, server, key_path, session, "session.clarify_ask", body)
    out.say("asked", id=ack.get("reply", {}).get("id", "?"), company=company)
    return 0


@main.command("close-phase", help="Chair: close the preliminary review or the deviation check.")
@click.argument("session")
@click.argument(
    "phase",
    type=click.Choice(["preliminary_review", "deviation_check", "preliminary", "deviation"]),
)
@server_options
@cli_command
def close_phase(
    out: Out, session: str, phase: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    send(out, server, key_path, session, "session.close_phase", {"phase": _phase(phase)})
    out.say("phase_closed", phase=out.t(f"phase.{_phase(phase)}"))
    return 0


@main.command(help="Chair: ask the supervisor to reopen an earlier phase (评审回退).")
@click.argument("session")
@click.option(
    "--to",
    "to_phase",
    required=True,
    type=click.Choice(
        [
            "preliminary_review",
            "detailed_review",
            "deviation_check",
            "preliminary",
            "detailed",
            "deviation",
        ]
    ),
)
@click.option("--reason", required=True)
@server_options
@cli_command
def goback(
    out: Out,
    session: str,
    to_phase: str,
    reason: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"to_phase": _phase(to_phase), "reason": reason}
    send(out, server, key_path, session, "session.goback_request", body)
    out.say("goback_asked", phase=out.t(f"phase.{_phase(to_phase)}"))
    return 0


@main.command(help="Declare a conflict of interest and withdraw before the start (回避).")
@click.argument("session")
@click.option("--reason", required=True)
@server_options
@cli_command
def conflict(
    out: Out, session: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    send(out, server, key_path, session, "session.declare_conflict", {"reason": reason})
    out.say("conflict_declared")
    return 0


@main.command(help="Download the evaluation report and show its digest and ranking (评标报告).")
@click.argument("session")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save it: *.pdf (default SESSION-report.pdf) or *.html",
)
@server_options
@cli_command
def report(
    out: Out, session: str, out_path: Path | None, server: str, key_path: Path | None, lang: str
) -> int | None:
    return report_command(out, server, key_path, session, out_path)


@main.command("sign-report", help="Review the ranking and sign the report, signed (签署报告).")
@click.argument("session")
@click.option("--digest", "pinned", help="Sign only if the report still has this digest")
@click.option("--dissent", help="Your dissenting opinion, recorded with your signature")
@click.option("--yes", is_flag=True, help="Do not ask for a confirmation")
@server_options
@cli_command
def sign_report(
    out: Out,
    session: str,
    pinned: str | None,
    dissent: str | None,
    yes: bool,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    """The digest is taken from the session's ``session.ranking`` event and checked against the
    report it carries; the ranking and recommended candidates are shown before signing."""
    stream = session_stream(session)
    interactive = sys.stdin.isatty()

    async def sign(key: ParticipantKey) -> int:
        async with connected(server, key, out.lang) as client:
            view, _sub = await load_view(client, stream)
            report_, digest = check_report(view, out)
            render = SessionRender(out, key.user)
            out.say("report_to_sign", digest=digest)
            out.echo(render.ranking_table(report_))
            out.echo(render.recommended(report_))
            if pinned is not None and pinned.strip().lower() != digest:
                raise CliError("digest_changed", 1, current=digest, pinned=pinned)
            if not yes:
                if not interactive:
                    raise CliError("confirm_needed", EXIT_LOCAL)
                ok = await asyncio.to_thread(click.confirm, out.t("confirm_sign"), default=False)
                if not ok:
                    out.say("not_signed")
                    return 1
            body: dict[str, Any] = {"report_digest": digest}
            if dissent:
                body["dissent"] = dissent
            await client.command(stream, "session.sign_report", body, sign=True)
            extra = out.t("with_dissent") if dissent else ""
            out.say("report_signed_ok", digest=digest, dissent=extra)
            return 0

    return asyncio.run(sign(require_key(key_path, out)))


class ExpertWatch(LiveSession):
    """The expert's live view, with what is expected of the expert now."""

    def on_synced(self) -> None:
        super().on_synced()
        self.hint()

    last_hint: str | None = None

    def on_event(self, event: dict[str, Any]) -> None:
        super().on_event(event)
        if event.get("type") in ("session.phase", "session.deviations"):
            self.hint()

    def hint(self) -> None:
        """What the expert is expected to do now, said once per change."""
        text = self.todo()
        if text is not None and text != self.last_hint:
            self.out.echo(text)
        self.last_hint = text

    def todo(self) -> str | None:
        view, me, t = self.view, self.render.me or "", self.out.t
        session = session_id(self.stream)
        if me not in view.members:
            return None
        if view.phase == "check_in" and me not in view.checked_in:
            return t("hint.check_in", session=session)
        if view.phase == "chair_election" and view.votes.get(me) != view.election_round:
            return t("hint.vote", session=session)
        if view.phase == "detailed_review" and view.passed is not None:
            cells = [(b, c["id"]) for b in view.passed for c in view.expert_criteria()]
            mine = view.scores.get(me, {})
            done = sum(1 for b, c in cells if c in mine.get(b, {}))
            extra = t("hint.submitted") if me in view.submitted else ""
            return t("hint.scores", done=done, total=len(cells), submitted=extra)
        if view.phase == "deviation_check":
            items = [d for d in view.unexplained() if d["expert"] == me]
            if items:
                listed = ", ".join(f"{d['bid']}/{d['criterion']} {d['score']}" for d in items)
                return t("hint.explain", items=listed)
        if view.phase == "signing" and me not in view.signatures:
            return t("hint.sign", session=session)
        return None


@main.command(help="Follow the session live: phase, progress, events you may see (关注评标).")
@click.argument("session")
@click.option("--history", type=int, default=10, show_default=True, help="Past events shown")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit code 4)")
@server_options
@cli_command
def watch(
    out: Out,
    session: str,
    history: int,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def follow(key: ParticipantKey) -> int:
        async with live_client(server, key, out.lang) as client:
            watcher = ExpertWatch(
                client, session_stream(session), out, history=history, me=key.user
            )
            return await watcher.run(timeout)

    return asyncio.run(follow(require_key(key_path, out)))


# -- method rules in the session -------------------------------------------------------------


@main.command(help="What each criterion takes: range, steps, values, who scores it (评分标准).")
@click.argument("session")
@server_options
@cli_command
def criteria(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    async def fetch(key: ParticipantKey) -> tuple[list[list[str]], str]:
        async with connected(server, key, out.lang) as client:
            view, _sub = await load_view(client, session_stream(session))
            return criteria_rows(out, view, key.user), key.user

    rows, _me = asyncio.run(fetch(require_key(key_path, out)))
    if not rows:
        out.say("criteria_none")
        return 0
    heads = ("h.criterion", "h.crit_name", "h.crit_kind", "h.scored_by", "h.values")
    out.echo(table([out.t(h) for h in heads], rows))
    return 0


@main.command("arithmetic-errors", help="Chair: record a bid's arithmetic errors (算术错误).")
@click.argument("session")
@click.option("--bid", required=True)
@click.option("--errors", type=click.IntRange(0, 999), required=True)
@click.option("--reason", help="What the errors are (required unless 0)")
@server_options
@cli_command
def arithmetic_errors(
    out: Out,
    session: str,
    bid: str,
    errors: int,
    reason: str | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body: dict[str, Any] = {"bid": bid, "errors": errors}
    if reason:
        body["reason"] = reason
    send(out, server, key_path, session, "session.arithmetic_errors", body)
    out.say("arithmetic_saved", bid=bid, errors=errors)
    return 0


@main.command(help="Chair: after a 复核, ask to correct a score or the base price (复核更正).")
@click.argument("session")
@click.option("--expert", help="The expert whose score is corrected")
@click.option("--bid")
@click.option("--criterion")
@click.option("--base-price", "base_price", is_flag=True, help="Correct the base price instead")
@click.option("--to", "corrected", required=True, help="The corrected figure, e.g. 21")
@click.option("--reason", required=True)
@server_options
@cli_command
def correct(
    out: Out,
    session: str,
    expert: str | None,
    bid: str | None,
    criterion: str | None,
    base_price: bool,
    corrected: str,
    reason: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body: dict[str, Any] = {"corrected": corrected.strip(), "reason": reason}
    if base_price:
        body["kind"] = "base_price"
    else:
        body.update(kind="score", expert=expert, bid=bid, criterion=criterion)
    send(out, server, key_path, session, "session.correction_request", body)
    out.say("correction_asked")
    return 0


@main.command(
    help="Vote the recommended candidates (投票法: up to the method's picks; 排序法: every"
    " candidate, best first), signed."
)
@click.argument("session")
@click.argument("bids", nargs=-1, required=True)
@server_options
@cli_command
def recommend(
    out: Out, session: str, bids: tuple[str, ...], server: str, key_path: Path | None, lang: str
) -> int | None:
    send(out, server, key_path, session, "session.rank_vote", {"bids": list(bids)}, sign=True)
    out.say("rank_vote_saved", bids=", ".join(bids))
    return 0


if __name__ == "__main__":
    main()
