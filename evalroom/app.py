"""Wiring only: the Starlette application of one node."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from evalroom import http, pool_http, session_http, tenders_http, uploads
from evalroom.audit.http import ROUTES as AUDIT_ROUTES
from evalroom.hub.endpoint import websocket_endpoint
from evalroom.node import Node
from evalroom.settings import Settings

# The browser client (static ES modules, no build step), shipped as package data.
WEB_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "web"


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        node = await Node.start(settings)
        app.state.node = node
        try:
            yield
        finally:
            await node.stop()

    routes = [
        Route("/healthz", http.healthz),
        Route("/metrics", http.metrics),
        Route("/auth/challenge", http.challenge, methods=["POST"]),
        Route("/auth/login", http.login, methods=["POST"]),
        Route("/auth/logout", http.logout, methods=["POST"]),
        Route("/api/commands", http.command, methods=["POST"]),
        Route("/api/me", http.me),
        Route("/api/tenders", tenders_http.list_tenders),
        Route(
            "/api/tenders/{tender}/bids/{section}/{envelope}", uploads.upload_bid, methods=["PUT"]
        ),
        Route("/api/tenders/{tender}/opened/{number}", uploads.download_plain),
        Route("/api/sessions/{session}/scores", session_http.scores),
        Route("/api/sessions/{session}/report.{fmt:str}", session_http.report),
        Route("/api/sessions/{session}/bundle", session_http.bundle),
        Route("/api/sessions/{session}/checkin-qr", session_http.checkin_qr, methods=["POST"]),
        Route("/api/pool", pool_http.read_pool),
        Route("/api/pool/import", pool_http.import_csv, methods=["POST"]),
        Route("/api/pool/{expert}/suspend", pool_http.suspend, methods=["POST"]),
        Route("/api/pool/{expert}/unsuspend", pool_http.unsuspend, methods=["POST"]),
        Route("/api/pool/{expert}/credit", pool_http.credit, methods=["POST"]),
        Route("/api/pool/{expert}/relations", pool_http.relations, methods=["POST"]),
        WebSocketRoute("/ws", websocket_endpoint),
        *AUDIT_ROUTES,
        Route("/", lambda request: RedirectResponse("/app/")),
        Mount("/app", StaticFiles(directory=WEB_CLIENT, html=True), name="app"),
    ]
    # Paths and query strings are bounded before routing (``http.BoundedRequests``).
    middleware = [Middleware(http.BoundedRequests)]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
