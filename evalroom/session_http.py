"""HTTP for evaluation sessions: reading score sheets (blind until the reveal), and the
evaluation report as a document (HTML and PDF)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from evalroom.db import Executor
from evalroom.db.events import stream_parent_state
from evalroom.db.identity import roles_in
from evalroom.db.redflags import signals_raised
from evalroom.db.sessions import ReportTender, report_signatures, report_tender
from evalroom.domain.commands import Actor
from evalroom.domain.session import may_read_scores
from evalroom.errors import Refusal
from evalroom.http import _lang, authenticated_user, error_response, path_id, query_text
from evalroom.node import Node
from evalroom.report import render_html, render_pdf


async def _session(node: Node, request: Request) -> tuple[str, dict[str, Any], Actor]:
    user = await authenticated_user(request)
    stream = f"session:{path_id(request, 'session')}"
    found = await stream_parent_state(node.pool, stream)
    if found is None:
        raise Refusal("unknown_stream", stream)
    parent, state = found
    grants = await roles_in(node.pool, user.id, [stream, parent or ""])
    actor = Actor(
        user.id,
        frozenset(g.role for g in grants),
        user.org,
        frozenset(g.venue for g in grants if g.venue),
    )
    return stream, state, actor


async def scores(request: Request) -> Response:
    """``GET /api/sessions/{session}/scores?expert=ID``: one expert's sheet, or all sheets.
    Before the reveal an expert may read only its own (评分保密); refusals are recorded."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        stream, state, actor = await _session(node, request)
        expert = query_text(request, "expert")
        if not may_read_scores(state, actor, expert):
            user = await authenticated_user(request)
            raise await node.pipeline.refuse(
                user,
                f"read-scores-{expert or 'all'}",
                stream,
                "session.read_scores",
                Refusal("forbidden", "scores are blind until every expert has submitted"),
            )
    except Refusal as refusal:
        return error_response(refusal, lang)
    sheets = state.get("scores", {})
    if expert is not None:
        sheets = {expert: sheets.get(expert, {})}
    return JSONResponse(
        {"session": stream, "revealed": bool(state.get("revealed")), "scores": sheets}
    )


async def report(request: Request) -> Response:
    """``GET /api/sessions/{session}/report.{html,pdf}``: the evaluation report (评标报告)
    with every expert's signature listed, for the committee, supervisors, the agency and
    the tenderer once the session is closed. ``?annex=signals`` adds the red-flag annex for
    the supervising authority; only a supervisor may ask for it (``forbidden`` otherwise)."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        stream, state, actor = await _session(node, request)
        allowed = actor.roles & {"supervisor", "expert", "chair"} or (
            state.get("phase") == "closed" and actor.roles & {"agency", "tenderer"}
        )
        if not allowed:
            raise Refusal(
                "forbidden",
                "the report is for the committee, supervisors and, once closed, the tenderer",
            )
        annex = query_text(request, "annex")
        if annex is not None and annex != "signals":
            raise Refusal("invalid", "annex is signals")
        if annex and "supervisor" not in actor.roles:
            raise Refusal("forbidden", "the red-flag annex is for supervisors only")
        if not state.get("report"):
            raise Refusal("not_ready", "no report yet")
        signatures, tender = await report_sources(node.pool, stream, state)
        signals = None
        if annex:  # red flags: the tender's signals for the session's section, as recorded
            section = str(state.get("section", ""))
            raised = await signals_raised(node.pool, f"tender:{state['tender']}")
            signals = [p for p in raised if p.get("section") == section]
    except Refusal as refusal:
        return error_response(refusal, lang)
    if request.path_params["fmt"] == "pdf":
        pdf = render_pdf(stream, state, signatures, tender, signals)
        return Response(pdf, media_type="application/pdf")
    return HTMLResponse(render_html(stream, state, signatures, tender, signals))


async def report_sources(
    pool: Executor, stream: str, state: dict[str, Any]
) -> tuple[list[dict[str, Any]], ReportTender | None]:
    """What the report prints beyond the session's state: the experts' signatures and the
    session's tender (title, configuration, the signed opening records)."""
    signatures = await report_signatures(pool, stream)
    return signatures, await report_tender(pool, f"tender:{state['tender']}")
