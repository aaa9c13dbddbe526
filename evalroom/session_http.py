"""HTTP for evaluation sessions: reading score sheets (blind until the reveal), the
evaluation report as a document (HTML and PDF), the session's evidence bundle, and the
check-in code an expert shows the site operator as a QR image."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import segno
from pydantic import Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from evalroom.audit import Audit
from evalroom.audit.bundle import bundle_streams, export_bundle
from evalroom.db import Executor
from evalroom.db.events import stream_parent_state
from evalroom.db.identity import roles_in, roles_of
from evalroom.db.redflags import signals_raised
from evalroom.db.sessions import ReportTender, report_signatures, report_tender, user_names
from evalroom.domain.commands import Actor
from evalroom.domain.session import may_read_scores
from evalroom.errors import Refusal
from evalroom.http import (
    _In,
    _lang,
    authenticated_user,
    error_response,
    path_id,
    query_text,
    read_json,
)
from evalroom.node import Node
from evalroom.report import Document, html_of, pdf_of, render_html, render_pdf
from evalroom.report_award import all_rejected, award_document, reject_all_document


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
        if not state.get("report") and all_rejected(state):
            return await _rejected_report(node, request, stream, state)
        if not state.get("report"):
            raise Refusal("not_ready", "no report yet")
        signatures, tender = await report_sources(node.pool, stream, state)
        doc_lang = _document_lang(request)
        signals = None
        if annex:  # red flags: the tender's signals for the session's section, as recorded
            section = str(state.get("section", ""))
            raised = await signals_raised(node.pool, f"tender:{state['tender']}")
            signals = [p for p in raised if p.get("section") == section]
    except Refusal as refusal:
        return error_response(refusal, lang)
    if request.path_params["fmt"] == "pdf":
        pdf = render_pdf(stream, state, signatures, tender, doc_lang, signals)
        return Response(pdf, media_type="application/pdf")
    return HTMLResponse(render_html(stream, state, signatures, tender, doc_lang, signals))


async def report_sources(
    pool: Executor, stream: str, state: dict[str, Any]
) -> tuple[list[dict[str, Any]], ReportTender | None]:
    """What the report prints beyond the session's state: the experts' signatures and the
    session's tender (title, configuration, the signed opening records)."""
    signatures = await report_signatures(pool, stream)
    return signatures, await report_tender(pool, f"tender:{state['tender']}")


async def bundle(request: Request) -> Response:
    """``GET /api/sessions/{session}/bundle``: the session's evidence bundle (证据包,
    ``evalroom-bundle/1``, gzip), for its supervisors and the platform's administrators, as
    ``evalroom export-bundle`` writes it. Every stream's head is signed first, so the bundle's
    last events are covered by a checkpoint. Refusals are recorded as attempts."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        stream, _state, actor = await _session(node, request)
        platform = await roles_of(node.pool, actor.user_id)
        admin = any(r["scope"] == "platform" and r["role"] == "admin" for r in platform)
        if not (admin or "supervisor" in actor.roles):
            user = await authenticated_user(request)
            raise await node.pipeline.refuse(
                user,
                "export-bundle",
                stream,
                "session.export_bundle",
                Refusal("forbidden", "the evidence bundle is for supervisors and administrators"),
            )
        audit = node.extras.get("audit")
        if isinstance(audit, Audit):
            for row in await bundle_streams(node.pool, stream):
                await audit.checkpoint_now(row["name"], "export")
        found = await export_bundle(node.pool, stream)
    except Refusal as refusal:
        return error_response(refusal, lang)
    data = gzip.compress(json.dumps(found, ensure_ascii=False).encode("utf-8"), mtime=0)
    name = stream.replace(":", "-")
    return Response(
        data,
        media_type="application/gzip",
        headers={"content-disposition": f'attachment; filename="{name}.bundle.json.gz"'},
    )


CHECKIN_PREFIX = "evalroom-checkin:"


class CheckinCodeIn(_In):
    code: str = Field(min_length=len(CHECKIN_PREFIX) + 1, max_length=1024)


async def checkin_qr(request: Request) -> Response:
    """``POST /api/sessions/{session}/checkin-qr`` ``{code}``: the check-in code an expert of
    the session shows the site operator (``evalroom-checkin:…``, signed in the expert's
    browser), drawn as a QR image (SVG). The code is no secret (the operator sends it on as
    the check-in); the node draws it so the page needs no JavaScript QR library."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        _stream, _state, actor = await _session(node, request)
        if not actor.roles & {"expert", "chair"}:
            raise Refusal("forbidden", "a check-in code is for the session's experts")
        body = await read_json(request, CheckinCodeIn)
        if not body.code.startswith(CHECKIN_PREFIX):
            raise Refusal("invalid", f"a check-in code starts with {CHECKIN_PREFIX}")
    except Refusal as refusal:
        return error_response(refusal, lang)
    out = io.BytesIO()
    segno.make(body.code, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml")


# --- award (定标) jobs: the report of a session closed under 否决所有投标, and the 定标报告 ---


def _document_lang(request: Request, *, accept: bool = False) -> str:
    """The document's language: ``?lang=en`` or ``zh-CN``; without it zh-CN, or with
    ``accept`` the Accept-Language (the 定标报告, new: no reader expects it in Chinese only)."""
    asked = query_text(request, "lang")
    if asked:
        return "en" if asked.lower().startswith("en") else "zh-CN"
    return _lang(request) if accept else "zh-CN"


def _as_document(request: Request, doc: Document, stream: str) -> Response:
    if request.path_params["fmt"] == "pdf":
        return Response(pdf_of(doc, stream), media_type="application/pdf")
    return HTMLResponse(html_of(doc, stream))


async def _rejected_report(
    node: Node, request: Request, stream: str, state: dict[str, Any]
) -> Response:
    """The report of a session closed under ``reject_all``: no ranking, no candidates."""
    tender = await report_tender(node.pool, f"tender:{state['tender']}")
    doc = reject_all_document(stream, state, tender, _document_lang(request))
    return _as_document(request, doc, stream)


async def award_report(request: Request) -> Response:
    """``GET /api/sessions/{session}/award.{html,pdf}[?lang=en]``: the 定标报告 of the
    session's award, for the tenderer, its 定标委员会 and supervisors."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        stream, state, actor = await _session(node, request)
        if not actor.roles & {"supervisor", "tenderer", "award_member"}:
            raise Refusal(
                "forbidden", "the award report is for the tenderer, its committee and supervisors"
            )
        award = state.get("award")
        if not award:
            raise Refusal("not_ready", "no award is set up for this session")
        doc_lang = _document_lang(request, accept=True)
        tender = await report_tender(node.pool, f"tender:{state['tender']}")
        people = [*award.get("members", []), *award.get("signed_in", {})]
        names = await user_names(node.pool, people)
    except Refusal as refusal:
        return error_response(refusal, lang)
    return _as_document(request, award_document(stream, state, tender, names, doc_lang), stream)
