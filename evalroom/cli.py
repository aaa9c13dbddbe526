"""``evalroom``: run a node, administer users and roles, run the demo."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evalroom.settings import Settings

if TYPE_CHECKING:  # asyncpg loads only when a command needs the database
    from evalroom.db import Pool

T = TypeVar("T")


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


async def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    from evalroom.db.pool import EmbeddedPostgres, open_pool

    url = settings.database_url
    if url is None:
        url = (await asyncio.to_thread(EmbeddedPostgres.start, settings.data_dir)).url
    pool = await open_pool(url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


@click.group()
def main() -> None:
    """evalroom · 远程异地多点评标平台 (remote multi-site bid evaluation)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run one hub node (启动一个节点)."""
    import uvicorn

    from evalroom.app import create_app
    from evalroom.logs import configure
    from evalroom.serving import uvicorn_config

    settings = Settings.from_env()
    configure(settings.log_level)
    app = create_app(settings)
    config = uvicorn_config(app, settings, host, port, timeout_graceful_shutdown=5)
    # Full collections over a large, long-lived heap stalled the loop ~70 ms every few seconds
    # (the p99 of deliveries): freeze what startup made and collect the old generation rarely.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    uvicorn.Server(config).run()


@main.group()
def admin() -> None:
    """Users and roles (用户与角色管理)."""


@admin.command("add-user")
@click.argument("user_id")
@click.option("--name", required=True, help="Display name (显示名称)")
@click.option("--key", "key", required=True, help="Ed25519 public key, ed25519:…")
@click.option("--org", default=None, help="Company (bidders) or organisation")
def add_user(user_id: str, name: str, key: str, org: str | None) -> None:
    """Register a participant with its public key (登记用户公钥)."""
    from crypto.keys import KeyFormatError, VerifyKey
    from evalroom.db.identity import create_user

    try:
        VerifyKey.from_string(key)
    except KeyFormatError:
        click.echo("公钥格式错误 (expected ed25519:…)", err=True)
        sys.exit(2)

    async def work(pool: Pool) -> bool:
        return await create_user(pool, user_id, name, org, key)

    created = _run(lambda: _with_pool(Settings.from_env(), work))
    click.echo(f"已登记 {user_id}" if created else f"{user_id} 已存在 (already exists)")


@admin.command("grant")
@click.argument("user_id")
@click.argument("role")
@click.option(
    "--scope", default="platform", show_default=True, help="platform, tender:<id> or session:<id>"
)
@click.option("--venue", default="", help="Venue id for site operators and experts")
def grant(user_id: str, role: str, scope: str, venue: str) -> None:
    """Grant a role in a scope (授予角色): platform roles (agency, admin, authority), or a
    role in a tender or session, checked against the separation of duties."""
    from evalroom.domain.roles import ALL_ROLES
    from evalroom.errors import Refusal, sentence
    from evalroom.services.admin import admin_grant

    if role not in ALL_ROLES:
        click.echo(f"未知角色 {role}; 可选: {', '.join(sorted(ALL_ROLES))}", err=True)
        sys.exit(2)

    async def work(pool: Pool) -> None:
        await admin_grant(pool, user_id, role, scope, venue)

    try:
        _run(lambda: _with_pool(Settings.from_env(), work))
    except Refusal as refusal:
        click.echo(f"{sentence(refusal.code)} ({refusal}) {sentence(refusal.code, 'en')}", err=True)
        sys.exit(2)
    click.echo(f"已授予 {user_id} {role} @ {scope}")


@admin.group("pool")
def pool_group() -> None:
    """The expert pool (评标专家库): import, list, suspend, credit, relations."""


def _actor() -> str:
    """Who made a change from the command line, for ``expert_changes``: the OS account."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _pool_refusal(work: Callable[[Pool], Awaitable[T]]) -> T:
    """Run ``work``; a refusal becomes its zh-CN sentence, the detail and the English one."""
    from evalroom.domain.pool_csv import PoolCsvError
    from evalroom.errors import Refusal, sentence

    try:
        return _run(lambda: _with_pool(Settings.from_env(), work))
    except PoolCsvError as exc:
        click.echo(f"{sentence(exc.code)} {exc.text('zh-CN')}", err=True)
        click.echo(f"{sentence(exc.code, 'en')} {exc.text('en')}", err=True)
    except Refusal as refusal:
        detail = f" ({refusal.detail})" if refusal.detail else ""
        click.echo(f"{sentence(refusal.code)}{detail} {sentence(refusal.code, 'en')}", err=True)
    sys.exit(2)


@pool_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def pool_import(csv_file: Path) -> None:
    """Import experts from a CSV file, all or nothing (从 CSV 导入专家).

    Columns: user_id, name, specialties, region, employer, and optionally credit, relations,
    signing_key; lists separated by ";". See docs/operations.md.
    """
    from evalroom.domain.pool_csv import MAX_BYTES
    from evalroom.services.pool_admin import ImportResult, import_pool, snapshot

    if csv_file.stat().st_size > MAX_BYTES:
        click.echo(
            f"文件超过 {MAX_BYTES} 字节 (the file is larger than {MAX_BYTES} bytes)", err=True
        )
        sys.exit(2)
    data = csv_file.read_bytes()

    async def work(pool: Pool) -> tuple[ImportResult, str]:
        result = await import_pool(pool, data, _actor())
        return result, (await snapshot(pool))[1]

    result, digest = _pool_refusal(work)
    click.echo(
        f"已导入 {csv_file.name}: 新增 {result.added}, 更新 {result.updated},"
        f" 未变 {result.unchanged}, 新建账户 {result.accounts_created}"
        f" (added, updated, unchanged, accounts created)"
    )
    click.echo(f"专家库摘要 (pool digest): {digest}")


@pool_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="The snapshot and digest as JSON.")
def pool_list(as_json: bool) -> None:
    """List the pool and the digest a draw would commit to now (列出专家库)."""
    import json

    from evalroom.services.pool_admin import pool_view

    view = _pool_refusal(pool_view)
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    header = ["专家 ID", "姓名", "专业", "地区", "工作单位", "信用分", "利害关系", "状态"]
    click.echo("\t".join(header))
    for e in view["experts"]:
        if e["suspended"]:
            status = f"暂停: {e['suspended']['reason']}"
        else:
            status = "可抽取" if e["available"] else "不可抽取"
        row = [e["id"], e["name"], ";".join(e["specialties"]), e["region"], e["employer"],
               e["credit"], ";".join(e["relations"]) or "-", status]  # fmt: skip
        click.echo("\t".join(row))
    click.echo(
        f"{len(view['experts'])} 名专家 (experts) · 专家库摘要 (pool digest): {view['digest']}"
    )


@pool_group.command("credit-view")
@click.option("--json", "as_json", is_flag=True, help="The rows as JSON.")
def pool_credit_view(as_json: bool) -> None:
    """一标一评 credit view: each expert's credit beside the red flags across sessions
    (deviation rate, favour flags, Krippendorff's alpha with the committee). Advisory: it
    changes no credit; ``pool credit`` sets one, with a reason."""
    import json

    from evalroom.services.redflag_history import credit_view

    rows = _pool_refusal(credit_view)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    header = ["专家 ID", "姓名", "信用分", "评标次数", "偏离率", "偏袒预警", "一致性 α", "预警"]
    click.echo("\t".join(header))
    for r in rows:
        cells = [r["expert"], r["name"], r["credit"], str(r["sessions"]), r["deviation_rate"],
                 str(r["favour_flags"]), r["agreement_alpha"], ";".join(r["flags"]) or "-"]  # fmt: skip
        click.echo("\t".join(cells))
    click.echo(f"{len(rows)} 名专家 (experts)")


@pool_group.command("suspend")
@click.argument("user_id")
@click.option("--reason", required=True, help="Why (原因), kept with the change")
def pool_suspend(user_id: str, reason: str) -> None:
    """Suspend an expert: never drawn until unsuspended (暂停抽取)."""
    from evalroom.services.pool_admin import suspend

    _pool_refusal(lambda pool: suspend(pool, user_id, reason, _actor()))
    click.echo(f"已暂停 {user_id} (suspended)")


@pool_group.command("unsuspend")
@click.argument("user_id")
@click.option("--reason", default=None, help="Why (原因), kept with the change")
def pool_unsuspend(user_id: str, reason: str | None) -> None:
    """Lift an expert's suspension (恢复抽取)."""
    from evalroom.services.pool_admin import unsuspend

    _pool_refusal(lambda pool: unsuspend(pool, user_id, reason, _actor()))
    click.echo(f"已恢复 {user_id} (unsuspended)")


@pool_group.command("credit")
@click.argument("user_id")
@click.argument("value")
@click.option("--reason", required=True, help="Why (原因), kept with the change")
def pool_credit(user_id: str, value: str, reason: str) -> None:
    """Set an expert's credit, 0 to 100 (调整信用分); ratings move it from there."""
    from evalroom.services.pool_admin import set_credit

    credit = _pool_refusal(lambda pool: set_credit(pool, user_id, value, reason, _actor()))
    click.echo(f"{user_id} 信用分 (credit) = {credit}")


@pool_group.command("relations")
@click.argument("user_id")
@click.argument("companies", nargs=-1)
@click.option("--reason", default=None, help="Why (原因), kept with the change")
def pool_relations(user_id: str, companies: tuple[str, ...], reason: str | None) -> None:
    """Replace the companies an expert declares a relation to (申报利害关系); none clears."""
    from evalroom.services.pool_admin import set_relations

    found = _pool_refusal(lambda pool: set_relations(pool, user_id, companies, reason, _actor()))
    click.echo(f"{user_id} 利害关系 (relations): {', '.join(found) or '-'}")


@main.command()
def migrate() -> None:
    """Apply database migrations (数据库迁移)."""

    async def work(pool: Pool) -> None:
        return None

    _run(lambda: _with_pool(Settings.from_env(), work))
    click.echo("迁移完成 (migrations applied)")


@main.command()
@click.option("--serve", "keep_serving", is_flag=True, help="Keep the hub running afterwards.")
@click.option("--lang", default="zh-CN", type=click.Choice(["zh-CN", "en"]))
@click.option("--port", default=0, type=int, help="Port for the hub (0 = any free port).")
def demo(keep_serving: bool, lang: str, port: int) -> None:
    """Run a whole remote procedure with real clients (完整演示)."""
    from evalroom.demo import run_demo

    sys.exit(_run(lambda: run_demo(keep_serving=keep_serving, lang=lang, port=port)))


@main.command("export-bundle")
@click.argument("target")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--checkpoint", "sign_head", is_flag=True, help="Sign the current heads first.")
def export_bundle(target: str, out: str, sign_head: bool) -> None:
    """Export a session's or tender's evidence bundle (导出证据包) for offline verification.

    TARGET is session:<id> or tender:<id>; OUT ends in .json or .json.gz. The bundle holds
    every event of every visibility: exporting is an administrator's or supervisor's act.
    Check it with `evalroom-verify OUT`.
    """
    from pathlib import Path

    from evalroom.audit import bundle as bundles
    from evalroom.audit import log_signing_key
    from evalroom.audit.checkpoints import Checkpointer
    from evalroom.audit.log import StreamLogs

    async def work(pool: Pool) -> dict[str, Any]:
        if sign_head:
            signer = Checkpointer(pool, StreamLogs(pool), await log_signing_key(pool))
            for row in await bundles.bundle_streams(pool, target):
                await signer.checkpoint_now(row["name"], "export")
        return await bundles.export_bundle(pool, target)

    try:
        bundle = _run(lambda: _with_pool(Settings.from_env(), work))
    except bundles.BundleError as exc:
        click.echo(f"无此项目或会话 (no such tender or session): {exc}", err=True)
        sys.exit(2)
    size = bundles.write_bundle(bundle, Path(out))
    for stream, first, last in bundles.uncovered(bundle):
        click.echo(
            f"注意 {stream} #{first}..#{last}: 尚无签名树头覆盖 (not yet covered by a signed"
            " checkpoint; wait for the next one or pass --checkpoint)",
            err=True,
        )
    events = sum(len(s["events"]) for s in bundle["streams"])
    click.echo(f"已导出 {out}: {events} events, {size} bytes")


if __name__ == "__main__":
    main()
