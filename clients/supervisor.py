"""``evalroom-supervisor``: what the supervisor (监督人) runs during an evaluation session.

    evalroom-supervisor watch EV1-S1 --key sup.key            # live dashboard of every venue
    evalroom-supervisor commit-seed EV1-S1 --out seed.hex      # fetches and checks the pool
    evalroom-supervisor draw EV1-S1 --seed-file seed.hex
    evalroom-supervisor withdraw-expert EV1-S1 EXPERT --reason "未到场"
    evalroom-supervisor approve-clarification EV1-S1 Q1
    evalroom-supervisor reject-clarification EV1-S1 Q1 --reason "与评审无关"
    evalroom-supervisor approve-goback EV1-S1
    evalroom-supervisor reject-goback EV1-S1 --reason "…"
    evalroom-supervisor pause EV1-S1 --reason "…"
    evalroom-supervisor resume EV1-S1
    evalroom-supervisor warn EV1-S1 "请勿交流评分" [--expert EXPERT]
    evalroom-supervisor annotate EV1-S1 "…"                   # signed note, supervisors only
    evalroom-supervisor sheets EV1-S1 [--expert EXPERT]
    evalroom-supervisor report EV1-S1 [--out report.pdf] [--with-signals]   # annex: red flags
    evalroom-supervisor rate EV1-S1 EXPERT --score 5 [--comment "…"]   # after closing
    evalroom-supervisor signals T1 [--evidence] [--json]       # red flags (风险提示) of a tender

``watch`` shows who is connected in each venue (site operators and experts, from the
platform's presence), the phase, progress counts, alerts (deviations, venue faults, pauses,
clarifications and going back awaiting approval, dissent) and the event feed; on a terminal it
redraws a dashboard, otherwise it prints one line per change. It also keeps the last signed
checkpoint of the session's log (in ``<keyfile>.checkpoints.json``) and checks on connect, on
every reconnect and every ``--check-interval`` seconds that the log still extends it; a
server showing another history is an alert, and the kept checkpoint is the evidence. It also
follows the red flags of the session's tender (风险提示, the ``signals:`` stream only
supervisors read) and shows each signal raised as an alert with its evidence.

``signals`` lists a tender's red flags: each signal's sentence, and with ``--evidence`` the
bids (with their companies), fields, figures and thresholds it rests on. Signals are
advisory: they change no result.

The draw (抽取): ``commit-seed`` makes a 32-byte random seed on this machine, keeps it in
``--out`` (mode 0600, never overwritten) and publishes only its SHA-256 with the digest of
the pool snapshot; ``draw`` reveals it. The snapshot comes from ``GET /api/pool``: its
digest is recomputed here with the pure ``pool_digest``, and a server whose stated digest
differs from the snapshot it sent is refused, so the supervisor commits only to a pool it has
seen. ``--pool-digest`` (a digest known otherwise) or ``--pool-file`` (``{"experts": [...]}``
as the platform's ``pool_snapshot`` writes it) skip the fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from clients.cli_common import (
    EXIT_REFUSED,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    require_key,
    server_options,
    table,
    tender_id,
    tender_stream,
)
from clients.folds.session import SessionView, session_stream
from clients.keyfile import ParticipantKey
from clients.logwatch import LogForked, LogWatch
from clients.render.signals import evidence_lines, signal_line
from clients.sdk import Client, ClientError, Subscription
from clients.session_commands import (
    http_get,
    live_client,
    load_view,
    report_command,
    send,
    sheet_command,
)
from clients.session_live import LiveSession
from crypto.checkpoint import CheckpointError
from evalroom.domain.draw import ExpertPool, commit_seed, pool_digest
from evalroom.domain.rules import RuleError

SIGNALS_RETRY_SECONDS = 2.0  # red flags: how often the watch asks for the signals stream


@click.group(help="evalroom supervisor client (监督人客户端)")
def main() -> None:
    pass


def _simple(
    out: Out,
    session: str,
    server: str,
    key_path: Path | None,
    type_: str,
    body: dict[str, Any],
    done: str,
    *,
    sign: bool = False,
    **fields: Any,
) -> int:
    """Send one session command and say ``done``."""
    send(out, server, key_path, session, type_, body, sign=sign)
    out.say(done, **fields)
    return 0


add_keygen(main)


@main.command("approve-clarification", help="Approve an expert's question; it goes to the bidder.")
@click.argument("session")
@click.argument("clarification")
@server_options
@cli_command
def approve_clarification(
    out: Out, session: str, clarification: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"id": clarification}
    return _simple(
        out, session, server, key_path, "session.clarify_approve", body, "approved_clar",
        id=clarification,
    )  # fmt: skip


@main.command("reject-clarification", help="Refuse an expert's question, with a reason.")
@click.argument("session")
@click.argument("clarification")
@click.option("--reason", required=True)
@server_options
@cli_command
def reject_clarification(
    out: Out,
    session: str,
    clarification: str,
    reason: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"id": clarification, "reason": reason}
    return _simple(
        out, session, server, key_path, "session.clarify_reject", body, "rejected_clar",
        id=clarification,
    )  # fmt: skip


@main.command("approve-goback", help="Approve the chair's request to reopen a phase (批准回退).")
@click.argument("session")
@server_options
@cli_command
def approve_goback(
    out: Out, session: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    return _simple(out, session, server, key_path, "session.goback_approve", {}, "approved_goback")


@main.command("reject-goback", help="Refuse the chair's request to reopen a phase.")
@click.argument("session")
@click.option("--reason", required=True)
@server_options
@cli_command
def reject_goback(
    out: Out, session: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"reason": reason}
    return _simple(out, session, server, key_path, "session.goback_reject", body, "rejected_goback")


# -- method rules in the session: the supervisor's approvals --------------------------------


@main.command("approve-correction", help="Approve the chair's correction after a 复核 (批准更正).")
@click.argument("session")
@server_options
@cli_command
def approve_correction(
    out: Out, session: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body: dict[str, Any] = {}
    return _simple(
        out, session, server, key_path, "session.correction_approve", body, "approved_correction"
    )


@main.command("reject-correction", help="Refuse the chair's correction, with a reason.")
@click.argument("session")
@click.option("--reason", required=True)
@server_options
@cli_command
def reject_correction(
    out: Out, session: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"reason": reason}
    return _simple(
        out, session, server, key_path, "session.correction_reject", body, "rejected_correction"
    )


@main.command("approve-price-scores", help="Approve the price scores the agency fed in.")
@click.argument("session")
@server_options
@cli_command
def approve_price_scores(
    out: Out, session: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body: dict[str, Any] = {}
    kind = "session.price_scores_approve"
    return _simple(out, session, server, key_path, kind, body, "approved_price_scores")


@main.command("reject-price-scores", help="Refuse the price scores the agency fed in.")
@click.argument("session")
@click.option("--reason", required=True)
@server_options
@cli_command
def reject_price_scores(
    out: Out, session: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"reason": reason}
    kind = "session.price_scores_reject"
    return _simple(out, session, server, key_path, kind, body, "rejected_price_scores")


@main.command(help="Pause the evaluation in every venue (暂停评标).")
@click.argument("session")
@click.option("--reason", required=True)
@server_options
@cli_command
def pause(
    out: Out, session: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"reason": reason}
    return _simple(out, session, server, key_path, "session.pause", body, "paused", reason=reason)


@main.command(help="Lift your pause (a lost venue still holds the session) (恢复评标).")
@click.argument("session")
@server_options
@cli_command
def resume(out: Out, session: str, server: str, key_path: Path | None, lang: str) -> int | None:
    return _simple(out, session, server, key_path, "session.resume", {}, "resumed")


@main.command(help="Warn one expert, or the whole committee (警告).")
@click.argument("session")
@click.argument("text")
@click.option("--expert", help="The expert warned (default: the whole committee)")
@server_options
@cli_command
def warn(
    out: Out,
    session: str,
    text: str,
    expert: str | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body: dict[str, Any] = {"text": text}
    if expert:
        body["expert"] = expert
    to = out.t("warned_to", expert=expert) if expert else ""
    return _simple(out, session, server, key_path, "session.warn", body, "warned", to=to)


@main.command(help="Record a signed note, seen by supervisors only (监督备注).")
@click.argument("session")
@click.argument("text")
@server_options
@cli_command
def annotate(
    out: Out, session: str, text: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"text": text}
    return _simple(out, session, server, key_path, "session.annotate", body, "annotated", sign=True)


@main.command("withdraw-expert", help="Withdraw a drawn expert (e.g. absent); the seat is redrawn.")
@click.argument("session")
@click.argument("expert")
@click.option("--reason", required=True)
@server_options
@cli_command
def withdraw_expert(
    out: Out, session: str, expert: str, reason: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"expert": expert, "reason": reason}
    return _simple(
        out, session, server, key_path, "session.declare_conflict", body, "supervisor.withdrawn",
        expert=expert,
    )  # fmt: skip


@main.command(help="Rate an expert after the session closed, 1 to 5 (一标一评).")
@click.argument("session")
@click.argument("expert")
@click.option("--score", "rating", type=int, required=True, help="1 to 5")
@click.option("--comment")
@server_options
@cli_command
def rate(
    out: Out,
    session: str,
    expert: str,
    rating: int,
    comment: str | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body: dict[str, Any] = {"expert": expert, "score": rating}
    if comment:
        body["comment"] = comment
    return _simple(
        out, session, server, key_path, "session.rate_expert", body, "rated",
        expert=expert, score=rating,
    )  # fmt: skip


@main.command(help="Show every expert's score sheet, or one (评分表).")
@click.argument("session")
@click.option("--expert")
@server_options
@cli_command
def sheets(
    out: Out, session: str, expert: str | None, server: str, key_path: Path | None, lang: str
) -> int | None:
    return sheet_command(out, server, key_path, session, expert, own=False)


@main.command(help="Download the evaluation report and show its digest and ranking (评标报告).")
@click.argument("session")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--with-signals",
    is_flag=True,
    help="Add the red-flag annex for the supervising authority (风险提示附件, supervisors only)",
)
@server_options
@cli_command
def report(
    out: Out,
    session: str,
    out_path: Path | None,
    with_signals: bool,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    annex = "signals" if with_signals else None
    return report_command(out, server, key_path, session, out_path, annex=annex)


# -- the draw ------------------------------------------------------------------------------


def _pool_digest(given: str | None, pool_file: Path | None) -> str | None:
    """The digest given by hand or computed from ``--pool-file``; None: fetch the snapshot."""
    if given is not None and pool_file is not None:
        raise CliError("pool_both")
    if given is not None:
        value = given.strip()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise CliError("bad_pool_digest", value=given)
        return value
    if pool_file is None:
        return None
    try:
        snapshot = json.loads(pool_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError("bad_json", path=pool_file, detail=str(exc)) from None
    try:
        return pool_digest(ExpertPool.from_dict(snapshot))
    except (RuleError, TypeError, AttributeError, KeyError, ValueError) as exc:
        raise CliError("bad_pool", path=pool_file, detail=str(exc)) from None


def checked_pool_digest(served: Any) -> tuple[str, int]:
    """The digest of a ``GET /api/pool`` answer, recomputed here, and the number of experts;
    ``pool_digest_mismatch`` when the server states another digest for what it sent."""
    if not isinstance(served, dict) or not isinstance(served.get("snapshot"), dict):
        raise CliError("bad_pool", path="/api/pool", detail="no snapshot in the answer")
    try:
        pool = ExpertPool.from_dict(served["snapshot"])
    except (RuleError, TypeError, AttributeError, KeyError, ValueError) as exc:
        raise CliError("bad_pool", path="/api/pool", detail=str(exc)) from None
    digest = pool_digest(pool)
    if served.get("digest") != digest:
        raise CliError(
            "pool_digest_mismatch", EXIT_REFUSED, stated=str(served.get("digest")), computed=digest
        )
    return digest, len(pool.experts)


async def fetch_pool_digest(client: Client, out: Out) -> str:
    """Fetch the pool snapshot the draw will commit to and check its digest here."""
    response = await http_get(client, "/api/pool")
    try:
        served = response.json()
    except ValueError:
        raise CliError("bad_pool", path="/api/pool", detail="not JSON") from None
    digest, count = checked_pool_digest(served)
    out.say("pool_fetched", experts=count, pool=digest)
    return digest


def _write_seed(path: Path, seed: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError("key_exists", path=path) from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(seed.hex() + "\n")


@main.command("commit-seed", help="Make a random seed here and publish its commitment (种子承诺).")
@click.argument("session")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--pool-digest",
    "given_digest",
    help="Digest of the pool snapshot (hex SHA-256); default: fetched from the server and checked",
)
@click.option(
    "--pool-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pool snapshot as JSON; its digest is computed here",
)
@server_options
@cli_command
def commit_seed_cmd(
    out: Out,
    session: str,
    out_path: Path,
    given_digest: str | None,
    pool_file: Path | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    key = require_key(key_path, out)  # a key problem shows before any seed is made
    digest = _pool_digest(given_digest, pool_file)
    if digest is None:

        async def fetch() -> str:
            async with connected(server, key, out.lang, live=False) as client:
                return await fetch_pool_digest(client, out)

        digest = asyncio.run(fetch())
    seed = secrets.token_bytes(32)
    commitment = commit_seed(seed)
    _write_seed(out_path, seed)  # kept before anything is published
    body = {"commitment": commitment, "pool_digest": digest}
    try:
        send(out, server, key_path, session, "session.commit_seed", body)
    except ClientError:
        out_path.unlink(missing_ok=True)  # refused: nothing was published
        raise
    out.say("seed_committed", commitment=commitment, pool=digest, path=out_path, session=session)
    return 0


def _read_seed(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip().lower()
        seed = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        raise CliError("seed_unreadable", path=path) from None
    if len(seed) < 16:
        raise CliError("seed_unreadable", path=path)
    return text


@main.command(help="Reveal the seed and draw the committee (抽取专家).")
@click.argument("session")
@click.option("--seed-file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def draw(
    out: Out, session: str, seed_file: Path, server: str, key_path: Path | None, lang: str
) -> int | None:
    stream = session_stream(session)

    async def reveal(key: ParticipantKey, seed: str) -> SessionView:
        async with connected(server, key, out.lang) as client:
            await client.command(stream, "session.draw", {"seed": seed})
            view, _sub = await load_view(client, stream)
            return view

    seed = _read_seed(seed_file)
    view = asyncio.run(reveal(require_key(key_path, out), seed))
    if not view.committee:
        failed = view.draw_failed or {}
        out.say("draw_failed", reason=failed.get("reason") or failed.get("code") or "-")
        return EXIT_REFUSED
    out.say("drawn", commitment=commit_seed(bytes.fromhex(seed))[:16])
    rows = [
        [str(m.get("name", "")), eid, str(m.get("specialty", "")), view.venue_name(m["venue"])]
        for eid, m in view.committee.items()
    ]
    headers = [out.t("h.expert"), "ID", out.t("h.specialty"), out.t("h.venue")]
    out.echo(table(headers, rows))
    return 0


# -- the live dashboard --------------------------------------------------------------------


def venue_presence(
    view: SessionView, members: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Who is connected, by venue: operators and experts; and everyone else connected."""
    venues: dict[str, dict[str, Any]] = {
        v: {"operators": set(), "experts": set()} for v in view.venues
    }
    others: set[str] = set()
    for entry in members:
        roles = set(entry.get("roles", []))
        placed = False
        for v in entry.get("venues", []):
            slot = venues.setdefault(v, {"operators": set(), "experts": set()})
            if "operator" in roles:
                slot["operators"].add(str(entry.get("name") or entry["user"]))
                placed = True
            if roles & {"expert", "chair"}:
                slot["experts"].add(str(entry["user"]))
                placed = True
        if not placed:
            label = "/".join(sorted(roles)) or "-"
            others.add(f"{entry.get('name') or entry['user']}({label})")
    return venues, sorted(others)


class SupervisorWatch(LiveSession):
    """Presence by venue, phase, progress, alerts and the feed; checkpoint consistency."""

    def __init__(
        self,
        client: Client,
        stream: str,
        out: Out,
        *,
        history: int,
        dashboard: bool,
        log_key: str | None,
        kept: Path | None,
        check_interval: float,
        check_log: bool,
    ) -> None:
        super().__init__(client, stream, out, history=history, me=client.user_id)
        self.dashboard = dashboard
        self.log_key = log_key
        self.kept = kept
        self.check_interval = check_interval
        self.check_log = check_log
        self.feed: deque[str] = deque(maxlen=14)
        self.alerts: deque[str] = deque(maxlen=6)
        self.presence_text = ""
        self.dirty = True
        self.last_draw = 0.0
        self.logwatch: LogWatch | None = None
        self.log_size: int | None = None
        self.log_problem: str | None = None
        self._log_task: asyncio.Task[None] | None = None
        # red flags: live signals of the session's tender, once the session names it.
        self.signals: Subscription | None = None
        self._signals_task: asyncio.Task[None] | None = None
        self._signals_retry = 0.0

    async def start(self) -> Subscription:
        sub = await super().start()
        await self.client.watch_presence(self.stream)
        if self.check_log:
            self._log_task = asyncio.create_task(self._check_log())
        return sub

    # -- red flags: live signals -------------------------------------------------------------
    async def _follow_signals(self, tender: str) -> None:
        with contextlib.suppress(ClientError, TimeoutError):
            self.signals = await self.client.subscribe(signals_stream(tender))

    def _signal_alerts(self) -> None:
        if self.signals is None:
            # Until the first run the stream does not exist (the server does not say whether
            # it will): ask again every few seconds.
            task = self._signals_task
            due = task is None or (task.done() and time.monotonic() >= self._signals_retry)
            if due and self.view.tender:
                self._signals_retry = time.monotonic() + SIGNALS_RETRY_SECONDS
                self._signals_task = asyncio.create_task(self._follow_signals(self.view.tender))
            return
        for event in self.signals.drain():
            if event.get("type") != "signal.raised":
                continue
            line = signal_line(self.out, event["payload"])  # "⚠ 风险提示 …"
            if self.dashboard:
                self.alerts.append(line)
                self.dirty = True
            else:
                self.out.echo(line)
                for detail in evidence_lines(self.out, event["payload"]):
                    self.out.echo(detail)

    # -- the log ---------------------------------------------------------------------------
    async def _check_log(self) -> None:
        try:
            log_key = self.log_key or self._kept_log_key()
            if log_key:
                self.logwatch = LogWatch(log_key, path=self.kept)
            else:  # first use: trust the server's key, kept from now on with the checkpoints
                self.logwatch = await LogWatch.from_server(self.client.base_url, path=self.kept)
        except (httpx.HTTPError, ValueError, OSError) as exc:
            self._log_trouble(str(exc) or type(exc).__name__)
            return
        while True:
            try:
                await self.logwatch.follow(
                    self.client,
                    [self.stream],
                    interval=self.check_interval,
                    on_fork=self._forked,
                )
            except (httpx.HTTPError, CheckpointError, OSError, KeyError, ValueError) as exc:
                self._log_trouble(str(exc) or type(exc).__name__)
                await asyncio.sleep(self.check_interval)

    def _kept_log_key(self) -> str | None:
        """The log key the kept checkpoints were checked with: pinned once seen."""
        if self.kept is None or not self.kept.exists():
            return None
        saved = json.loads(self.kept.read_text(encoding="utf-8"))
        key = saved.get("log_key") if isinstance(saved, dict) else None
        return key if isinstance(key, str) else None

    def _log_trouble(self, detail: str) -> None:
        if detail != self.log_problem:
            self.log_problem = detail
            self.alert(self.out.t("log_problem", detail=detail), warn=False)

    def _forked(self, fork: LogForked) -> None:
        self.exit_code = EXIT_REFUSED
        text = self.out.t(
            "log_forked",
            shown=fork.shown.size,
            kept=fork.kept.size,
            why=getattr(fork, "why", None) or str(fork),
            path=self.kept or "-",
        )
        self.alert(text)

    def _log_status(self) -> None:
        if self.logwatch is None:
            return
        try:
            kept = self.logwatch.last(self.stream)
        except (CheckpointError, ValueError):
            return
        if kept is not None and kept.size != self.log_size:
            self.log_size = kept.size
            self.log_problem = None
            line = self.out.t("log_ok", size=kept.size, path=self.kept or "-")
            if self.dashboard:
                self.dirty = True
            else:
                self.out.echo(line)

    # -- output ----------------------------------------------------------------------------
    def alert(self, text: str, warn: bool = True) -> None:
        line = f"⚠ {text}" if warn else text
        self.alerts.append(line)
        if self.dashboard:
            self.dirty = True
        else:
            click.echo(line, err=not warn)

    def notice(self, text: str) -> None:
        if self.dashboard:
            self.alerts.append(text)
            self.dirty = True
        else:
            super().notice(text)

    def on_synced(self) -> None:
        if self.dashboard:
            self.feed.extend(self.history)
        else:
            super().on_synced()
        self.dirty = True

    def on_event(self, event: dict[str, Any]) -> None:
        line = self.render.event_line(event, self.view)
        if line is None:
            return
        if self.dashboard:
            self.feed.append(line)
            if self.render.is_alert(event, self.view):
                self.alerts.append(line)
            self.dirty = True
        else:
            self.out.echo(line)

    def on_tick(self) -> None:
        self._signal_alerts()
        members = self.client.presence.get(self.stream)
        if members is not None:
            text = self._presence_line(members)
            if text != self.presence_text:
                self.presence_text = text
                if self.dashboard:
                    self.dirty = True
                else:
                    self.out.echo(text)
        self._log_status()
        if self.dashboard and self.dirty and time.monotonic() - self.last_draw > 0.3:
            self.redraw()

    def on_end(self) -> None:
        if self._log_task is not None:
            self._log_task.cancel()
        self._signal_alerts()
        if self.dashboard:
            self.redraw()
        else:
            for line in self.render.summary(self.view):
                self.out.echo(line)
        super().on_end()

    def on_timeout(self) -> None:
        if self._log_task is not None:
            self._log_task.cancel()

    def _presence_line(self, members: list[dict[str, Any]]) -> str:
        t, view = self.out.t, self.view
        venues, others = venue_presence(view, members)
        parts = []
        for vid, slot in venues.items():
            seated = [e for e, m in view.members.items() if m.get("venue") == vid]
            checked = sum(1 for e in seated if e in view.checked_in)
            parts.append(
                t(
                    "presence_venue",
                    venue=view.venue_name(vid),
                    ops=", ".join(sorted(slot["operators"])) or "✗",
                    online=len(slot["experts"] & set(seated)) if seated else len(slot["experts"]),
                    seated=len(seated),
                    checked=f"{checked}/{len(seated)}",
                )
            )
        line = t("presence_line", venues="; ".join(parts))
        if others:
            line += " | " + t("others", who=", ".join(others))
        return line

    def _venue_table(self) -> str:
        t, view = self.out.t, self.view
        venues, _others = venue_presence(view, self.client.presence.get(self.stream, []))
        rows = []
        for vid, slot in venues.items():
            seated = [e for e, m in view.members.items() if m.get("venue") == vid]
            online = slot["experts"] & set(seated)
            offline = [view.name(e) for e in seated if e not in online]
            if vid in view.faults:
                status = t("st.lost")
            elif slot["operators"]:
                status = t("st.up")
            else:
                status = t("st.no_operator")
            checked = sum(1 for e in seated if e in view.checked_in)
            rows.append(
                [
                    view.venue_name(vid),
                    status,
                    ", ".join(sorted(slot["operators"])) or "-",
                    f"{len(online)}/{len(seated)}",
                    f"{checked}/{len(seated)}",
                    ", ".join(offline) or "-",
                ]
            )
        headers = [
            t("h.venue"),
            t("h.status"),
            t("h.operator"),
            t("h.online"),
            t("h.checked_in"),
            t("h.offline"),
        ]
        return table(headers, rows)

    def redraw(self) -> None:
        self.dirty = False
        self.last_draw = time.monotonic()
        t = self.out.t
        lines = ["\x1b[H\x1b[2J", *self.render.summary(self.view), "", self._venue_table()]
        _venues, others = venue_presence(self.view, self.client.presence.get(self.stream, []))
        if others:
            lines.append(t("others", who=", ".join(others)))
        if self.log_size is not None:
            lines.append(t("log_ok", size=self.log_size, path=self.kept or "-"))
        if self.alerts:
            lines += ["", t("alerts"), *("  " + a for a in self.alerts)]
        if self.feed:
            lines += ["", t("feed"), *("  " + f for f in self.feed)]
        lines += ["", t("updated", at=self.out.clock(datetime.now(UTC)))]
        click.echo("\n".join(lines))


@main.command(help="Live dashboard: every venue's presence, phase, progress, alerts (监督看板).")
@click.argument("session")
@click.option("--plain", is_flag=True, help="One line per change, even on a terminal")
@click.option("--history", type=int, default=10, show_default=True, help="Past events shown")
@click.option(
    "--checkpoints",
    "kept_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the last checkpoint seen is kept (default <keyfile>.checkpoints.json)",
)
@click.option("--log-key", help="Pin the log's verifier key (default: trust the server's)")
@click.option("--check-interval", type=float, default=10.0, show_default=True)
@click.option("--no-log-check", is_flag=True, help="Do not check the log's checkpoints")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit code 4)")
@server_options
@cli_command
def watch(
    out: Out,
    session: str,
    plain: bool,
    history: int,
    kept_path: Path | None,
    log_key: str | None,
    check_interval: float,
    no_log_check: bool,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    dashboard = sys.stdout.isatty() and not plain

    async def follow(key: ParticipantKey) -> int:
        kept = kept_path
        if kept is None and key_path is not None:
            kept = key_path.with_name(key_path.name + ".checkpoints.json")
        async with live_client(server, key, out.lang) as client:
            watcher = SupervisorWatch(
                client,
                session_stream(session),
                out,
                history=history,
                dashboard=dashboard,
                log_key=log_key,
                kept=kept,
                check_interval=max(check_interval, 0.5),
                check_log=not no_log_check,
            )
            try:
                return await watcher.run(timeout)
            finally:
                if watcher._log_task is not None:
                    watcher._log_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await watcher._log_task

    return asyncio.run(follow(require_key(key_path, out)))


# -- red flags: live signals (风险提示) -------------------------------------------------------


def signals_stream(tender: str) -> str:
    """``signals:<tender id>``: the tender's red flags, readable by its supervisors only."""
    return "signals:" + tender_id(tender_stream(tender))


async def read_signals(client: Client, tender: str) -> list[dict[str, Any]] | None:
    """Every event of the tender's signals stream so far; None when there is none to read
    (no signal computed yet, or not this tender's supervisor: the server does not say which)."""
    try:
        sub = await client.subscribe(signals_stream(tender))
    except ClientError as exc:
        if exc.code == "unknown_stream":
            return None
        raise
    await asyncio.wait_for(sub.live.wait(), 10)
    events = sub.drain()
    return events


@main.command(help="The tender's red flags, with their evidence (风险提示, supervisors only).")
@click.argument("tender")
@click.option("--evidence", is_flag=True, help="Show each signal's bids, fields and figures")
@click.option("--json", "as_json", is_flag=True, help="The signals as JSON")
@server_options
@cli_command
def signals(
    out: Out,
    tender: str,
    evidence: bool,
    as_json: bool,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def fetch(key: ParticipantKey) -> list[dict[str, Any]] | None:
        async with connected(server, key, out.lang) as client:
            return await read_signals(client, tender)

    events = asyncio.run(fetch(require_key(key_path, out))) or []
    raised = [e["payload"] for e in events if e.get("type") == "signal.raised"]
    runs = [e for e in events if e.get("type") == "signals.checked"]
    if as_json:
        out.echo(json.dumps(raised, ensure_ascii=False, indent=2))
        return 0
    name = tender_id(tender_stream(tender))
    if not raised:
        out.say("signals.none", tender=name)
    else:
        out.say("signals.header", tender=name)
        for payload in raised:
            out.echo(signal_line(out, payload))
            if evidence:
                for line in evidence_lines(out, payload):
                    out.echo(line)
    if runs:
        out.say("signals.checked", runs=len(runs), when=out.when(runs[-1]["at"]))
        failed = sorted({f for r in runs for f in r["payload"].get("failed", [])})
        if failed:
            out.say("signals.failed", sources=", ".join(failed))
    return 0


if __name__ == "__main__":
    main()
