"""The platform administrator's grants (``evalroom admin grant``), outside the commands.

A platform role (the agency registration, ``admin``, ``authority``) is granted in the
``platform`` scope. A role in a tender or a session still goes through the separation of
duties (:func:`evalroom.domain.duties.check_holding`): the user must be registered and hold no
conflicting role there, and an expert must not have to avoid the tender's bidders. Everything
else (who appoints whom, phases) is the commands' business: this path is the administrator's
own, for setting up and for repairs, and leaves no event in the tender's log.
"""

from __future__ import annotations

from evalroom.db import Pool
from evalroom.db import events as store
from evalroom.db.identity import get_user, grant_role, tender_roster
from evalroom.domain.duties import Roster, check_holding
from evalroom.domain.roles import ALL_ROLES, PLATFORM_ONLY
from evalroom.domain.rules import RuleError
from evalroom.errors import Refusal


async def admin_grant(pool: Pool, user_id: str, role: str, scope: str, venue: str = "") -> None:
    """Grant ``role`` to ``user_id`` in ``scope``, or raise :class:`Refusal` (nothing written)."""
    if role not in ALL_ROLES:
        raise Refusal("invalid", f"unknown role {role!r}; roles: {', '.join(sorted(ALL_ROLES))}")
    async with pool.acquire() as conn, conn.transaction():
        if await get_user(conn, user_id) is None:
            raise Refusal("unknown_user", user_id)
        if scope != "platform":
            if role in PLATFORM_ONLY:
                raise Refusal("not_grantable", f"{role} is held in the platform scope only")
            info = await store.stream_info(conn, scope)
            if info is None:
                raise Refusal("unknown_stream", scope)
            tender = info[1] or scope
            roster = Roster.from_facts({"duties": await tender_roster(conn, tender, [user_id])})
            try:
                check_holding(role, user_id, roster)
            except RuleError as exc:
                raise Refusal(exc.code, exc.message, exc.field) from None
        await grant_role(conn, user_id, scope, role, venue)
