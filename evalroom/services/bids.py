"""A bidder company's own stream, ``bid:<tender id>.<opaque>``: its name, the routing of a
bidder's tender commands into it, the tender's bidding gate, and the commitment at opening.

The name. The opaque part is the first 20 hex digits of HMAC-SHA256, under a key derived from
the platform's secret, of (tender, company): one company always has the same stream in a
tender (joining twice finds it, its refusals find it), and nobody without the secret can name
another company's stream or tell a real one from a made-up one.

The routing. Participants address ``tender.join``, ``bid.submit`` and ``bid.withdraw`` to the
tender, as before; the pipeline runs them in the sender's own stream, and the ack names that
stream and its seq. The tender's stream does not move.

The gate. Every command of a bid stream first takes the tender's gate (a transaction-scoped
PostgreSQL advisory lock on the tender's name) shared, then reads the tender's state;
``opening.start`` takes it exclusive before it locks the tender, then reads every bid stream.
Under READ COMMITTED each statement sees what had committed when it began, so a bid command
either committed before the opening held the gate (the opening reads it and commits to it), or
it reads the tender after the opening committed and is refused (``deadline_passed``), whatever
its ``now()``. Bidders hold the gate shared and never wait for each other; the tender's own
commands do not take it, so the agency never waits for a bidder either.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import Field

from evalroom.db import Conn, Executor
from evalroom.db import events as store
from evalroom.db.identity import RoleGrant, User, secret, stream_grants
from evalroom.domain import bids
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.errors import Refusal
from evalroom.services import opening as opening_service
from evalroom.services.spec import Body, CommandSpec, ServiceContext, specs_from

Id = Field(min_length=1, max_length=40)


class Submit(Body):
    section: str = Id
    envelope: str = Id
    upload: str = Field(min_length=1, max_length=64)


class SectionBody(Body):
    section: str = Id


async def stream_name(conn: Executor, tender: str, org: str) -> str:
    """``bid:<tender id>.<opaque>``: the stream of company ``org`` in ``tender``."""
    key = hashlib.sha256(b"evalroom/bid-stream\0" + await secret(conn, "platform_ed25519"))
    mac = hmac.new(key.digest(), f"{tender}\0{org}".encode(), hashlib.sha256).hexdigest()
    return f"bid:{tender.removeprefix('tender:')}.{mac[:20]}"


async def own_stream(conn: Executor, tender: str, org: str | None) -> str | None:
    """The company's stream in ``tender`` if it has joined, else None."""
    if not org:
        return None
    name = await stream_name(conn, tender, org)
    return name if await store.stream_info(conn, name) is not None else None


async def route_join(ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]) -> str:
    if not user.org:  # no stream to run in: refused here, in the decider's order
        tender = await store.stream_state(ctx.pool, stream)
        if tender is None:
            raise RuleError("unknown_stream", stream)
        if tender.get("phase") != "bidding":
            raise RuleError(
                "wrong_phase", f"allowed in bidding; the tender is {tender.get('phase')}"
            )
        raise RuleError("not_a_company", "only a participant of a bidder company can join")
    return await stream_name(ctx.pool, stream, user.org)


async def route_own(ctx: ServiceContext, user: User, stream: str, body: dict[str, Any]) -> str:
    own = await own_stream(ctx.pool, stream, user.org)
    if own is None:
        raise RuleError("not_a_bidder", "your company has not joined this tender")
    return own


async def gather_tender(
    ctx: ServiceContext, conn: Conn, tender: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The tender's state, read under the gate (shared)."""
    return {"tender": await store.stream_state(conn, tender) or {}, "tender_stream": tender}


SPECS: list[CommandSpec] = specs_from(
    bids.DECIDERS,
    bids.COMMAND_ROLES,
    "tender",
    {"bid.submit": Submit, "bid.withdraw": SectionBody},
    creates_stream={"tender.join": True},
    creates_kind={"tender.join": "bid"},
    route={"tender.join": route_join, "bid.submit": route_own, "bid.withdraw": route_own},
    gate={"tender.join": "shared", "bid.submit": "shared", "bid.withdraw": "shared"},
    gather={
        "tender.join": gather_tender,
        "bid.submit": gather_tender,
        "bid.withdraw": gather_tender,
    },
    # Joining grants the bidder role: separation of duties checks it against the tender's
    # roster (a company already holding another role there is refused).
    grants_to={"tender.join": lambda body: []},
    prepare={"bid.submit": opening_service.prepare_submit},
    finish={"bid.submit": opening_service.receipt, "bid.withdraw": opening_service.receipt},
)


async def visible_grants(
    conn: Executor, user_id: str, stream: str
) -> tuple[str | None, list[RoleGrant]]:
    """The grants that let ``user_id`` read ``stream`` (subscribe, checkpoints, proofs), with
    its parent. A bid stream is read by its own company (roles held in the stream itself) and
    the tender's supervisors only; to anyone else it answers exactly as a name that does not
    exist (``unknown_stream``), so probing tells nothing. A tender's ``signals:`` stream (red
    flags) is read by the tender's supervisors only, answering anyone else the same way.
    ``platform`` is read by admins and supervisors only."""
    found = await stream_grants(conn, user_id, stream)
    if found is None:
        raise Refusal("unknown_stream", stream)
    kind, parent, grants = found
    if kind == "platform":
        # Refusals of participants holding no role anywhere land here (would-be bidders
        # among them): only admins and supervisors follow it or its tree sizes.
        grants = [g for g in grants if g.role in (Role.ADMIN, Role.SUPERVISOR)]
    elif kind == "bid":
        grants = [g for g in grants if g.scope == stream or g.role == Role.SUPERVISOR]
        if not grants:
            raise Refusal("unknown_stream", stream)
    elif kind == "signals":
        # red flags: live signals. The tender's supervisors only; to anyone else the stream
        # answers as a made-up name, so its existence and size tell nothing.
        grants = [g for g in grants if g.role == Role.SUPERVISOR]
        if not grants:
            raise Refusal("unknown_stream", stream)
    return parent, grants
