"""``evalroom-agency``: what a tendering agency runs (招标代理客户端).

    evalroom-agency keygen --user ID --out agency.key
    evalroom-agency opening-key --k 2 --n 3 --out-dir opening-key/
    evalroom-agency create T1 --title 公路养护工程 --config config.json \\
        --recipient-file opening-key/recipient.txt --key agency.key
    evalroom-agency grant T1 USER supervisor [--venue V] --key agency.key
    evalroom-agency publish T1 --key agency.key
    evalroom-agency ceremony T1 --key agency.key [--answer O1="已核实"] [--confirm-wait 600]
    evalroom-agency answer T1 O1 "已核实，无误" --key agency.key
    evalroom-agency sign-record T1 --key supervisor.key      # agency or supervisor
    evalroom-agency start-commercial T1 --passed S1-B01,S1-B03 --key agency.key

``opening-key`` makes the tender's opening identity on this machine and keeps nothing of it
but the public recipient and the n shares, each for a different keyholder. ``ceremony`` runs
the opening live: it waits for the opening time (with a countdown), starts, closes the
decryption window when it ends or every bid is settled, waits for the keyholders when the
committee fallback is needed, reads out, answers objections, and signs the record once every
bidder confirmed or ``--confirm-wait`` seconds passed after the read-out; it ends when the
record carries both signatures (the supervisor signs with ``sign-record``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from clients.ceremony import Render
from clients.cli_common import (
    EXIT_LOCAL,
    EXIT_TIMEOUT,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    lang_option,
    load_json_file,
    require_key,
    server_options,
    tender_id,
    tender_stream,
)
from clients.folds.tender import CeremonyView, Stage
from clients.follow import Follower
from clients.keyfile import ParticipantKey
from clients.opening import make_opening_key
from clients.sdk import Client, ClientError

# Refusals that only mean "not yet" (clocks differ a little): try again shortly.
NOT_YET = frozenset({"too_early", "window_open"})
# Refusals that mean someone did it already: the event is on its way.
DONE_ALREADY = frozenset(
    {
        "already_signed_in",
        "already_read_out",
        "already_signed",
        "already_answered",
        "window_closed",
    }
)


@click.group(help="evalroom agency client (招标代理客户端)")
def main() -> None:
    pass


add_keygen(main)


@main.command("opening-key", help="Make the tender's opening key and its k-of-n shares.")
@click.option("--k", "k", type=int, required=True, help="Shares needed to open")
@click.option("--n", "n", type=int, required=True, help="Shares made (one per keyholder)")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@lang_option
@cli_command
def opening_key(out: Out, k: int, n: int, out_dir: Path, lang: str) -> int | None:
    if not 2 <= k <= n <= 255:
        raise CliError("bad_threshold")
    names = ["recipient.txt", *(f"share-{i}.txt" for i in range(1, n + 1))]
    for name in names:
        if (out_dir / name).exists():
            raise CliError("key_exists", path=out_dir / name)
    recipient, shares = make_opening_key(k, n)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (out_dir / "recipient.txt").write_text(recipient + "\n", encoding="ascii")
    for i, share in enumerate(shares, start=1):
        _write_secret_text(out_dir / f"share-{i}.txt", share + "\n")
    files = ", ".join(names[1:])
    out.say("key_written", recipient=recipient, dir=out_dir, n=n, k=k, files=files)
    return 0


def _write_secret_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)


def _send(
    out: Out,
    server: str,
    key_path: Path | None,
    stream: str,
    type_: str,
    body: dict[str, Any] | None = None,
    *,
    sign: bool = False,
) -> dict[str, Any]:
    """Send one command and return its ack (a refusal raises ``ClientError``)."""

    async def send(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang) as client:
            return await client.command(stream, type_, body or {}, sign=sign)

    return asyncio.run(send(require_key(key_path, out)))


# -- method rules in the session: a price score computed elsewhere ---------------------------


@main.command(
    "price-scores",
    help="Feed the price scores computed elsewhere (工程量清单), for the supervisor to approve.",
)
@click.argument("session")
@click.option(
    "--file",
    "scores_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='{"S1-B01": "64.25", …}',
)
@click.option("--basis", required=True, help="How they were computed (计算依据)")
@server_options
@cli_command
def price_scores(
    out: Out,
    session: str,
    scores_path: Path,
    basis: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    try:
        data = json.loads(scores_path.read_text("utf-8"), parse_float=str, parse_int=str)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError("bad_price_scores", detail=str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CliError("bad_price_scores", detail=str(scores_path))
    stream = session if session.startswith("session:") else f"session:{session}"
    body = {"scores": data, "basis": basis}
    _send(out, server, key_path, stream, "session.price_scores", body)
    out.say("price_scores_fed", count=len(data))
    return 0


@main.command(help="Create a tender with its bidding and opening rules (创建招标项目).")
@click.argument("tender")
@click.option("--title", required=True)
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--recipient-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="recipient.txt from opening-key: fills opening_recipient",
)
@server_options
@cli_command
def create(
    out: Out,
    tender: str,
    title: str,
    config_path: Path,
    recipient_file: Path | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    config = load_json_file(config_path)
    if not isinstance(config, dict):
        raise CliError("config_not_object", path=config_path)
    if recipient_file is not None:
        config["opening_recipient"] = recipient_file.read_text(encoding="ascii").strip()
    body = {"title": title, "config": config}
    _send(out, server, key_path, tender_stream(tender), "tender.create", body)
    at = config.get("opening_at")
    out.say("created", tender=tender_id(tender), title=title, at=out.when(at) if at else "-")
    return 0


@main.command(
    help="Appoint a participant in a tender (任命): the agency names the tenderer's "
    "representatives before publishing; the supervising authority's key appoints supervisors, "
    "the platform admin's key site operators."
)
@click.argument("tender")
@click.argument("user")
@click.argument("role")
@click.option("--venue", default="", help="Venue id (site operators)")
@server_options
@cli_command
def grant(
    out: Out,
    tender: str,
    user: str,
    role: str,
    venue: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"user": user, "role": role, "venue": venue}
    _send(out, server, key_path, tender_stream(tender), "tender.grant", body)
    out.say("granted", user=user, role=role)
    return 0


@main.command(help="Publish the tender: bids are accepted until the opening time (发布).")
@click.argument("tender")
@server_options
@cli_command
def publish(out: Out, tender: str, server: str, key_path: Path | None, lang: str) -> int | None:
    _send(out, server, key_path, tender_stream(tender), "tender.publish")
    out.say("published", tender=tender_id(tender))
    return 0


@main.command(help="Answer a bidder's objection (答复质询).")
@click.argument("tender")
@click.argument("objection")
@click.argument("text")
@server_options
@cli_command
def answer(
    out: Out, tender: str, objection: str, text: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    body = {"objection": objection, "text": text}
    _send(out, server, key_path, tender_stream(tender), "opening.answer", body)
    out.say("answered", objection=objection)
    return 0


@main.command("sign-record", help="Sign the opening record (agency or supervisor) (签署开标记录).")
@click.argument("tender")
@server_options
@cli_command
def sign_record(out: Out, tender: str, server: str, key_path: Path | None, lang: str) -> int | None:
    _send(out, server, key_path, tender_stream(tender), "opening.sign_record", sign=True)
    out.say("signed", tender=tender_id(tender))
    return 0


@main.command("start-commercial", help="Open the commercial envelopes of the bids that passed.")
@click.argument("tender")
@click.option("--passed", required=True, help="Bid numbers, comma-separated: S1-B01,S1-B03")
@server_options
@cli_command
def start_commercial(
    out: Out, tender: str, passed: str, server: str, key_path: Path | None, lang: str
) -> int | None:
    numbers = [n.strip() for n in passed.split(",") if n.strip()]
    body = {"passed": numbers}
    _send(out, server, key_path, tender_stream(tender), "opening.start_commercial", body)
    out.say("commercial_started", numbers=", ".join(numbers))
    return 0


# -- the ceremony --------------------------------------------------------------------------


def _left(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class AgencyCeremony:
    """Conducts the opening (主持开标) from the tender's events, one step at a time."""

    def __init__(
        self,
        client: Client,
        stream: str,
        out: Out,
        *,
        answers: dict[str, str],
        confirm_wait: float,
        interactive: bool,
    ) -> None:
        self.client = client
        self.stream = stream
        self.out = out
        self.render = Render(out)
        self.view = CeremonyView(stream)
        self.answers = answers
        self.confirm_wait = timedelta(seconds=confirm_wait)
        self.interactive = interactive
        self.done: set[str] = set()  # steps done (or found done) this run
        self.said: set[str] = set()  # messages shown once
        self.retry_at = 0.0
        self.countdown_shown = False

    async def run(self, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        sub = await self.client.subscribe(self.stream)
        follower = Follower(sub, self.view)
        wake = 0.0
        while True:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                self.out.say("timed_out", seconds=timeout)
                return EXIT_TIMEOUT
            events = await follower.step(max(0.0, min(left, wake)))
            for event in events:
                if follower.synced and follower.live(event):
                    self._announce(event)
            if not follower.synced:
                continue
            outcome = await self._act()
            if isinstance(outcome, int):
                return outcome
            wake = outcome

    def _announce(self, event: dict[str, Any]) -> None:
        lines = self.render.announcement(event, self.view)
        if lines:
            self._end_countdown()
        for line in lines:
            self.out.echo(line)

    def _once(self, key: str, message: str, **fields: Any) -> None:
        if key not in self.said:
            self.said.add(key)
            self._end_countdown()
            self.out.say(message, **fields)

    def _end_countdown(self) -> None:
        """Leave the countdown's line (redrawn in place on a terminal) before other output."""
        if self.countdown_shown:
            self.countdown_shown = False
            self.out.echo()

    async def _step(self, name: str, work: Callable[[], Awaitable[Any]]) -> float:
        """Do a step once; "not yet" is retried shortly, "done already" is taken as done,
        any other refusal ends the ceremony (``ClientError``). Returns when to look again."""
        if name in self.done or time.monotonic() < self.retry_at:
            return max(0.05, self.retry_at - time.monotonic())
        try:
            await work()
        except ClientError as err:
            if err.code in NOT_YET:
                self.retry_at = time.monotonic() + 0.25
                return 0.25
            if err.code not in DONE_ALREADY:
                raise
        self.done.add(name)
        return 0.0

    def _command(
        self, type_: str, body: dict[str, Any] | None = None, *, sign: bool = False
    ) -> Callable[[], Awaitable[Any]]:
        async def send() -> Any:
            return await self.client.command(self.stream, type_, body or {}, sign=sign)

        return send

    async def _act(self) -> float | int:
        """The next step from what the view shows: seconds to wait, or an exit code."""
        view = self.view
        stage = view.current
        if stage is None:
            return await self._before_opening()
        if stage.record is not None:
            return self._finished(stage)
        name = stage.name
        now = datetime.now(UTC)
        await self._step(f"{name}:sign_in", self._command("opening.sign_in", sign=True))
        if not stage.window_closed:
            if stage.settled or now >= stage.window_ends:
                self._once(f"{name}:closing", "closing")
                return await self._step(f"{name}:close", self._command("opening.close_window"))
            return min(1.0, (stage.window_ends - now).total_seconds())
        if stage.fallback:
            return 3600.0  # the keyholders' shares come as events
        if stage.read_out is None:
            self._once(f"{name}:reading", "reading_out")
            return await self._step(f"{name}:read_out", self._command("opening.read_out"))
        return await self._after_read_out(stage, now)

    async def _before_opening(self) -> float | int:
        view = self.view
        at = view.opening_at
        if view.phase != "bidding" or at is None:
            self.out.say("not_published", phase=view.phase)
            return EXIT_LOCAL
        left = (at - datetime.now(UTC)).total_seconds()
        if left > 0:
            if self.out.tty:
                self.countdown_shown = True
                click.echo("\r" + self.out.t("countdown", left=_left(left)), nl=False)
                return min(1.0, left)
            self._once("waiting", "agency.waiting_opening", at=self.out.when(at), left=_left(left))
            return min(10.0, left)
        self._once("starting", "starting")
        return await self._step("start", self._command("opening.start"))

    async def _after_read_out(self, stage: Stage, now: datetime) -> float:
        name = stage.name
        for objection in stage.unanswered:
            if f"{name}:answer:{objection.id}" in self.done:
                continue  # answered; the event is on its way
            text = self.answers.get(objection.id)
            if text is None and self.interactive:
                prompt = self.out.t("prompt_answer", id=objection.id)
                text = self.answers[objection.id] = str(
                    await asyncio.to_thread(click.prompt, prompt)
                )
            if text is None:
                tender = tender_id(self.stream)
                self._once(
                    f"{name}:ask:{objection.id}", "needs_answer", id=objection.id, tender=tender
                )
                continue
            self._once(f"{name}:answering:{objection.id}", "answering", id=objection.id, text=text)
            body = {"objection": objection.id, "text": text}
            await self._step(f"{name}:answer:{objection.id}", self._command("opening.answer", body))
        if "agency" in stage.signed_by:
            self._once(f"{name}:waiting_supervisor", "waiting_supervisor")
            return 3600.0
        if stage.unanswered:
            return 3600.0
        until = (stage.read_out_at or now) + self.confirm_wait
        if not stage.orgs <= stage.confirmed and now < until:
            self._once(
                f"{name}:waiting_confirm:{len(stage.confirmed)}",
                "waiting_confirm",
                confirmed=len(stage.confirmed & stage.orgs),
                total=len(stage.orgs),
                until=self.out.when(until),
            )
            return min(60.0, (until - now).total_seconds())
        self._once(f"{name}:signing", "signing")
        return await self._step(
            f"{name}:sign_record", self._command("opening.sign_record", sign=True)
        )

    def _finished(self, stage: Stage) -> int:
        if self.view.failed_sections:
            self.out.say("failed_sections", sections=", ".join(sorted(self.view.failed_sections)))
        if stage.name == "technical":
            self.out.say("technical_done", tender=tender_id(self.stream))
        else:
            self.out.say("all_done")
        return 0


def _parse_answers(values: tuple[str, ...]) -> dict[str, str]:
    answers = {}
    for value in values:
        oid, sep, text = value.partition("=")
        if not sep or not oid.strip() or not text.strip():
            raise CliError("bad_answer", value=value)
        answers[oid.strip()] = text.strip()
    return answers


@main.command(help="Conduct the opening live (主持开标).")
@click.argument("tender")
@click.option("--answer", "answers", multiple=True, help='Answer an objection: O1="text"')
@click.option(
    "--confirm-wait",
    type=float,
    default=600,
    show_default=True,
    help="Seconds after the read-out to wait for every bidder's confirmation",
)
@click.option("--timeout", type=float, help="Give up after this many seconds (exit code 4)")
@server_options
@cli_command
def ceremony(
    out: Out,
    tender: str,
    answers: tuple[str, ...],
    confirm_wait: float,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def conduct(key: ParticipantKey, parsed: dict[str, str]) -> int:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        async with connected(server, key, out.lang) as client:
            agency = AgencyCeremony(
                client,
                tender_stream(tender),
                out,
                answers=parsed,
                confirm_wait=confirm_wait,
                interactive=interactive,
            )
            return await agency.run(timeout)

    parsed = _parse_answers(answers)
    return asyncio.run(conduct(require_key(key_path, out), parsed))


if __name__ == "__main__":
    main()
