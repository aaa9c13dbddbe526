"""The command pipeline: validate -> authorize -> lock -> decide -> commit -> publish -> ack.

Nothing is acked before it is committed. A retried command (same actor, same client id)
returns the first ack and writes nothing. A refusal changes nothing; an authenticated
participant's refusal is kept as an attempt (``command.refused``), rate-limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import structlog
from pydantic import ValidationError

from crypto.canonical import canonical_json
from crypto.events import command_signing_bytes
from crypto.keys import KeyFormatError, VerifyKey
from evalroom.db import Conn, Pool, PooledConn
from evalroom.db import events as store
from evalroom.db.commands import prior_command
from evalroom.db.errors import BAD_DATA, ForeignKeyViolation, UniqueViolation

# The store's failure classes live in ``evalroom.db.errors``; the adapters catch them here.
from evalroom.db.errors import NOT_STORE_DOWN as NOT_STORE_DOWN
from evalroom.db.errors import STORE_DOWN as STORE_DOWN
from evalroom.db.errors import ClientDataError as ClientDataError
from evalroom.db.errors import answered_by_server as answered_by_server
from evalroom.db.errors import store_down as store_down
from evalroom.db.identity import User, grant_role, roles_in, tender_roster
from evalroom.domain.commands import Actor, Command, Decision
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.errors import Refusal, is_recorded
from evalroom.metrics import Metrics
from evalroom.services import bids
from evalroom.services.groupcommit import DEFERRED, Deferred, GroupCommit
from evalroom.services.registry import REGISTRY
from evalroom.services.spec import CommandSpec, ServiceContext

log = structlog.get_logger(__name__)

SYSTEM_USER = "system"
_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# ``bid:<tender id>.<opaque>``: one bidder company's own stream in a tender (services.bids).
STREAM_NAME = re.compile(rf"^(platform|(tender|session):{_ID}|bid:{_ID}\.[0-9a-f]{{20}})$")


class OutcomeUnknown(Exception):
    """COMMIT was sent and no answer came back: the command may or may not have committed."""


class Publisher(Protocol):
    """Hands committed events to the hub. ``roles_changed``: the command granted roles (its
    decision's ``grants``), so who may see what in the events' stream has changed."""

    def __call__(
        self, events: Sequence[store.StoredEvent], *, roles_changed: bool = False
    ) -> Awaitable[None]: ...


def validate_stream(name: str) -> None:
    if not STREAM_NAME.match(name):
        raise Refusal(
            "invalid",
            f"stream name {name!r} is not platform, tender:<id>, session:<id> or bid:<id>.<id>",
        )


Admit = Callable[[str, int, float], Awaitable[bool]]


class RefusalLimiter:
    """At most ``per_minute`` recorded refusals per participant in any 60 seconds; the rest
    are only counted in the metrics.

    ``admit`` is the broker's sliding-window limit: through Redis every node shares it, so the
    limit holds for the whole deployment. While it fails, this node's own window applies.
    """

    def __init__(self, per_minute: int, admit: Admit | None = None) -> None:
        self.per_minute = per_minute
        self._admit = admit
        self._local: dict[str, deque[float]] = {}

    async def allow(self, user_id: str) -> bool:
        if self._admit is not None:
            try:
                return await asyncio.wait_for(
                    self._admit(f"refusals:{user_id}", self.per_minute, 60.0), 1.0
                )
            except Exception as exc:
                log.warning("refusal_limit_unavailable", error=repr(exc))
        now = time.monotonic()
        if len(self._local) > 10_000:  # forget participants quiet for a minute
            self._local = {u: q for u, q in self._local.items() if q and q[-1] > now - 60.0}
        times = self._local.setdefault(user_id, deque())
        while times and times[0] <= now - 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True


@dataclass(frozen=True)
class Batched:
    """A validated command waiting for its stream's next transaction (``groupcommit``)."""

    spec: CommandSpec
    user: User
    client_id: str
    body: dict[str, Any]
    sig: str | None
    digest: bytes


# A batched command's outcome: its ack, the exception it is answered with, or deferred.
Outcome = dict[str, Any] | BaseException | Deferred
T = TypeVar("T")


class CommandPipeline:
    def __init__(
        self,
        pool: Pool,
        publish: Publisher,
        metrics: Metrics,
        limiter: RefusalLimiter,
        context: ServiceContext,
    ) -> None:
        self.pool = pool
        self.context = context
        self.publish = publish
        self.metrics = metrics
        self.limiter = limiter
        # Batchable commands of one stream share transactions (``services.groupcommit``).
        self.group: GroupCommit[Batched, dict[str, Any]] = GroupCommit(self._run_batch)

    async def execute(
        self, user: User, client_id: str, stream: str, type_: str, body: Any, sig: str | None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            ack, events, roles_changed = await self._execute(
                user, client_id, stream, type_, body, sig
            )
        except Refusal as refusal:
            self.metrics.commands.labels("refused").inc()
            self.metrics.refusals.labels(refusal.code).inc()
            if is_recorded(refusal.code):
                await self._record_refusal(user, client_id, stream, type_, refusal)
            raise
        self.metrics.commands.labels("ok").inc()
        self.metrics.command_latency.observe(time.perf_counter() - started)
        await self._publish(stream, events, roles_changed)
        return ack

    async def _publish(
        self, stream: str, events: list[store.StoredEvent], roles_changed: bool
    ) -> None:
        if events:
            try:
                await self.publish(events, roles_changed=roles_changed)
            except Exception as exc:  # committed already: peers catch up from PostgreSQL
                log.warning("publish_failed", stream=stream, error=str(exc))

    async def _execute(
        self, user: User, client_id: str, stream: str, type_: str, raw_body: Any, sig: str | None
    ) -> tuple[dict[str, Any], list[store.StoredEvent], bool]:
        """The ack, the events committed, and whether the command granted roles."""
        spec = REGISTRY.get(type_)
        if spec is None:
            raise Refusal("unknown_type", f"no command {type_!r}")
        validate_stream(stream)
        if not stream.startswith(spec.stream_kind + ":"):
            raise Refusal("invalid", f"{type_} applies to a {spec.stream_kind} stream")
        try:
            body = spec.body.model_validate(raw_body).model_dump(
                mode="json", by_alias=True, exclude_unset=True
            )
        except ValidationError as exc:
            raise Refusal("invalid", _first_error(exc)) from None
        if spec.signed:
            _check_signature(user, client_id, stream, type_, body, sig)
        canonical = canonical_json({"s": stream, "t": type_, "b": body})
        digest = hashlib.sha256(canonical).digest()
        try:
            if spec.batchable:  # decided, written and published with its stream's batch
                item = Batched(spec, user, client_id, body, sig, digest)
                return await self.group.submit(stream, item, len(canonical)), [], False
            facts: dict[str, Any] = {}
            target = stream
            try:
                if spec.route is not None:  # a bidder's command runs in its own bid stream
                    target = await spec.route(self.context, user, stream, body)
                if spec.prepare is not None:
                    prior = await self._prior(user, client_id, digest)
                    if prior is not None:
                        return prior, [], False
                    await self._preauthorize(spec, user, target, body)
                    if spec.announce is not None:
                        await self._announce(spec, user, client_id, stream, body)
                    facts = await spec.prepare(self.context, user, stream, body)
            except RuleError as exc:
                raise Refusal(exc.code, exc.message, exc.field) from None
            return await self._transact(
                spec, user, client_id, (stream, target), body, sig, digest, facts
            )
        except OutcomeUnknown as exc:
            log.warning("commit_outcome_unknown", stream=stream, type=type_, error=repr(exc))
            raise Refusal("outcome_unknown", str(exc)) from None
        except UniqueViolation:
            # A concurrent retry of the same client id committed first: answer as a retry.
            answer = await self._retry_answer(user, client_id, digest)
            if answer is None:
                raise Refusal("id_reused") from None
            return answer, [], False
        except BAD_DATA as exc:
            raise Refusal("invalid", str(exc).splitlines()[0]) from None
        except Exception as exc:
            if store_down(exc):
                raise Refusal("store_unavailable", type(exc).__name__) from None
            raise

    async def _announce(
        self, spec: CommandSpec, user: User, client_id: str, stream: str, body: dict[str, Any]
    ) -> None:
        """Commit and publish the command's announcement, a command of its own, before its
        long ``prepare``. Its id is the command's with a suffix no client id can have (``/``),
        so a retry of the command finds the announcement's first ack; its decider says whether
        the status is due; its refusal (the bid opened meanwhile, the window closed) is the
        command's refusal, before any work is done."""
        assert spec.announce is not None
        type_, announced = spec.announce(body)
        _ack, events, roles_changed = await self._execute(
            user, f"{client_id}/{type_}", stream, type_, announced, None
        )
        self.metrics.commands.labels("ok").inc()
        await self._publish(stream, events, roles_changed)

    async def _retry_answer(
        self, user: User, client_id: str, digest: bytes
    ) -> dict[str, Any] | None:
        try:
            return await self._prior(user, client_id, digest)
        except Exception as exc:
            if store_down(exc):
                raise Refusal("store_unavailable", type(exc).__name__) from None
            raise

    async def _preauthorize(
        self, spec: CommandSpec, user: User, stream: str, body: dict[str, Any]
    ) -> None:
        """Check the role before impure preparation (it may store a secret or decrypt); the
        transaction checks it again under the stream lock."""
        if user.id == SYSTEM_USER:
            return
        if spec.roles_in_platform:
            scopes = ["platform"]
        elif spec.creates_stream and spec.parent_of is not None:
            scopes = [spec.parent_of(body)]
        else:
            info = await store.stream_info(self.pool, stream)
            if info is None:
                raise Refusal("unknown_stream", stream)
            scopes = [stream] + ([info[1]] if info[1] else [])
        grants = await roles_in(self.pool, user.id, scopes)
        actor = Actor(user.id, frozenset(g.role for g in grants), user.org)
        if spec.platform_roles:
            actor = replace(actor, platform_roles=await _platform_roles(self.pool, user))
        _authorize(spec, actor)

    async def _prior(self, user: User, client_id: str, digest: bytes) -> dict[str, Any] | None:
        """The first ack of a retried command; ``id_reused`` if the id meant something else."""
        prior = await prior_command(self.pool, user.id, client_id)
        if prior is None:
            return None
        prior_digest, result = prior
        if prior_digest != digest:
            raise _id_reused(client_id)
        return result

    async def _transact(
        self,
        spec: CommandSpec,
        user: User,
        client_id: str,
        streams: tuple[str, str],
        body: dict[str, Any],
        sig: str | None,
        digest: bytes,
        facts: dict[str, Any],
    ) -> tuple[dict[str, Any], list[store.StoredEvent], bool]:
        """Run the command in one transaction and commit it (``streams``: the one it was
        addressed to, and the one it runs in).

        Where a failure happens decides the answer: before COMMIT is sent, PostgreSQL rolls
        the transaction back whatever happens to the connection (a refusal, ``store_unavailable``
        or ``internal`` all mean nothing changed); once COMMIT is sent, a lost connection leaves
        the outcome unknown (``OutcomeUnknown``); after COMMIT is answered the ack stands, and
        nothing done in cleanup (rollback of a dead connection, release to the pool) can replace
        it: such failures are logged.
        """

        async def work(conn: PooledConn) -> tuple[tuple[dict[str, Any], list[Any], bool], bool]:
            return await self._decide_and_write(
                conn, spec, user, client_id, streams, body, sig, digest, facts
            )

        ack, stored, granted = await self._in_transaction(work)
        return ack, stored, granted

    async def _in_transaction(self, work: Callable[[PooledConn], Awaitable[tuple[T, bool]]]) -> T:
        """Run ``work`` (its result, and whether it wrote anything) in one transaction, and
        commit it if it wrote; see ``_transact`` for what a failure at each point means."""
        conn = await self.pool.acquire()  # a failure here: nothing was sent
        try:
            tx = conn.transaction()
            await tx.start()
            try:
                result, writes = await work(conn)
            except BaseException:
                await _rollback(tx)
                raise
            if not writes:  # retries answered from the commands table: nothing to commit
                await _rollback(tx)
                return result
            try:
                await tx.commit()
            except Exception as exc:
                if answered_by_server(exc):
                    raise  # PostgreSQL refused the COMMIT itself: rolled back
                raise OutcomeUnknown(f"{type(exc).__name__} at COMMIT") from exc
            return result
        finally:
            await self._release(conn)

    async def _release(self, conn: PooledConn) -> None:
        try:
            await self.pool.release(conn)
        except Exception as exc:  # never replaces the answer already decided
            log.warning("release_failed", error=repr(exc))

    async def _decide_and_write(
        self,
        conn: PooledConn,
        spec: CommandSpec,
        user: User,
        client_id: str,
        streams: tuple[str, str],
        body: dict[str, Any],
        sig: str | None,
        digest: bytes,
        facts: dict[str, Any],
    ) -> tuple[tuple[dict[str, Any], list[store.StoredEvent], bool], bool]:
        """Everything the command does inside its transaction: (the ack, the events, whether
        roles were granted), and whether anything was written (not for a retry)."""
        addressed, stream = streams
        if spec.gate is not None:  # before any row lock: see services.bids
            await store.lock_gate(conn, addressed, exclusive=spec.gate == "exclusive")
        if spec.creates_stream:
            if spec.parent_of is not None:
                parent: str | None = spec.parent_of(body)
            else:
                parent = addressed if stream != addressed else None
            if parent is not None and await store.stream_info(conn, parent) is None:
                raise Refusal("unknown_stream", parent)
            kind = spec.creates_kind or spec.stream_kind
            await store.create_stream(conn, stream, kind, parent, {})
        # One round trip: the row lock, a retry's first answer, the actor's roles.
        locked = await store.lock_for_command(
            conn, stream, user.id, client_id, spec.roles_in_platform
        )
        if locked is None:
            raise Refusal("unknown_stream", stream)
        if locked.prior_result is not None:
            if locked.prior_digest != digest:
                raise _id_reused(client_id)
            return (dict(locked.prior_result), [], False), False
        row = locked.row
        actor = _actor(user, locked.grants)
        if spec.roles_in_platform:
            actor = replace(actor, platform_roles=actor.roles)
        elif spec.platform_roles:
            actor = replace(actor, platform_roles=await _platform_roles(conn, user))
        _authorize(spec, actor)
        if spec.grants_to is not None:
            tender = row.name if row.kind == "tender" else (row.parent or row.name)
            named = [user.id, *spec.grants_to(body)]
            facts = {**facts, "duties": await tender_roster(conn, tender, named)}
        try:
            if spec.gather is not None:
                facts = {**facts, **await spec.gather(self.context, conn, addressed, body)}
            command = Command(spec.name, stream, body, actor, row.now, sig, facts)
            decision = spec.decide(row.state, command)
        except RuleError as exc:
            raise Refusal(exc.code, exc.message, exc.field) from None
        for created in decision.create:
            if created.name != stream:
                await store.create_stream(
                    conn, created.name, created.kind, created.parent, dict(created.state)
                )
        stored = store.prepare_events(
            row, _new_events(decision, user.id, client_id, addressed, spec.name, body, sig)
        )
        for g in decision.grants:
            try:
                await grant_role(conn, g.user_id, g.scope, g.role, g.venue)
            except ForeignKeyViolation:  # the deciders check first; kept safe
                raise Refusal("unknown_user", g.user_id) from None
        head = row.head + len(stored)
        reply = dict(decision.reply)
        if spec.finish is not None:
            reply.update(await spec.finish(self.context, conn, decision, stored))
        ack = _ack(client_id, stream, head, reply)
        record = store.CommandRecord(user.id, client_id, digest, head, ack)
        await store.append_and_record(conn, row, stored, dict(decision.state), [record])
        return (ack, stored, bool(decision.grants)), True

    # -- group commit (services.groupcommit) ---------------------------------------------

    async def _run_batch(
        self, stream: str, items: Sequence[Batched], alone: bool
    ) -> Sequence[Outcome]:
        """One transaction for ``items``, commands of ``stream`` in their order of arrival;
        the events are published once it committed, before anyone is answered."""
        if alone:
            return [await self._alone(stream, items[0])]
        self.metrics.commit_batch.observe(len(items))
        try:
            optimistic = await self._optimistic_batch(stream, items)
            if optimistic is not None:
                outcomes, stored = optimistic
            else:  # the head moved under us: decide again under the row lock
                outcomes, stored = await self._in_transaction(
                    lambda conn: self._decide_batch(conn, stream, items)
                )
        except Exception as exc:
            if len(items) > 1 and not (isinstance(exc, OutcomeUnknown) or store_down(exc)):
                # PostgreSQL refused the batch (an id committed meanwhile in another stream,
                # a value it would not take) and rolled it back: run each alone, so that only
                # the command at fault is refused.
                return [await self._alone(stream, item) for item in items]
            # Nothing of the batch is acked: every command is answered as the whole was.
            return [exc] * len(items)
        await self._publish(stream, stored, False)
        return outcomes

    async def _alone(self, stream: str, item: Batched) -> Outcome:
        """One command in a transaction of its own, as a command that cannot batch runs."""
        try:
            ack, stored, granted = await self._transact(
                item.spec,
                item.user,
                item.client_id,
                (stream, stream),
                item.body,
                item.sig,
                item.digest,
                {},
            )
        except Exception as exc:
            return exc
        await self._publish(stream, stored, granted)
        return ack

    async def _optimistic_batch(
        self, stream: str, items: Sequence[Batched]
    ) -> tuple[list[Outcome], list[store.StoredEvent]] | None:
        """The batch in two round trips and no explicit transaction: read the stream (no
        lock), decide, then write everything in one statement that commits only if the head
        is still the one read (``append_if_head``). None: another writer moved the head first
        and nothing was written; the caller decides again under the row lock.

        What a failure means stays as in ``_in_transaction``: the read writes nothing; the
        write is its own transaction, so PostgreSQL refusing it rolled it back, and a
        connection lost once it was sent leaves the outcome unknown."""
        conn = await self.pool.acquire()  # a failure here: nothing was sent
        try:
            keys = [(i.user.id, i.client_id) for i in items]
            seen = await store.read_for_batch(conn, stream, keys)
            if seen is None:
                return [Refusal("unknown_stream", stream) for _ in items], []
            outcomes, stored, state, records = _decide_items(seen, stream, items)
            if not records:
                return outcomes, []
            try:
                written = await store.append_if_head(conn, seen.row, stored, state, records)
            except Exception as exc:
                if answered_by_server(exc):
                    raise  # refused by PostgreSQL: the statement's transaction rolled back
                raise OutcomeUnknown(f"{type(exc).__name__} at the batch's write") from exc
            return (outcomes, stored) if written else None
        finally:
            await self._release(conn)

    async def _decide_batch(
        self, conn: PooledConn, stream: str, items: Sequence[Batched]
    ) -> tuple[tuple[list[Outcome], list[store.StoredEvent]], bool]:
        """Decide each command in order against the running state (a refusal leaves it as it
        was for the next) and write them all in one statement: (each outcome, the events),
        and whether anything was written."""
        locked = await store.lock_for_batch(conn, stream, [(i.user.id, i.client_id) for i in items])
        if locked is None:
            return ([Refusal("unknown_stream", stream) for _ in items], []), False
        outcomes, stored, state, records = _decide_items(locked, stream, items)
        if not records:
            return (outcomes, []), False
        await store.append_and_record(conn, locked.row, stored, state, records)
        return (outcomes, stored), True

    async def refuse(
        self, user: User, client_id: str, stream: str, type_: str, refusal: Refusal
    ) -> Refusal:
        """Refuse outside the pipeline (e.g. an upload checked before its bytes are read),
        counted and recorded like any refusal."""
        self.metrics.commands.labels("refused").inc()
        self.metrics.refusals.labels(refusal.code).inc()
        if is_recorded(refusal.code):
            await self._record_refusal(user, client_id, stream, type_, refusal)
        return refusal

    async def _record_refusal(
        self, user: User, client_id: str, stream: str, type_: str, refusal: Refusal
    ) -> None:
        """Keep the attempt; a failure here is logged and never replaces the refusal."""
        try:
            if not await self.limiter.allow(user.id):
                return
            payload = {"command": type_, "id": client_id, "stream": stream, "code": refusal.code}
            async with self.pool.acquire() as conn, conn.transaction():
                row = await store.lock_stream(conn, await _refusal_stream(conn, user, stream))
                assert row is not None
                stored = await store.append_events(
                    conn, row, [("command.refused", user.id, payload, "actor", None)], row.state
                )
            await self.publish(stored)
        except Exception as exc:
            if not store_down(exc):
                log.exception("refusal_not_recorded", stream=stream, code=refusal.code)


def _decide_items(
    locked: store.LockedForBatch, stream: str, items: Sequence[Batched]
) -> tuple[list[Outcome], list[store.StoredEvent], dict[str, Any], list[store.CommandRecord]]:
    """Decide each command in order against the running state (a refusal leaves it as it was
    for the next): each outcome, the events, the state after them, and the commands' records.
    A retry (within the batch, or of a command already committed) is answered with its first
    answer; a command that grants or creates stops the batch (it and the rest: deferred)."""
    row, state = locked.row, locked.row.state
    outcomes: list[Outcome] = []
    stored: list[store.StoredEvent] = []
    records: dict[tuple[str, str], store.CommandRecord] = {}
    for k, item in enumerate(items):
        key = (item.user.id, item.client_id)
        first = records.get(key)  # a retry within the batch, or of a committed command
        prior = (first.digest, first.ack) if first else locked.priors.get(key)
        if prior is not None:
            same = prior[0] == item.digest
            outcomes.append(dict(prior[1]) if same else _id_reused(item.client_id))
            continue
        current = replace(row, head=row.head + len(stored), state=state)
        try:
            decision = _decide_one(item, current, locked.grants[item.user.id])
        except Exception as exc:  # a refusal, or a bug: this command's answer only
            outcomes.append(exc)
            continue
        if decision.grants or decision.create:  # access or streams change: alone
            outcomes.extend([DEFERRED] * (len(items) - k))
            break
        new = _new_events(
            decision, item.user.id, item.client_id, stream, item.spec.name, item.body, item.sig
        )
        events = store.prepare_events(current, new)
        head = current.head + len(events)
        ack = _ack(item.client_id, stream, head, dict(decision.reply))
        records[key] = store.CommandRecord(*key, item.digest, head, ack)
        outcomes.append(ack)
        stored.extend(events)
        state = dict(decision.state)
    return outcomes, stored, state, list(records.values())


def _decide_one(item: Batched, row: store.StreamRow, grants: list[tuple[str, str]]) -> Decision:
    """Authorize and decide one batched command against the running state ``row``."""
    actor = _actor(item.user, grants)
    _authorize(item.spec, actor)
    command = Command(item.spec.name, row.name, item.body, actor, row.now, item.sig, {})
    try:
        return item.spec.decide(row.state, command)
    except RuleError as exc:
        raise Refusal(exc.code, exc.message, exc.field) from None


def _new_events(
    decision: Decision,
    user_id: str,
    client_id: str,
    addressed: str,
    type_: str,
    body: dict[str, Any],
    sig: str | None,
) -> list[tuple[str, str | None, dict[str, Any], str, str | None]]:
    """The decision's events as the store appends them. A signed event carries what was
    signed, so anyone can check ``sig`` later."""
    signed = {"id": client_id, "stream": addressed, "type": type_, "body": body}
    return [
        (
            e.type,
            user_id,
            _signed_payload(e.payload, signed) if e.signed else dict(e.payload),
            e.visibility,
            sig if e.signed else None,
        )
        for e in decision.events
    ]


def _ack(client_id: str, stream: str, head: int, reply: dict[str, Any]) -> dict[str, Any]:
    ack: dict[str, Any] = {"t": "ack", "id": client_id, "stream": stream, "seq": head}
    if reply:
        ack["reply"] = reply
    return ack


def _id_reused(client_id: str) -> Refusal:
    return Refusal("id_reused", f"id {client_id!r} was used for another command")


async def _rollback(tx: Any) -> None:
    """Nothing was committed whatever this does (PostgreSQL rolls back a transaction whose
    connection fails), so a failed rollback never replaces the answer: it is logged."""
    try:
        await tx.rollback()
    except Exception as exc:
        log.warning("rollback_failed", error=repr(exc))


def _signed_payload(payload: Any, command: dict[str, Any]) -> dict[str, Any]:
    return {**dict(payload), "command": command}


async def _refusal_stream(conn: Conn, user: User, stream: str) -> str:
    """Where an attempt is kept: the stream it was meant for, when the actor holds a role
    there, else ``platform``. A bidder's attempts on a tender go to its own bid stream (the
    tender's seqs must not count bidders), and nobody's attempt lands in another company's
    bid stream (a probe of one is kept in ``platform``, like a probe of a made-up name)."""
    if not STREAM_NAME.match(stream) or stream == "platform":
        return "platform"
    info = await store.stream_info(conn, stream)
    if info is None:
        return "platform"
    kind, parent, _head = info
    if kind == "bid":
        return stream if await roles_in(conn, user.id, [stream]) else "platform"
    roles = {g.role for g in await roles_in(conn, user.id, [stream, *([parent] if parent else [])])}
    if not roles:
        return "platform"
    if kind == "tender" and roles <= {Role.BIDDER}:
        own = await bids.own_stream(conn, stream, user.org)
        return own if own is not None else "platform"
    return stream


def _actor(user: User, grants: list[tuple[str, str]]) -> Actor:
    if user.id == SYSTEM_USER:  # the platform's own actor (clock, venue faults, draws)
        return Actor(user_id=user.id, roles=frozenset({SYSTEM_USER}))
    return Actor(
        user_id=user.id,
        roles=frozenset(role for role, _venue in grants),
        org=user.org,
        venues=frozenset(venue for _role, venue in grants if venue),
    )


async def _platform_roles(conn: Conn | Pool, user: User) -> frozenset[str]:
    if user.id == SYSTEM_USER:
        return frozenset()
    return frozenset(g.role for g in await roles_in(conn, user.id, ["platform"]))


def _authorize(spec: CommandSpec, actor: Actor) -> None:
    if "*" in spec.roles or actor.roles & spec.roles:
        return
    if actor.platform_roles & spec.platform_roles:
        return
    held = ", ".join(sorted(actor.roles)) or "none"
    needed = ", ".join(sorted(spec.roles | spec.platform_roles))
    raise Refusal("forbidden", f"{spec.name} needs {needed}; you hold {held}")


def _check_signature(
    user: User, client_id: str, stream: str, type_: str, body: dict[str, Any], sig: str | None
) -> None:
    if not sig:
        raise Refusal("bad_signature", f"{type_} must be signed by its actor")
    data = command_signing_bytes(client_id=client_id, stream=stream, type=type_, body=body)
    try:
        ok = VerifyKey.from_string(user.signing_key).verify(data, sig)
    except KeyFormatError:
        ok = False
    if not ok:
        raise Refusal("bad_signature", f"{type_} signature does not verify")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"
