"""``GET /api/tenders``: the tenders a participant can find — every published tender (a
tender notice, 招标公告, is public) and every tender or session it holds a role in; for a
bidder, its own bid stream in each tender. Nothing here depends on other bidders."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from evalroom.db.tenders import tenders_for
from evalroom.errors import Refusal
from evalroom.http import _lang, authenticated_user, error_response
from evalroom.node import Node

LISTED = ("bidding", "opening", "technical_opened", "opened")


async def list_tenders(request: Request) -> Response:
    node: Node = request.app.state.node
    try:
        user = await authenticated_user(request)
    except Refusal as refusal:
        return error_response(refusal, _lang(request))
    rows = await tenders_for(node.pool, user.id, LISTED)
    tenders: list[dict[str, Any]] = [
        {
            "tender": r["name"].removeprefix("tender:"),
            "title": r["title"],
            "phase": r["phase"],
            "opening_at": r["opening_at"],
            "roles": sorted(r["roles"]),
            # Sessions are named only to those who hold a role in the tender.
            "sessions": [n.removeprefix("session:") for n in r["sessions"]] if r["roles"] else [],
            # A bidder company's own stream (its registration, bids, refusals): its own only.
            **({"bid_stream": r["bid_stream"]} if r["bid_stream"] else {}),
        }
        for r in rows
    ]
    return JSONResponse({"tenders": tenders})
