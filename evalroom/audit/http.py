"""``/api/log``: checkpoints and proofs of each stream's Merkle log, over HTTP.

Checkpoints and proofs reveal hashes and sizes only, never an event, so any authenticated
participant (Bearer token from ``/auth/login``) holding a role in the stream, or in a
session's parent tender, may read them. A bidder company's own stream (``bid:…``) is the
exception: its sizes would count bids, so only that company and the tender's supervisors read
its checkpoints and proofs, and to anyone else it answers as a name that does not exist. Hashes are standard base64, proofs are RFC 9162
paths lowest level first, and ``seq`` N is leaf index N-1.

- ``GET /api/log/keys`` (no login: public keys only): the log's verifier key, the origin
  prefix and the platform key.
- ``GET /api/log/{stream}/checkpoint``: the latest signed checkpoint.
- ``GET /api/log/{stream}/checkpoints?after=SIZE&limit=N``: stored checkpoints, smallest first.
- ``GET /api/log/{stream}/proof/inclusion?seq=N&size=M``: event N in the tree of M events
  (M defaults to the latest checkpoint's size).
- ``GET /api/log/{stream}/proof/consistency?from=A&to=B``: tree of A events to tree of B
  (B defaults to the latest checkpoint's size).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evalroom.audit import Audit, NotCommitted, StoredCheckpoint
from evalroom.audit.checkpoints import b64
from evalroom.bounds import MAX_SAFE_INTEGER
from evalroom.errors import Refusal
from evalroom.http import STATUS, authenticated_user
from evalroom.node import Node
from evalroom.services.bids import visible_grants
from evalroom.services.pipeline import STORE_DOWN, validate_stream

MAX_LISTING = 1000
_STATUS = {**STATUS, "no_checkpoint": 404}

Handler = Callable[[Request], Awaitable[Response]]


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _audit(request: Request) -> Audit:
    audit = _node(request).extras.get("audit")
    if not isinstance(audit, Audit):
        raise Refusal("internal", "the audit log is not running on this node")
    return audit


def _lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh-CN"


def _refused(request: Request, refusal: Refusal) -> JSONResponse:
    return JSONResponse(
        refusal.to_message(_lang(request)), status_code=_STATUS.get(refusal.code, 422)
    )


def _guarded(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Refusal as refusal:
            return _refused(request, refusal)
        except NotCommitted as exc:
            return _refused(request, Refusal("invalid", str(exc)))
        except STORE_DOWN:
            return _refused(request, Refusal("store_unavailable"))

    return run


def _int_param(request: Request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise Refusal("invalid", f"query parameter {name} is required")
        return default
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 16 or int(raw) > MAX_SAFE_INTEGER:
        raise Refusal("invalid", f"{name} must be an integer from 0 to {MAX_SAFE_INTEGER}")
    return int(raw)


async def _readable_stream(request: Request) -> str:
    """The path's stream, after checking the caller holds a role in it (or its parent)."""
    node = _node(request)
    user = await authenticated_user(request)
    stream = str(request.path_params["stream"])
    validate_stream(stream)
    _parent, grants = await visible_grants(node.pool, user.id, stream)
    if not grants:
        raise Refusal("not_subscribed_role", f"you hold no role in {stream}")
    return stream


async def _latest(audit: Audit, stream: str) -> StoredCheckpoint:
    latest = await audit.checkpoints.latest(stream)
    if latest is None:
        raise Refusal("no_checkpoint", f"{stream} has no signed checkpoint yet")
    return latest


@_guarded
async def keys(request: Request) -> Response:
    node, audit = _node(request), _audit(request)
    return JSONResponse(
        {
            "log": {
                "key_name": audit.checkpoints.key_name,
                "verifier_key": audit.verifier_key,
                "origin_prefix": audit.checkpoints.origin_prefix,
            },
            "platform_key": node.pipeline.context.platform_key.public.to_string(),
        }
    )


@_guarded
async def checkpoint(request: Request) -> Response:
    stream = await _readable_stream(request)
    return JSONResponse((await _latest(_audit(request), stream)).to_json())


@_guarded
async def checkpoints(request: Request) -> Response:
    stream = await _readable_stream(request)
    after = _int_param(request, "after", 0)
    limit = min(_int_param(request, "limit", MAX_LISTING), MAX_LISTING)
    found = await _audit(request).checkpoints.listing(stream, after=after, limit=limit)
    return JSONResponse({"stream": stream, "checkpoints": [c.to_json() for c in found]})


@_guarded
async def inclusion(request: Request) -> Response:
    stream = await _readable_stream(request)
    audit = _audit(request)
    seq = _int_param(request, "seq")
    raw_size = request.query_params.get("size")
    size = (await _latest(audit, stream)).size if raw_size is None else _int_param(request, "size")
    if not 1 <= seq <= size:
        raise Refusal("invalid", f"need 1 <= seq <= size, got seq={seq} size={size}")
    leaf, proof = await audit.logs.inclusion_proof(stream, seq, size)
    stored = await audit.checkpoints.at(stream, size)
    return JSONResponse(
        {
            "stream": stream,
            "seq": seq,
            "size": size,
            "leaf_hash": b64(leaf),
            "proof": [b64(p) for p in proof],
            "root": b64(await audit.logs.root(stream, size)),
            "checkpoint": stored.note if stored else None,
        }
    )


@_guarded
async def consistency(request: Request) -> Response:
    stream = await _readable_stream(request)
    audit = _audit(request)
    first = _int_param(request, "from")
    raw_to = request.query_params.get("to")
    second = (await _latest(audit, stream)).size if raw_to is None else _int_param(request, "to")
    if not 1 <= first <= second:
        raise Refusal("invalid", f"need 1 <= from <= to, got from={first} to={second}")
    proof = await audit.logs.consistency_proof(stream, first, second)
    return JSONResponse(
        {
            "stream": stream,
            "from": first,
            "to": second,
            "proof": [b64(p) for p in proof],
            "from_root": b64(await audit.logs.root(stream, first)),
            "to_root": b64(await audit.logs.root(stream, second)),
        }
    )


ROUTES = [
    Route("/api/log/keys", keys),
    Route("/api/log/{stream}/checkpoint", checkpoint),
    Route("/api/log/{stream}/checkpoints", checkpoints),
    Route("/api/log/{stream}/proof/inclusion", inclusion),
    Route("/api/log/{stream}/proof/consistency", consistency),
]
