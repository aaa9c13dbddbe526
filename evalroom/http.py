"""HTTP routes: health, metrics, login, and commands for clients that do not hold a socket."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crypto.events import login_signing_bytes
from crypto.keys import KeyFormatError, SigningKey, VerifyKey
from evalroom.auth.revocation import REVOKED_CHANNEL, authenticate, revoke
from evalroom.auth.tokens import TokenError
from evalroom.db.identity import User, get_user, put_challenge, take_challenge
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


async def read_json(request: Request, model: type[_In]) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Refusal("too_large", f"limit {MAX_BODY} bytes")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err.get("type") == "json_invalid":
            raise Refusal("malformed", err.get("msg", "")) from None
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise Refusal("invalid", f"{where}: {err.get('msg', '')}") from None


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
