"""Bids and the opening ceremony: schemas, and the impure steps around the pure deciders —
looking up an upload, decrypting with a released key or the committee's reconstructed key,
storing the opened package, and signing receipts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
from collections.abc import Sequence
from typing import IO, Annotated, Any

from pydantic import Field, field_validator

from crypto import age
from crypto.bidpackage import PackageError, read_form
from crypto.events import event_leaf_hash
from crypto.merkle import MerkleLog
from crypto.shamir import ShareError, combine_shares, inspect_share
from evalroom.db import Conn, blobs
from evalroom.db import events as store
from evalroom.db.events import StoredEvent
from evalroom.db.identity import User
from evalroom.db.opening import (
    forget_opening_shares,
    opening_shares_for_stage,
    store_opening_share,
)
from evalroom.domain import opening
from evalroom.domain.bidform import validate_form
from evalroom.domain.commands import Decision
from evalroom.domain.rules import RuleError
from evalroom.domain.tender_config import TenderConfig
from evalroom.errors import Refusal
from evalroom.services.spec import Body, CommandSpec, Empty, ServiceContext, specs_from

Id = Field(min_length=1, max_length=40)


class Configure(Body):
    config: dict[str, Any]


class SectionBody(Body):
    section: str = Id


class ReleaseKey(Body):
    section: str = Id
    identity: str = Field(min_length=20, max_length=100)

    @field_validator("identity")
    @classmethod
    def _an_identity(cls, identity: str) -> str:
        """Checked with the body, before the release is announced to the ceremony."""
        try:
            age.to_recipient(identity)
        except age.AgeError:
            raise Refusal(
                "invalid_key", "the key is not an age identity (AGE-SECRET-KEY-1…)"
            ) from None  # a Refusal, which pydantic lets through
        return identity


class ShareBody(Body):
    share: str = Field(min_length=20, max_length=300)


class ObjectBody(Body):
    text: str = Field(min_length=1, max_length=2000)


class AnswerBody(Body):
    objection: str = Field(min_length=1, max_length=16)
    text: str = Field(min_length=1, max_length=2000)


class StartCommercial(Body):
    passed: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(max_length=500)


async def tender_state(ctx: ServiceContext, stream: str) -> dict[str, Any]:
    state = await store.stream_state(ctx.pool, stream)
    if state is None:
        raise RuleError("unknown_stream", stream)
    return state


# -- bidding -------------------------------------------------------------------------------


async def prepare_submit(
    ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    upload = await blobs.get_upload(ctx.pool, body["upload"])
    if upload is None or upload.uploader != user.id or upload.tender != stream:
        raise RuleError("not_yours", "no such upload of yours for this tender")
    if not upload.complete or upload.kind != "cipher":
        raise RuleError("invalid", "the upload is not a complete sealed envelope")
    return {"sha256": upload.sha256, "size": upload.size}


async def receipt(
    ctx: ServiceContext, conn: Conn, decision: Decision, stored: Sequence[StoredEvent]
) -> dict[str, Any]:
    """A receipt signed by the platform key (回执), over the event that recorded the bid."""
    event = stored[0]
    body = {
        "kind": event.type,
        "stream": event.stream,
        "seq": event.seq,
        "at": event.at,
        # The event's leaf hash lets the bidder check inclusion later without seeing it.
        "leaf_hash": base64.b64encode(event_leaf_hash(event.record())).decode(),
        **{k: v for k, v in event.payload.items() if k != "command"},
    }
    return {
        "receipt": body,
        "sig": ctx.platform_key.sign_json(body),
        "platform_key": ctx.platform_key.public.to_string(),
    }


async def gather_bid_streams(
    ctx: ServiceContext, conn: Conn, tender: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Every bid stream of the tender with its size and Merkle root, read under the gate
    (exclusive): what the opening commits to."""
    found = []
    for child in await store.child_streams(conn, tender, "bid"):
        tree = MerkleLog.from_leaf_hashes(child.leaves)
        found.append(
            {
                "stream": child.name,
                "size": tree.size,
                "root": base64.b64encode(tree.root(tree.size)).decode(),
                "state": child.state,
            }
        )
    return {"bid_streams": found}


# -- opening an envelope -------------------------------------------------------------------


def _bid_in_stage(state: dict[str, Any], org: str, section: str) -> tuple[str, str, dict[str, Any]]:
    stage_name = state.get("opening", {}).get("stage")
    if not stage_name:
        raise RuleError("wrong_phase", "the opening has not started")
    for number, bid in state["opening"][stage_name]["bids"].items():
        if bid["org"] == org and bid["section"] == section:
            return stage_name, number, bid
    raise RuleError("no_bid", f"your company has no bid being opened in section {section}")


async def open_envelope(
    ctx: ServiceContext,
    tender: str,
    bid: dict[str, Any],
    identity: str,
    config: TenderConfig,
    stage: str,
) -> dict[str, Any]:
    """Decrypt one stored envelope; return the outcome the decider records.

    Bounded memory: ciphertext and plaintext go through temporary files in chunks."""
    with tempfile.TemporaryFile() as sealed, tempfile.TemporaryFile() as plain:
        digest = hashlib.sha256()
        async for chunk in blobs.chunks(ctx.pool, bid["upload"]):
            digest.update(chunk)
            sealed.write(chunk)
        if digest.hexdigest() != bid["sha256"]:
            # The stored ciphertext is not what the receipt says: the platform's fault.
            return {"ok": False, "reason": "ciphertext_tampered"}
        sealed.seek(0)
        try:
            await asyncio.to_thread(age.decrypt, sealed, plain, [identity])
        except age.NoIdentityMatch:
            return {"ok": False, "reason": "wrong_key"}
        except age.AgeError as exc:
            return {"ok": False, "reason": f"corrupt_envelope:{exc.code}"}
        plain.seek(0)
        try:
            form_value, _attachments = await asyncio.to_thread(read_form, plain)
            form = validate_form(config.forms[stage], form_value)
        except PackageError as exc:
            return {"ok": False, "reason": f"invalid_package: {exc}"}
        except RuleError as exc:
            return {"ok": False, "reason": f"invalid_form: {exc.message}"}
        plain.seek(0)
        upload_id = await blobs.new_upload(ctx.pool, tender, "platform", "plain")
        writer = blobs.ChunkWriter(ctx.pool, upload_id)
        await _copy_file(plain, writer)
        plain_digest = await writer.close()
    return {"ok": True, "form": form, "plain": upload_id, "plain_sha256": plain_digest.hex()}


async def _copy_file(src: IO[bytes], writer: blobs.ChunkWriter) -> None:
    while True:
        data = src.read(blobs.CHUNK)
        if not data:
            return
        await writer.write(data)


class FloatingCommit(Body):
    section: str = Field(min_length=1, max_length=32)
    commitment: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class FloatingDraw(Body):
    section: str = Field(min_length=1, max_length=32)
    seed: str = Field(min_length=32, max_length=256, pattern=r"^[0-9a-f]+$")


async def prepare_release(
    ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    state = await tender_state(ctx, stream)
    if state.get("phase") != "opening" or not user.org:
        raise RuleError("wrong_phase", "keys are released during the opening")
    stage, _number, bid = _bid_in_stage(state, user.org, body["section"])
    return await open_envelope(ctx, stream, bid, body["identity"], opening.config_of(state), stage)


async def prepare_share(
    ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Keep the share; once k are in, rebuild the opening identity and open the rest."""
    state = await tender_state(ctx, stream)
    stage_name = state.get("opening", {}).get("stage")
    stage = state.get("opening", {}).get(stage_name or "", {})
    if state.get("phase") != "opening" or not stage.get("fallback"):
        if state.get("phase") == "opening" and stage.get("shares"):
            try:  # handed in with the share that completed the set: recorded, no effect
                return {"index": inspect_share(body["share"]).index, "combined": False}
            except ShareError as exc:
                raise RuleError("invalid_share", str(exc)) from None
        raise RuleError("wrong_phase", "no bid awaits the committee fallback")
    config = opening.config_of(state)
    try:
        info = inspect_share(body["share"])
    except ShareError as exc:
        raise RuleError("invalid_share", str(exc)) from None
    await store_opening_share(ctx.pool, stream, stage_name, user.id, body["share"])
    shares = await opening_shares_for_stage(ctx.pool, stream, stage_name)
    if len(shares) < info.k:
        return {"index": info.index, "combined": False}
    try:
        identity = age.identity_from_secret(combine_shares(shares))
    except ShareError as exc:
        raise RuleError("invalid_share", str(exc)) from None
    if age.to_recipient(identity) != config.opening_recipient:
        await forget_opening_shares(ctx.pool, stream, stage_name)
        raise RuleError("shares_do_not_match", "the shares do not rebuild the tender's opening key")
    results = {}
    for number in stage["fallback"]:
        results[number] = await open_envelope(
            ctx, stream, stage["bids"][number], identity, config, str(stage_name)
        )
    # The server keeps no shares once they have served.
    await forget_opening_shares(ctx.pool, stream, stage_name)
    return {"index": info.index, "combined": True, "results": results}


def announce_decrypting(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A release is announced as ``bid.decrypting`` of its section (never with the key)."""
    return "bid.decrypting", {"section": body["section"]}


def keyholders_named(body: dict[str, Any]) -> list[str]:
    """The keyholders a tender's rules name (开标密钥保管人), as far as they are text."""
    config = body.get("config")
    named = config.get("keyholders") if isinstance(config, dict) else None
    return [u for u in named if isinstance(u, str)][:64] if isinstance(named, list) else []


SPECS: list[CommandSpec] = specs_from(
    opening.DECIDERS,
    opening.COMMAND_ROLES,
    "tender",
    {
        "tender.configure": Configure,
        "opening.sign_in": Empty,
        "bid.decrypting": SectionBody,
        "bid.release_key": ReleaseKey,
        "opening.share": ShareBody,
        "opening.object": ObjectBody,
        "opening.answer": AnswerBody,
        "opening.start_commercial": StartCommercial,
        # method rules: the floating point drawn at the opening
        "opening.commit_floating_point": FloatingCommit,
        "opening.draw_floating_point": FloatingDraw,
    },
    signed={name: True for name in opening.SIGNED},
    # Everyone in the ceremony sees "decrypting" before the (possibly long) decryption.
    announce={"bid.release_key": announce_decrypting},
    prepare={
        "bid.release_key": prepare_release,
        "opening.share": prepare_share,
    },
    grants_to={"tender.configure": keyholders_named},
    # The opening takes every bidder's own stream over, behind the tender's bidding gate.
    gate={"opening.start": "exclusive"},
    gather={"opening.start": gather_bid_streams},
)
