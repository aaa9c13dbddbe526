"""Managing the expert pool (专家库管理): import from CSV, suspension, credit and declared
relations, and the snapshot a draw commits to, as the API serves it.

These are the administrator's acts, like ``evalroom admin grant`` (:mod:`evalroom.services.admin`):
each runs in one transaction and writes nothing when refused. They are not commands of a
stream: the pipeline runs commands in ``tender:``/``session:``/``bid:`` streams only. Each
change is kept instead in ``expert_changes`` (who, what, why, when), and the draw pins the
resulting pool by its digest in the session's log, which is what a verifier checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from crypto.keys import KeyFormatError, VerifyKey
from evalroom.db import Executor, Pool
from evalroom.db import experts as store
from evalroom.db.identity import create_user
from evalroom.domain.draw import ExpertPool, pool_digest
from evalroom.domain.pool_csv import ExpertRecord, PoolCsvError, parse_pool_csv
from evalroom.errors import Refusal

MAX_REASON = 2000


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    accounts_created: int


def _check_keys(records: Sequence[ExpertRecord]) -> None:
    for r in records:
        if r.signing_key is None:
            continue
        try:
            VerifyKey.from_string(r.signing_key)
        except KeyFormatError:
            raise PoolCsvError(r.line, "signing_key", "signing_key", r.signing_key[:24]) from None


async def import_pool(pool: Pool, data: bytes, actor: str) -> ImportResult:
    """Import a pool file whole, or raise :class:`PoolCsvError` having written nothing.

    An expert without an account gets one with the file's key. An existing account keeps
    its key (a file that names another is refused: an import must never hand someone's login
    to whoever wrote the file), and a company's account (one with an ``org``) is refused: an
    expert sits as a person, and the separation of duties reads the employer from the pool.
    """
    records = parse_pool_csv(data)
    _check_keys(records)
    created = 0
    async with pool.acquire() as conn, conn.transaction():
        accounts = await store.accounts_of(conn, [r.user_id for r in records])
        for r in records:
            account = accounts.get(r.user_id)
            if account is None:
                if r.signing_key is None:
                    raise PoolCsvError(r.line, "signing_key", "key_needed", r.user_id)
                created += await create_user(conn, r.user_id, r.name, None, r.signing_key)
                continue
            org, key = account
            if org is not None:
                raise PoolCsvError(r.line, "user_id", "company_account", r.user_id, org)
            if r.signing_key is not None and r.signing_key != key:
                raise PoolCsvError(r.line, "signing_key", "key_differs", r.user_id)
        counts = await store.import_experts(
            conn,
            [
                store.PoolExpert(
                    r.user_id, r.name, r.specialties, r.region, r.employer, r.credit, r.relations
                )
                for r in records
            ],
            actor,
        )
    return ImportResult(counts.added, counts.updated, counts.unchanged, created)


def _reason(reason: str | None, required: bool) -> str | None:
    text = (reason or "").strip()
    if not text:
        if required:
            raise Refusal("reason_required", "say why")
        return None
    if len(text) > MAX_REASON or "\x00" in text:
        raise Refusal("invalid", f"reason: at most {MAX_REASON} characters, no NUL")
    return text


async def suspend(pool: Pool, user_id: str, reason: str, actor: str) -> None:
    """暂停抽取: the expert stays in the pool and is never drawn until unsuspended."""
    text = _reason(reason, required=True)
    assert text is not None
    async with pool.acquire() as conn, conn.transaction():
        if not await store.suspend_expert(conn, user_id, text, actor):
            raise Refusal("unknown_expert", user_id)


async def unsuspend(pool: Pool, user_id: str, reason: str | None, actor: str) -> None:
    text = _reason(reason, required=False)
    async with pool.acquire() as conn, conn.transaction():
        if not await store.unsuspend_expert(conn, user_id, text, actor):
            raise Refusal("unknown_expert", user_id)


def read_credit(value: str) -> Decimal:
    """A credit score as the pool stores it: 0 to 100, at most two decimals."""
    try:
        credit = Decimal(value.strip())
    except InvalidOperation:
        raise Refusal("invalid", f"credit {value!r} is not a number") from None
    if not credit.is_finite() or not 0 <= credit <= 100 or credit != round(credit, 2):
        raise Refusal("invalid", "credit is 0 to 100 with at most two decimals")
    return credit


async def set_credit(pool: Pool, user_id: str, credit: str, reason: str, actor: str) -> Decimal:
    value = read_credit(credit)
    text = _reason(reason, required=True)
    assert text is not None
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_credit(conn, user_id, value, text, actor):
            raise Refusal("unknown_expert", user_id)
    return value


async def set_relations(
    pool: Pool, user_id: str, companies: Sequence[str], reason: str | None, actor: str
) -> list[str]:
    """Replace the expert's declared relations (利害关系) with ``companies``."""
    cleaned = sorted({c.strip() for c in companies if c.strip()})
    if len(cleaned) > 50 or any(len(c) > 64 or "\x00" in c for c in cleaned):
        raise Refusal("invalid", "at most 50 companies of at most 64 characters")
    text = _reason(reason, required=False)
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_relations(conn, user_id, cleaned, text, actor):
            raise Refusal("unknown_expert", user_id)
    return cleaned


async def snapshot(conn: Executor) -> tuple[dict[str, Any], str]:
    """The pool as a draw would commit to it now (canonical form) and its ``pool_digest``:
    the same query ``session.draw`` reads (``services.session.pool_snapshot``)."""
    pinned = ExpertPool.from_dict({"experts": await store.expert_pool(conn)})
    return pinned.to_dict(), pool_digest(pinned)


def entry_to_dict(e: store.PoolEntry) -> dict[str, Any]:
    return {
        "id": e.user_id,
        "name": e.name,
        "specialties": sorted(e.specialties),
        "region": e.region,
        "employer": e.employer,
        "credit": str(e.credit),
        "ratings": e.ratings,
        "available": e.available,
        "relations": sorted(e.relations),
        "suspended": None
        if e.suspension is None
        else {"at": e.suspension.at.isoformat(), "reason": e.suspension.reason,
              "by": e.suspension.by},
    }  # fmt: skip


async def pool_view(pool: Pool) -> dict[str, Any]:
    """What ``GET /api/pool`` answers: the snapshot with its digest, and the managers' list
    (suspensions, ratings), read in one snapshot of the database so they agree."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        pinned, digest = await snapshot(conn)
        entries = await store.pool_entries(conn)
    return {
        "digest": digest,
        "snapshot": pinned,
        "experts": [entry_to_dict(e) for e in entries],
    }
