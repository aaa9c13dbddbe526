"""HTTP for sealed bids: streaming uploads into PostgreSQL, and opened packages afterwards.

``PUT /api/tenders/{tender}/bids/{section}/{envelope}`` with a bearer token and the age file
as the body. The bytes stream into chunks (bounded memory); the header must be a well-formed
age header with at least two X25519 recipients (the bid's own key and the tender's opening
key); then ``bid.submit`` runs through the command pipeline and the answer is its ack with
a receipt signed by the platform key. A late or early upload is refused before any byte is
stored, and recorded.
"""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from crypto import age
from evalroom.db import blobs
from evalroom.db import events as store
from evalroom.db.commands import command_result
from evalroom.db.identity import User, roles_in_tree
from evalroom.domain import bids
from evalroom.domain.rules import RuleError
from evalroom.domain.tender_config import TenderConfig
from evalroom.errors import Refusal
from evalroom.http import _lang, authenticated_user, error_response, path_id
from evalroom.node import Node
from evalroom.services.pipeline import STORE_DOWN

log = structlog.get_logger(__name__)

HEADER_PEEK = (1 << 20) + 1
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a command id, as on ``/ws``


async def _precheck(node: Node, stream: str) -> TenderConfig:
    """The tender's rules if it takes bids now: the decider's own rule, asked before any byte
    is stored (``bid.submit`` asks it again under the gate)."""
    found = await store.stream_state_now(node.pool, stream)
    if found is None:
        raise Refusal("unknown_stream", stream)
    state, now = found
    try:
        return bids.open_for_bids(state, now)
    except RuleError as exc:
        raise Refusal(exc.code, exc.message, exc.field) from None


async def upload_bid(request: Request) -> Response:
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        user = await authenticated_user(request)
    except Refusal as refusal:
        node.metrics.anonymous_garbage.inc()
        return error_response(refusal, lang)
    try:
        stream = f"tender:{path_id(request, 'tender')}"
        section, envelope = path_id(request, "section"), path_id(request, "envelope")
        client_id = request.headers.get("idempotency-key") or "upload-" + secrets.token_hex(8)
        if not _CLIENT_ID.fullmatch(client_id):
            raise Refusal("invalid", "Idempotency-Key is 1-64 letters, digits, . _ : -")
    except Refusal as refusal:
        return error_response(refusal, lang)
    try:
        prior = await _first_answer(node, user, client_id)
        if prior is not None:
            return JSONResponse(prior)
        limit = (await _precheck(node, stream)).max_bid_bytes
        upload_id = await _receive(node, request, stream, user, limit)
    except Refusal as refusal:
        await node.pipeline.refuse(user, client_id, stream, "bid.submit", refusal)
        return error_response(refusal, lang, client_id)
    except STORE_DOWN:
        return error_response(Refusal("store_unavailable"), lang, client_id)
    try:
        ack = await node.pipeline.execute(
            user,
            client_id,
            stream,
            "bid.submit",
            {"section": section, "envelope": envelope, "upload": upload_id},
            None,
        )
    except Refusal as refusal:
        if refusal.code != "outcome_unknown":  # it may have committed: keep its bytes
            try:
                await blobs.drop_upload(node.pool, upload_id)
            except Exception as exc:  # the refusal stands; the bytes stay, unreferenced
                log.warning("upload_not_dropped", upload=upload_id, error=repr(exc))
        return error_response(refusal, lang, client_id)
    return JSONResponse(ack)


async def _first_answer(node: Node, user: User, client_id: str) -> dict[str, Any] | None:
    """An upload sent again with its ``Idempotency-Key`` after it committed (its answer was
    lost, or was ``outcome_unknown``): the first ack, without reading the bytes again (they
    would make a new upload, so the command would no longer be the same)."""
    ack = await command_result(node.pool, user.id, client_id)
    if ack is None:
        return None
    if "receipt" not in ack.get("reply", {}):
        raise Refusal("id_reused", f"id {client_id!r} was used for another command")
    return ack


async def _receive(node: Node, request: Request, stream: str, user: User, limit: int) -> str:
    upload_id = await blobs.new_upload(node.pool, stream, user.id, "cipher")
    writer = blobs.ChunkWriter(node.pool, upload_id)
    head = bytearray()
    checked = False
    try:
        async for data in request.stream():
            if writer.size + len(data) > limit:
                raise Refusal("too_large", f"a bid envelope may be at most {limit} bytes")
            if not checked:
                head += data
                if len(head) >= HEADER_PEEK:
                    _check_header(bytes(head))
                    checked = True
            await writer.write(data)
        if not checked:
            _check_header(bytes(head))
        await writer.close()
    except ClientDisconnect:
        await blobs.drop_upload(node.pool, upload_id)
        raise Refusal("invalid", "the upload was cut off") from None
    except Refusal:
        await blobs.drop_upload(node.pool, upload_id)
        raise
    return upload_id


def _check_header(head: bytes) -> None:
    try:
        header = age.inspect_header(io.BytesIO(head))
    except age.AgeError as exc:
        raise Refusal("invalid_envelope", str(exc)) from None
    if header.x25519_count < 2:
        raise Refusal("invalid_envelope", "seal to your bid key and the tender's opening key")


async def download_plain(request: Request) -> Response:
    """``GET /api/tenders/{tender}/opened/{number}``: an opened bid package, for the roles
    that may read bids (supervisors, and the evaluation committee), after its opening."""
    node: Node = request.app.state.node
    lang = _lang(request)
    try:
        user = await authenticated_user(request)
        stream = f"tender:{path_id(request, 'tender')}"
        number = path_id(request, "number")
        state = await store.stream_state(node.pool, stream)
        if state is None:
            raise Refusal("unknown_stream", stream)
        upload_id = _opened_upload(state, number)
        if not await _may_read_bids(node, user, stream):
            raise await node.pipeline.refuse(
                user, "read-" + number, stream, "bid.read", Refusal("forbidden", "reading bids")
            )
    except Refusal as refusal:
        return error_response(refusal, lang)

    async def body() -> Any:
        async for chunk in blobs.chunks(node.pool, upload_id):
            yield chunk

    headers = {"content-disposition": f'attachment; filename="{number}.zip"'}
    return StreamingResponse(body(), media_type="application/zip", headers=headers)


def _opened_upload(state: dict[str, Any], number: str) -> str:
    for name, stage in state.get("opening", {}).items():
        if name == "stage" or not isinstance(stage, dict):
            continue
        bid = stage.get("bids", {}).get(number)
        if bid is not None and bid.get("status") == "decrypted":
            return str(bid["plain"])
    raise Refusal("unknown_bid", number)


async def _may_read_bids(node: Node, user: User, stream: str) -> bool:
    roles = await roles_in_tree(node.pool, user.id, stream)
    return bool(roles & {"supervisor", "expert", "chair"})
