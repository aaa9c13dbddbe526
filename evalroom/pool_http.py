"""HTTP for the expert pool (专家库): the snapshot a draw commits to, for the platform's
administrators and supervisors, and the administrators' management of the pool.

The pool names every expert with employer and region, so it is not for the agency, the
tenderer or bidders: knowing the pool narrows who can be drawn. Readers: the platform role
``admin`` and anyone holding ``supervisor`` somewhere (a supervisor commits the draw's seed
and checks the digest). Writers: ``admin`` only. Refused reads and writes are recorded as
attempts in the ``platform`` stream, as a refused command is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from evalroom.db.identity import User, roles_of
from evalroom.domain.pool_csv import MAX_BYTES, PoolCsvError
from evalroom.errors import Refusal
from evalroom.http import (
    _In,
    _lang,
    authenticated_user,
    error_response,
    path_id,
    read_body,
    read_json,
)
from evalroom.node import Node
from evalroom.services import pool_admin
from evalroom.services.pipeline import STORE_DOWN


class ReasonIn(_In):
    reason: str | None = Field(default=None, max_length=pool_admin.MAX_REASON)


class CreditIn(_In):
    credit: str = Field(min_length=1, max_length=8)
    reason: str = Field(min_length=1, max_length=pool_admin.MAX_REASON)


class RelationsIn(_In):
    companies: list[str] = Field(max_length=50)
    reason: str | None = Field(default=None, max_length=pool_admin.MAX_REASON)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def _allowed(node: Node, request: Request, action: str, *, write: bool) -> User:
    """The request's user if it may ``action`` the pool; else a recorded ``forbidden``."""
    user = await authenticated_user(request)
    roles = await roles_of(node.pool, user.id)
    admin = any(r["scope"] == "platform" and r["role"] == "admin" for r in roles)
    supervisor = any(r["role"] == "supervisor" for r in roles)
    if admin or (supervisor and not write):
        return user
    needed = "the platform role admin" if write else "admin or a supervisor's role"
    raise await node.pipeline.refuse(
        user,
        f"pool-{action}",
        "platform",
        f"pool.{action}",
        Refusal("forbidden", f"the expert pool's {action} needs {needed}"),
    )


async def _answer(request: Request, work: Any) -> Response:
    lang = _lang(request)
    try:
        return JSONResponse(await work(_node(request), lang))
    except PoolCsvError as exc:
        return error_response(Refusal(exc.code, exc.text(lang)), lang)
    except Refusal as refusal:
        return error_response(refusal, lang)
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), lang)


async def read_pool(request: Request) -> Response:
    """``GET /api/pool``: the snapshot as ``session.draw`` would read it now, its digest
    (``domain.draw.pool_digest``), and each expert's suspension and number of ratings."""

    async def work(node: Node, lang: str) -> dict[str, Any]:
        await _allowed(node, request, "read", write=False)
        return await pool_admin.pool_view(node.pool)

    return await _answer(request, work)


async def import_csv(request: Request) -> Response:
    """``POST /api/pool/import``: the CSV file as the body (UTF-8, at most 2 MiB), taken
    whole or refused whole (``invalid_pool_csv`` naming the line and the field)."""

    async def work(node: Node, lang: str) -> dict[str, Any]:
        user = await _allowed(node, request, "import", write=True)
        result = await pool_admin.import_pool(
            node.pool, await read_body(request, MAX_BYTES), user.id
        )
        _pinned, digest = await pool_admin.snapshot(node.pool)
        return {
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "accounts_created": result.accounts_created,
            "digest": digest,
        }

    return await _answer(request, work)


Apply = Callable[[Node, str, Any, User], Awaitable[dict[str, Any]]]


async def _expert_action(request: Request, action: str, model: type[_In], apply: Apply) -> Response:
    """An administrator's change to one expert: ``POST /api/pool/{expert}/<action>``."""

    async def work(node: Node, lang: str) -> dict[str, Any]:
        user = await _allowed(node, request, action, write=True)
        expert = path_id(request, "expert")
        body = await read_json(request, model)
        return {"expert": expert, **await apply(node, expert, body, user)}

    return await _answer(request, work)


async def _suspend(node: Node, expert: str, body: Any, user: User) -> dict[str, Any]:
    await pool_admin.suspend(node.pool, expert, body.reason or "", user.id)
    return {"suspended": True}


async def _unsuspend(node: Node, expert: str, body: Any, user: User) -> dict[str, Any]:
    await pool_admin.unsuspend(node.pool, expert, body.reason, user.id)
    return {"suspended": False}


async def _credit(node: Node, expert: str, body: Any, user: User) -> dict[str, Any]:
    value = await pool_admin.set_credit(node.pool, expert, body.credit, body.reason, user.id)
    return {"credit": str(value)}


async def _relations(node: Node, expert: str, body: Any, user: User) -> dict[str, Any]:
    found = await pool_admin.set_relations(node.pool, expert, body.companies, body.reason, user.id)
    return {"relations": found}


async def suspend(request: Request) -> Response:
    """``POST /api/pool/{expert}/suspend`` ``{reason}``: never drawn until unsuspended."""
    return await _expert_action(request, "suspend", ReasonIn, _suspend)


async def unsuspend(request: Request) -> Response:
    """``POST /api/pool/{expert}/unsuspend`` ``{reason?}``."""
    return await _expert_action(request, "unsuspend", ReasonIn, _unsuspend)


async def credit(request: Request) -> Response:
    """``POST /api/pool/{expert}/credit`` ``{credit, reason}``: set by hand, with a reason."""
    return await _expert_action(request, "credit", CreditIn, _credit)


async def relations(request: Request) -> Response:
    """``POST /api/pool/{expert}/relations`` ``{companies, reason?}``: replaces the set."""
    return await _expert_action(request, "relations", RelationsIn, _relations)
