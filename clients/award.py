"""``evalroom-award``: the award after the evaluation (定标, 评定分离), for the tenderer (招标人),
the members of its 定标委员会, the supervisor present and the bidders.

    # the tenderer (招标人)
    evalroom-award setup EV1-S1 --method vote_lot --finalists 2 --member U1 --member U2 \\
        --chair U1 [--panel P1 --panel P2 … --draw 3 --seed-out panel-seed.hex] \\
        [--objection-days 3 | --objection-seconds 60]
    evalroom-award draw EV1-S1 --seed-file panel-seed.hex     # members drawn from the panel
    evalroom-award answer EV1-S1 O1 --text "…"                # an objection (异议) answered
    evalroom-award notify EV1-S1                              # 中标通知, after the 公示
    # the supervisor (监督人)
    evalroom-award sign-in EV1-S1
    evalroom-award commit-seed EV1-S1 --out lot-seed.hex      # 票决抽签法, before the vote
    evalroom-award reveal-seed EV1-S1 --seed-file lot-seed.hex
    # a member of the 定标委员会
    evalroom-award sign-in EV1-S1
    evalroom-award vote EV1-S1 B02                            # the round being voted
    evalroom-award opinion EV1-S1 B02 --text "…"              # 集体议事法
    evalroom-award decide EV1-S1 B02 --reasons "…"            # the chair (组长)
    evalroom-award sign-report EV1-S1 [--dissent "…"]         # the 定标报告's digest
    # a bidder
    evalroom-award object EV1-S1 --text "…"                   # within the 公示
    # anyone with a role in the session
    evalroom-award status EV1-S1

Every command that signs (sign-in, vote, opinion, decide, sign-report, object) signs with the
key file. A candidate is given by its bid number or its company's name. ``sign-report``
recomputes the 定标报告's digest here and signs only a report whose digest it computed. The
seeds (of the panel draw and of the lot) are made on this machine, kept in a file (mode 0600,
never overwritten), and only their SHA-256 is published before they are revealed. Times are
shown in Beijing time, labelled.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import click

from clients.cli_common import (
    EXIT_REFUSED,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    require_key,
    server_options,
    table,
)
from clients.folds.award import AwardView
from clients.folds.session import SessionView, session_stream
from clients.keyfile import ParticipantKey
from clients.render.session import SessionRender
from clients.session_commands import http_get, load_view, send
from clients.supervisor import _read_seed, _write_seed
from evalroom.domain.method_rules import commit_seed
from evalroom.domain.session import report_digest


@click.group(help="evalroom award client (定标客户端, 评定分离)")
def main() -> None:
    pass


add_keygen(main)


async def _award(client: Any, session: str) -> AwardView:
    view, _sub = await load_view(client, session_stream(session))
    if view.award is None:
        raise CliError("award_none", EXIT_REFUSED, session=session)
    return view.award


def _view(out: Out, server: str, key_path: Path | None, session: str) -> SessionView:
    async def go(key: ParticipantKey) -> SessionView:
        async with connected(server, key, out.lang) as client:
            view, _sub = await load_view(client, session_stream(session))
            if view.award is None:
                raise CliError("award_none", EXIT_REFUSED, session=session)
            return view

    return asyncio.run(go(require_key(key_path, out)))


def _award_of(view: SessionView) -> AwardView:
    assert view.award is not None  # _view refuses a session without an award
    return view.award


def _candidate(a: AwardView, given: str, among: list[str] | None = None) -> str:
    """A candidate's bid number from its number or its company's name."""
    pool = [c for c in a.candidates if among is None or c.get("bid_id") in among]
    for c in pool:
        if given in (c.get("bid_id"), c.get("company")):
            return str(c["bid_id"])
    names = "、".join(f"{c.get('bid_id')} {c.get('company')}" for c in pool) or "-"
    raise CliError("award_not_candidate", EXIT_REFUSED, given=given, candidates=names)


def _named(a: AwardView, bid: object) -> str:
    found = a.candidate(bid)
    return f"{bid} {found.get('company')}" if found else str(bid)


# -- the tenderer ----------------------------------------------------------------------------


@main.command(help="Set up the award: method, 定标委员会, 公示 window (招标人).")
@click.argument("session")
@click.option(
    "--method",
    "kind",
    required=True,
    type=click.Choice(["vote", "vote_lot", "deliberation", "price"]),
    help="票决法 vote, 票决抽签法 vote_lot, 集体议事法 deliberation, 价格竞争定标法 price",
)
@click.option("--finalists", type=int, help="vote_lot: candidates left for the lot (N)")
@click.option("--price-tie", type=click.Choice(["rank", "vote"]), help="price: equal lowest")
@click.option("--max-rounds", type=int)
@click.option("--member", "members", multiple=True, help="An appointed member (user id)")
@click.option("--chair", help="The chair (组长), an appointed member")
@click.option("--panel", "panel", multiple=True, help="A member of your panel to draw from")
@click.option("--draw", "draw_count", type=int, help="How many members to draw from the panel")
@click.option(
    "--seed-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the panel draw's seed is kept (needed with --panel)",
)
@click.option("--objection-days", type=int)
@click.option("--objection-seconds", type=int)
@server_options
@cli_command
def setup(
    out: Out,
    session: str,
    kind: str,
    finalists: int | None,
    price_tie: str | None,
    max_rounds: int | None,
    members: tuple[str, ...],
    chair: str | None,
    panel: tuple[str, ...],
    draw_count: int | None,
    seed_out: Path | None,
    objection_days: int | None,
    objection_seconds: int | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    require_key(key_path, out)  # a key problem shows before any seed is made
    method: dict[str, Any] = {"kind": kind}
    for name, value in (
        ("finalists", finalists),
        ("price_tie", price_tie),
        ("max_rounds", max_rounds),
    ):
        if value is not None:
            method[name] = value
    body: dict[str, Any] = {"method": method, "members": list(members)}
    if chair:
        body["chair"] = chair
    for name, value in (
        ("objection_days", objection_days),
        ("objection_seconds", objection_seconds),
    ):
        if value is not None:
            body[name] = value
    if panel or draw_count is not None:
        if not panel or draw_count is None or seed_out is None:
            raise CliError("award_draw_options")
        seed = secrets.token_bytes(32)
        _write_seed(seed_out, seed)  # kept before anything is published
        body["draw"] = {"panel": list(panel), "count": draw_count, "commitment": commit_seed(seed)}
    try:
        send(out, server, key_path, session, "award.setup", body)
    except BaseException:
        if seed_out is not None and "draw" in body:
            seed_out.unlink(missing_ok=True)  # refused: nothing was published
        raise
    out.say("award_set_up_done", session=session, method=out.t(f"award_method.{kind}"))
    if "draw" in body:
        out.say("award_panel_committed", commitment=body["draw"]["commitment"], path=seed_out)
    return 0


@main.command(help="Reveal the panel seed and draw the members (抽取定标委员, 招标人).")
@click.argument("session")
@click.option("--seed-file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def draw(
    out: Out, session: str, seed_file: Path, server: str, key_path: Path | None, lang: str
) -> int | None:
    seed = _read_seed(seed_file)

    async def go(key: ParticipantKey) -> AwardView:
        async with connected(server, key, out.lang) as client:
            await client.command(session_stream(session), "award.draw_members", {"seed": seed})
            return await _award(client, session)

    a = asyncio.run(go(require_key(key_path, out)))
    drawn = (a.draw or {}).get("drawn") or []
    out.say(
        "award_drawn",
        drawn="、".join(a.name(m) for m in drawn),
        chair=a.name(a.chair) if a.chair else "-",
    )
    return 0


@main.command(help="Answer an objection (答复异议, 招标人).")
@click.argument("session")
@click.argument("objection")
@click.option("--text", required=True)
@server_options
@cli_command
def answer(
    out: Out,
    session: str,
    objection: str,
    text: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    send(out, server, key_path, session, "award.answer", {"id": objection, "answer": text})
    out.say("award_answered_done", id=objection)
    return 0


@main.command(help="Issue the notice of award once the 公示 is over (中标通知, 招标人).")
@click.argument("session")
@server_options
@cli_command
def notify(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    send(out, server, key_path, session, "award.notify")
    a = _award_of(_view(out, server, key_path, session))
    winner = a.winner or {}
    at = (a.notice or {}).get("at")
    out.say(
        "award_notified",
        winner=f"{winner.get('bid_id')} {winner.get('company')}",
        at=out.when(str(at)) if at else "-",
    )
    return 0


# -- the supervisor and the members ------------------------------------------------------------


@main.command("sign-in", help="Sign in to the award by signature (签到, 委员或监督人).")
@click.argument("session")
@server_options
@cli_command
def sign_in(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    send(out, server, key_path, session, "award.sign_in", sign=True)
    out.say("award_signed_in_done", session=session)
    return 0


@main.command("commit-seed", help="票决抽签法: make the lot's seed here, publish its hash.")
@click.argument("session")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def commit_seed_cmd(
    out: Out, session: str, out_path: Path, server: str, key_path: Path | None, lang: str
) -> int | None:
    require_key(key_path, out)
    seed = secrets.token_bytes(32)
    commitment = commit_seed(seed)
    _write_seed(out_path, seed)
    try:
        send(out, server, key_path, session, "award.commit_seed", {"commitment": commitment})
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    out.say("award_lot_committed", commitment=commitment, path=out_path)
    return 0


@main.command("reveal-seed", help="票决抽签法: reveal the lot's seed; the lot is drawn.")
@click.argument("session")
@click.option("--seed-file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def reveal_seed(
    out: Out, session: str, seed_file: Path, server: str, key_path: Path | None, lang: str
) -> int | None:
    seed = _read_seed(seed_file)

    async def go(key: ParticipantKey) -> AwardView:
        async with connected(server, key, out.lang) as client:
            await client.command(session_stream(session), "award.reveal_seed", {"seed": seed})
            return await _award(client, session)

    a = asyncio.run(go(require_key(key_path, out)))
    pick = (a.lot or {}).get("pick")
    out.say(
        "award_lot_done",
        finalists="、".join(_named(a, f) for f in a.finalists),
        pick=_named(a, pick),
    )
    return 0


@main.command(help="Vote for a candidate in the round being voted (投票, 委员).")
@click.argument("session")
@click.argument("candidate")
@server_options
@cli_command
def vote(
    out: Out, session: str, candidate: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    async def go(key: ParticipantKey) -> tuple[int, str]:
        async with connected(server, key, out.lang) as client:
            a = await _award(client, session)
            if a.voting is None:
                raise CliError("award_no_round", EXIT_REFUSED, phase=_phase(out, a))
            number = int(a.voting["round"])
            bid = _candidate(a, candidate, list(a.voting.get("candidates") or []))
            body = {"round": number, "candidate": bid}
            await client.command(session_stream(session), "award.vote", body, sign=True)
            return number, _named(a, bid)

    number, named = asyncio.run(go(require_key(key_path, out)))
    out.say("award_voted", round=number, candidate=named)
    return 0


@main.command(help="集体议事法: your opinion, a candidate and why (委员意见).")
@click.argument("session")
@click.argument("candidate")
@click.option("--text", required=True)
@server_options
@cli_command
def opinion(
    out: Out,
    session: str,
    candidate: str,
    text: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    return _about(out, server, key_path, session, "award.opinion", candidate, {"opinion": text})


@main.command(help="集体议事法: the chair decides, with reasons (组长定标).")
@click.argument("session")
@click.argument("candidate")
@click.option("--reasons", required=True)
@server_options
@cli_command
def decide(
    out: Out,
    session: str,
    candidate: str,
    reasons: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    return _about(out, server, key_path, session, "award.decide", candidate, {"reasons": reasons})


def _about(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    type_: str,
    candidate: str,
    extra: dict[str, str],
) -> int:
    async def go(key: ParticipantKey) -> str:
        async with connected(server, key, out.lang) as client:
            a = await _award(client, session)
            bid = _candidate(a, candidate)
            body = {"candidate": bid, **extra}
            await client.command(session_stream(session), type_, body, sign=True)
            return _named(a, bid)

    named = asyncio.run(go(require_key(key_path, out)))
    done = "award_opinion_done" if type_ == "award.opinion" else "award_decided_done"
    out.say(done, candidate=named)
    return 0


@main.command("sign-report", help="Sign the 定标报告, after checking its digest here (委员).")
@click.argument("session")
@click.option("--dissent", help="Your dissent, recorded with your signature")
@server_options
@cli_command
def sign_report(
    out: Out, session: str, dissent: str | None, server: str, key_path: Path | None, lang: str
) -> int | None:
    async def go(key: ParticipantKey) -> tuple[str, dict[str, Any]]:
        async with connected(server, key, out.lang) as client:
            a = await _award(client, session)
            if a.report is None or a.award_digest is None:
                raise CliError("award_no_report", EXIT_REFUSED, phase=_phase(out, a))
            computed = report_digest(a.report)
            if computed != a.award_digest:
                raise CliError(
                    "digest_mismatch", EXIT_REFUSED, shown=a.award_digest, computed=computed
                )
            body: dict[str, Any] = {"award_digest": computed}
            if dissent:
                body["dissent"] = dissent
            await client.command(session_stream(session), "award.sign_report", body, sign=True)
            return computed, dict(a.report.get("winner") or {})

    digest, winner = asyncio.run(go(require_key(key_path, out)))
    out.say(
        "award_report_signed_done",
        digest=digest,
        winner=f"{winner.get('bid_id')} {winner.get('company')}",
    )
    return 0


# -- a bidder ----------------------------------------------------------------------------------


@main.command("object", help="Raise an objection (异议) within the 公示 (投标人).")
@click.argument("session")
@click.option("--text", required=True)
@server_options
@cli_command
def object_cmd(
    out: Out, session: str, text: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    ack = send(out, server, key_path, session, "award.object", {"text": text}, sign=True)
    out.say("award_objection_raised", id=(ack.get("reply") or {}).get("id", "-"))
    return 0


# -- anyone with a role in the session ---------------------------------------------------------


def _phase(out: Out, a: AwardView) -> str:
    return out.t(f"award_phase.{a.phase}") if a.phase else "-"


@main.command(help="The award as you may see it: method, phase, committee, tallies, 公示.")
@click.argument("session")
@server_options
@cli_command
def status(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    view = _view(out, server, key_path, session)
    a, t = _award_of(view), out.t
    out.echo(
        table(
            [t("h.award_rank"), t("h.bid"), t("h.award_company"), t("h.award_price")],
            [
                [
                    str(c.get("rank")),
                    str(c.get("bid_id")),
                    str(c.get("company")),
                    str(c.get("price")),
                ]
                for c in a.candidates
            ],
        )
    )
    if a.draw:
        out.say(
            "award_status_draw",
            count=a.draw.get("count"),
            size=a.draw.get("panel_size"),
            commitment=str(a.draw.get("commitment"))[:16],
            drawn="、".join(a.draw.get("drawn") or []) or t("award_not_drawn"),
        )
    if a.members:
        signed = sum(1 for m in a.members if m in a.signed_in)
        out.say(
            "award_status_committee",
            members="、".join(a.name(m) for m in a.members),
            chair=a.name(a.chair) if a.chair else "-",
            signed=signed,
            of=len(a.members),
        )
    elif a.member_count:
        out.say("award_status_size", n=a.member_count)
    supervisors = [w for w, as_ in a.signed_in.items() if as_ == "supervisor"]
    if supervisors:
        out.say("award_status_supervisor", who="、".join(supervisors))
    if a.voting:
        listed = "、".join(_named(a, b) for b in a.voting.get("candidates") or [])
        step = a.progress.get(f"round_{a.voting['round']}", (0, len(a.members)))
        out.say(
            "award_status_voting",
            round=a.voting["round"],
            candidates=listed,
            seats=a.voting.get("seats"),
            done=step[0],
            of=step[1],
        )
    for r in a.rounds:
        counts = "、".join(f"{_named(a, b)} {n}" for b, n in (r.get("counts") or {}).items())
        out.say("award_status_round", round=r.get("round"), counts=counts)
    for member, o in a.opinions.items():
        out.say(
            "award_status_opinion",
            member=a.name(member),
            candidate=_named(a, o.get("candidate")),
            text=o.get("opinion"),
        )
    for line in SessionRender(out).award_summary(view):
        out.echo(line)
    return 0


@main.command(help="Download the 定标报告 as PDF (or HTML for *.html), in --lang.")
@click.argument("session")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def report(
    out: Out, session: str, out_path: Path | None, server: str, key_path: Path | None, lang: str
) -> int | None:
    sid = session_stream(session).removeprefix("session:")
    target = out_path or Path(f"{sid}-award.pdf")
    fmt = "html" if target.suffix.lower() in (".html", ".htm") else "pdf"

    async def fetch(key: ParticipantKey) -> bytes:
        async with connected(server, key, out.lang, live=False) as client:
            return (await http_get(client, f"/api/sessions/{sid}/award.{fmt}")).content

    content = asyncio.run(fetch(require_key(key_path, out)))
    target.write_bytes(content)
    out.say("report_saved", path=target, size=len(content))
    return 0


if __name__ == "__main__":
    main()
