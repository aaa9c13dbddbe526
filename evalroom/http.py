"""HTTP routes: health, metrics, login, and commands for clients that do not hold a socket."""

from __future__ import annotations

import contextlib
import re
import secrets
from typing import Any
from urllib.parse import unquote_plus

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crypto.events import login_signing_bytes
from crypto.keys import KeyFormatError, SigningKey, VerifyKey
from evalroom.auth.revocation import REVOKED_CHANNEL, authenticate, revoke
from evalroom.auth.tokens import TokenError
from evalroom.bounds import decode_json
from evalroom.db.identity import User, get_user, put_challenge, roles_of, take_challenge
from evalroom.errors import Refusal
from evalroom.node import Node
from evalroom.services.pipeline import STORE_DOWN

log = structlog.get_logger(__name__)

CHALLENGE_TTL = 120
_DUMMY_KEY = SigningKey.generate().public  # verifies logins of unknown users: always fails
MAX_BODY = 256 * 1024


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ChallengeIn(_In):
    user: str = Field(min_length=1, max_length=64)


class LoginIn(_In):
    user: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=1, max_length=128)
    sig: str = Field(min_length=1, max_length=200)


class CommandIn(_In):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    stream: str = Field(min_length=1, max_length=80)
    type: str = Field(min_length=1, max_length=64)
    body: dict[str, Any] = Field(default_factory=dict)
    sig: str | None = Field(default=None, max_length=200)


STATUS = {
    "malformed": 400,
    "too_large": 413,
    "invalid": 422,
    "unknown_type": 400,
    "unauthenticated": 401,
    "bad_signature": 401,
    "challenge_expired": 401,
    "unknown_user": 422,  # a grant naming someone not registered (login never says so)
    "forbidden": 403,
    "not_subscribed_role": 403,
    "not_yours": 403,
    "unknown_stream": 404,
    "unknown_expert": 404,
    "already_exists": 409,
    "no_checkpoint": 404,
    "id_reused": 409,
    "wrong_phase": 409,
    "store_unavailable": 503,
    "outcome_unknown": 503,
    "overloaded": 503,
    "internal": 500,
}


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def error_response(refusal: Refusal, lang: str, ref: str | None = None) -> JSONResponse:
    return JSONResponse(refusal.to_message(lang, ref), status_code=STATUS.get(refusal.code, 422))


def _lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh-CN"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, refused as ``too_large`` once it passes ``limit`` bytes (counted
    as they arrive: a body that lies about its length is not buffered whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared[:20]) > limit:
        raise Refusal("too_large", f"limit {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal("too_large", f"limit {limit} bytes")
    return bytes(body)


async def read_json(request: Request, model: type[_In]) -> Any:
    """Decode the body within ``evalroom.bounds`` first, then validate it against ``model``."""
    value = decode_json(await read_body(request))
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        if err.get("type") in ("model_type", "model_attributes_type"):
            raise Refusal("malformed", "the body is not a JSON object") from None
        raise Refusal("invalid", f"{where}: {err.get('msg', '')}") from None


_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def path_id(request: Request, name: str) -> str:
    """A path parameter naming something (a tender, a section, a bid): a short identifier."""
    value = str(request.path_params[name])
    if not _PATH_ID.fullmatch(value):
        raise Refusal("invalid", f"{name} is 1-64 letters, digits, . _ : -")
    return value


def query_text(request: Request, name: str, max_length: int = 64) -> str | None:
    """An optional query parameter of at most ``max_length`` characters (NUL is refused
    before routing, by ``BoundedRequests``)."""
    value = request.query_params.get(name)
    if value is not None and not 1 <= len(value) <= max_length:
        raise Refusal("invalid", f"{name} is 1-{max_length} characters")
    return value


MAX_PATH = 2048
MAX_QUERY = 4096


def request_line_refusal(scope: Scope) -> Refusal | None:
    """Why a request's path or query string may not go further, if it may not: longer than
    the bounds, or holding a NUL character (PostgreSQL's text cannot store one, and no name
    in this protocol contains one), percent-encoded or not."""
    path: str = scope.get("path", "")
    raw_path: bytes = scope.get("raw_path") or path.encode("utf-8", "surrogatepass")
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) > MAX_PATH:
        return Refusal("too_large", f"paths are limited to {MAX_PATH} bytes")
    if len(query) > MAX_QUERY:
        return Refusal("too_large", f"query strings are limited to {MAX_QUERY} bytes")
    if "\x00" in path or "\x00" in unquote_plus(query.decode("latin-1")):
        return Refusal("invalid", "the path or query string contains a NUL character")
    return None


class BoundedRequests:
    """ASGI middleware: every HTTP request and WebSocket handshake passes
    ``request_line_refusal`` before routing. A refused request gets its error (HTTP 413 or
    422), a refused handshake HTTP 403; neither reaches a handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = request_line_refusal(scope) if scope["type"] in ("http", "websocket") else None
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            request = Request(scope)
            response = error_response(refusal, _lang(request))
            await response(scope, receive, send)
        else:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": refusal.code})


async def healthz(request: Request) -> Response:
    status = await _node(request).healthy()
    ok = all(status.values())
    return JSONResponse({"ok": ok, **status}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(_node(request).metrics.render(), media_type="text/plain; version=0.0.4")


async def challenge(request: Request) -> Response:
    node = _node(request)
    try:
        body = await read_json(request, ChallengeIn)
        nonce = secrets.token_urlsafe(24)
        # An unknown user gets a stored nonce too, so neither this answer nor the login's
        # reveals who exists.
        await put_challenge(node.pool, nonce, body.user, CHALLENGE_TTL)
        return JSONResponse({"nonce": nonce, "expires_in": CHALLENGE_TTL})
    except Refusal as refusal:
        node.metrics.anonymous_garbage.inc()
        return error_response(refusal, _lang(request))
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), _lang(request))


async def login(request: Request) -> Response:
    node = _node(request)
    lang = _lang(request)
    try:
        body = await read_json(request, LoginIn)
        user = await get_user(node.pool, body.user)
        if not await take_challenge(node.pool, body.nonce, body.user):
            raise Refusal("challenge_expired")
        # An unknown user is answered as a wrong signature, after the same work: a
        # verification against a key nobody holds.
        key = _DUMMY_KEY
        if user is not None:
            with contextlib.suppress(KeyFormatError):
                key = VerifyKey.from_string(user.signing_key)
        signed = key.verify(login_signing_bytes(user=body.user, nonce=body.nonce), body.sig)
        if user is None or not signed or key is _DUMMY_KEY:
            raise Refusal("bad_signature")
    except Refusal as refusal:
        node.metrics.anonymous_garbage.inc()
        return error_response(refusal, lang)
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), lang)
    token, expires = node.tokens.issue(user.id)
    return JSONResponse(
        {"token": token, "expires_at": expires, "user": user.id, "name": user.name, "org": user.org}
    )


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise Refusal("unauthenticated")
    return header[7:]


async def authenticated_user(request: Request) -> User:
    """The user of the request's token: valid, not expired, not revoked."""
    node = _node(request)
    try:
        found = await authenticate(node.pool, node.tokens, _bearer(request))
    except TokenError:
        raise Refusal("unauthenticated") from None
    if found is None:
        raise Refusal("unauthenticated")
    return found.user


async def logout(request: Request) -> Response:
    """Revoke the request's token on every node: refused from now on wherever it is shown,
    and every socket opened with it is closed with 4001."""
    node = _node(request)
    lang = _lang(request)
    try:
        tid = await revoke(node.pool, node.tokens, _bearer(request))
    except TokenError:
        return error_response(Refusal("unauthenticated"), lang)
    except Refusal as refusal:
        return error_response(refusal, lang)
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), lang)
    node.hub.close_revoked({tid})
    try:  # the other nodes; one that misses this finds the revocation in PostgreSQL
        await node.broker.publish(REVOKED_CHANNEL, tid.encode())
    except Exception as exc:
        log.warning("revocation_not_published", error=repr(exc))
    return JSONResponse({"revoked": True})


async def me(request: Request) -> Response:
    """``GET /api/me``: who the token's user is and which roles it holds where (read-only), so
    that a page shows only the tabs of the roles its user holds. Each scope's parent tender is
    named too (a session or bid stream belongs to one)."""
    node = _node(request)
    try:
        user = await authenticated_user(request)
    except Refusal as refusal:
        return error_response(refusal, _lang(request))
    roles = await roles_of(node.pool, user.id)
    return JSONResponse(
        {
            "user": user.id,
            "name": user.name,
            "org": user.org,
            "platform": sorted({r["role"] for r in roles if r["scope"] == "platform"}),
            "roles": roles,
        }
    )


async def command(request: Request) -> Response:
    node = _node(request)
    lang = _lang(request)
    ref = None
    try:
        user = await authenticated_user(request)
        body = await read_json(request, CommandIn)
        ref = body.id
        ack = await node.pipeline.execute(
            user, body.id, body.stream, body.type, body.body, body.sig
        )
        return JSONResponse(ack)
    except Refusal as refusal:
        return error_response(refusal, lang, ref)
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), lang, ref)
