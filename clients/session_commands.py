"""Session commands shared by the CLIs: send one command, load the folded view, download the
report or a score sheet, and the long-running client the live views use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from clients.cli_common import CliError, Out, connected, require_key, table
from clients.folds.session import SessionView, session_id, session_stream
from clients.follow import Follower
from clients.keyfile import ParticipantKey
from clients.render.session import SessionRender
from clients.sdk import Client, Subscription, _raise_for
from evalroom.domain.method_rules import ScoreScale
from evalroom.domain.session import report_digest
from evalroom.domain.session_review import scale_phrase_zh


async def load_view(client: Client, stream: str) -> tuple[SessionView, Subscription]:
    """Subscribe and replay the session's history into a view."""
    sub = await client.subscribe(stream)
    view = SessionView(stream)
    follower = Follower(sub, view)
    while not follower.synced:
        await follower.step(10.0)
    return view, sub


def check_report(view: SessionView, out: Out) -> tuple[dict[str, Any], str]:
    """The report under signature and its digest, after checking the digest locally."""
    if view.report is None or view.report_digest is None:
        raise CliError("no_report", 1, phase=SessionRender(out).phase(view.phase or "-"))
    computed = report_digest(view.report)
    if computed != view.report_digest:
        raise CliError("digest_mismatch", 1, shown=view.report_digest, computed=computed)
    return view.report, computed


# -- running commands ----------------------------------------------------------------------


def send(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    type_: str,
    body: dict[str, Any] | None = None,
    *,
    sign: bool = False,
) -> dict[str, Any]:
    """Send one session command and return its ack (a refusal raises ``ClientError``)."""

    async def go(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang) as client:
            return await client.command(session_stream(session), type_, body or {}, sign=sign)

    return asyncio.run(go(require_key(key_path, out)))


@asynccontextmanager
async def live_client(
    server: str, key: ParticipantKey, lang: str, heartbeat: float = 1.0
) -> AsyncIterator[Client]:
    """A client for the long-running views (``watch``, ``venue``): as ``connected`` gives,
    with a heartbeat well inside the server's presence window, so that a venue's presence
    never lapses between two heartbeats."""
    client = Client(server.rstrip("/"), key.user, key.signing_key, lang=lang, heartbeat=heartbeat)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def http_get(client: Client, path: str, **params: str) -> httpx.Response:
    """GET an API path with the client's login; a refusal raises ``ClientError``."""
    headers = {"authorization": f"Bearer {client.token}", "accept-language": client.lang}
    async with httpx.AsyncClient(base_url=client.base_url, headers=headers, timeout=60) as http:
        response = await http.get(path, params=params or None)
    _raise_for(response)
    return response


# -- following a session live --------------------------------------------------------------


def report_command(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    out_path: Path | None,
    *,
    annex: str | None = None,
) -> int:
    """Download the report (PDF, or HTML for ``*.html``), check its digest and show it.
    ``annex="signals"``: with the red-flag annex, for a supervisor only."""
    stream = session_stream(session)
    target = out_path or Path(f"{session_id(stream)}-report.pdf")
    fmt = "html" if target.suffix.lower() in (".html", ".htm") else "pdf"
    render = SessionRender(out)

    async def fetch(key: ParticipantKey) -> tuple[SessionView, str, bytes]:
        async with connected(server, key, out.lang) as client:
            view, _sub = await load_view(client, stream)
            _report, digest = check_report(view, out)
            path = f"/api/sessions/{session_id(stream)}/report.{fmt}"
            response = await (
                http_get(client, path, annex=annex) if annex else http_get(client, path)
            )
            return view, digest, response.content

    view, digest, content = asyncio.run(fetch(require_key(key_path, out)))
    target.write_bytes(content)
    assert view.report is not None
    out.say("report_saved", path=target, size=len(content))
    out.say("report_digest", digest=digest)
    out.echo(render.ranking_table(view.report))
    out.echo(render.recommended(view.report))
    committee = view.report.get("committee", [])
    out.say(
        "report_phase",
        phase=render.phase(view.phase),
        signed=len(view.signatures),
        of=len(committee),
    )
    return 0


def sheet_command(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    expert: str | None,
    *,
    own: bool = True,
) -> int:
    """Show one expert's score sheet: ``expert``'s, else the user's own (``own``), else all."""
    stream = session_stream(session)

    async def fetch(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang, live=False) as client:
            who = expert or (key.user if own else None)
            params = {"expert": who} if who else {}
            response = await http_get(
                client, f"/api/sessions/{session_id(stream)}/scores", **params
            )
            data: dict[str, Any] = response.json()
            return data

    data = asyncio.run(fetch(require_key(key_path, out)))
    for who, sheet in (data.get("scores") or {}).items():
        state = out.t("sheet_revealed" if data.get("revealed") else "sheet_blind")
        out.say("sheet_title", expert=who, state=state)
        criteria = sorted({c for row in sheet.values() for c in row})
        rows = [[bid, *(str(row.get(c, "-")) for c in criteria)] for bid, row in sheet.items()]
        if rows:
            out.echo(table([out.t("h.bid"), *criteria], rows))
        else:
            out.say("sheet_empty")
    return 0


# -- method rules in the session: what each criterion takes ---------------------------------


def legal_values(criterion: dict[str, Any]) -> tuple[str, str]:
    """What an expert may enter on ``criterion`` (a method's criterion as JSON): (zh-CN,
    English). The same scale the session holds the figure to (``Criterion.allowed``)."""
    top = str(criterion.get("max_points") or "0")
    raw = criterion.get("scale")
    if isinstance(raw, dict):
        scale = ScoreScale.from_dict(raw)
    elif criterion.get("deduction") == "majority":
        scale = ScoreScale(values=(Decimal(0), Decimal(top)))  # all or nothing
    else:
        scale = ScoreScale.from_dict({"low": "0", "high": top})
    return scale_phrase_zh(scale), scale.allowed()


def criteria_rows(out: Out, view: SessionView, me: str | None) -> list[list[str]]:
    """One row per criterion an expert enters: id, name, kind, who scores it, the values."""
    rows = []
    for c in view.scored_criteria():
        zh, en = legal_values(c)
        kind = str(c.get("kind"))
        if kind == "deduction":
            kind = f"deduction:{c.get('deduction')}"
        elif c.get("entry") == "deduction":
            kind = "expert:entry_deduction"
        by = str(c.get("scored_by", "experts"))
        mine = me is None or by == "experts" or me == view.chair
        rows.append(
            [
                str(c.get("id")),
                str(c.get("name")),
                out.t(f"crit.{kind}"),
                out.t(f"crit.by.{by}") + ("" if mine else " ✗"),
                en if out.en else zh,
            ]
        )
    return rows
