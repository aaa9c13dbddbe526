"""``evalroom-bidder``: what a bidder company runs on its own machine (投标人客户端).

    evalroom-bidder keygen --user ID --out me.key
    evalroom-bidder join T1 --key me.key
    evalroom-bidder seal --tender T1 --section S1 --envelope single --form form.json \\
        --attach tech.pdf --recipient age1… --out single.age --key me.key
    evalroom-bidder submit --tender T1 --section S1 --envelope single single.age --key me.key
    evalroom-bidder withdraw --tender T1 --section S1 --key me.key
    evalroom-bidder receipts --key me.key
    evalroom-bidder opening T1 --key me.key [--confirm | --object TEXT] [--no-release]

``seal`` packs the bid form, the sealing machine's identifiers as keyed hashes (never in
clear, ``clients/origin.py``) and the documents, and seals them on this machine to a fresh per-bid
key and the tender's opening key; the per-bid key goes to ``<keyfile>.bids.json`` (mode 0600,
never uploaded) and is released only at the opening, by ``opening``. ``submit`` uploads the
ciphertext, checks the platform's signed receipt and keeps it in ``<keyfile>.receipts/``.
Every command takes ``--server`` (env ``EVALROOM_SERVER``), ``--key`` (env ``EVALROOM_KEY``)
and ``--lang`` (env ``EVALROOM_LANG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from clients.ceremony import Render
from clients.cli_common import (
    EXIT_REFUSED,
    EXIT_TIMEOUT,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    lang_option,
    load_json_file,
    require_key,
    run,
    server_options,
    table,
    tender_id,
    tender_stream,
)
from clients.folds.tender import RESOLVED, CeremonyView, Stage
from clients.follow import Follower
from clients.keyfile import (
    BidKeys,
    KeyFileError,
    ParticipantKey,
    bid_keys_path,
    create_key_file,
    create_private_json,
    read_json,
)
from clients.opening import pack_bid, seal_envelope, sha256_file, upload_envelope
from clients.origin import sealing_origin
from clients.sdk import Client, ClientError
from crypto import age
from crypto.keys import KeyFormatError, VerifyKey

RECEIPT_FORMAT = "evalroom-receipt/1"


@click.group(help="evalroom bidder client (投标人客户端)")
def main() -> None:
    pass


# -- keys ----------------------------------------------------------------------------------


add_keygen(main)


def keygen_command(user: str, out_path: Path, lang: str) -> None:
    """Shared by the bidder's, agency's and keyholder's CLIs."""
    out = Out(lang)

    def work() -> int:
        key = create_key_file(out_path, user)
        out.say("keygen_done", path=out_path, user=key.user, public=key.public_key)
        return 0

    run(out, "", work)


# -- bidding -------------------------------------------------------------------------------


@main.command(help="Join a tender as a bidder (报名).")
@click.argument("tender")
@server_options
@cli_command
def join(out: Out, tender: str, server: str, key_path: Path | None, lang: str) -> int | None:
    async def join_tender(key: ParticipantKey) -> None:
        async with connected(server, key, out.lang) as client:
            await client.command(tender_stream(tender), "tender.join")

    asyncio.run(join_tender(require_key(key_path, out)))
    out.say("joined", tender=tender_id(tender))
    return 0


@main.command(help="Pack and seal one envelope of your bid on this machine (加密投标文件).")
@click.option("--tender", required=True)
@click.option("--section", required=True)
@click.option(
    "--envelope", default="single", show_default=True, help="single, technical or commercial"
)
@click.option("--form", "form_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--attach", "attachments", multiple=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("--recipient", required=True, help="The tender's opening key (age1…)")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def seal(
    out: Out,
    tender: str,
    section: str,
    envelope: str,
    form_path: Path,
    attachments: tuple[Path, ...],
    recipient: str,
    out_path: Path,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    """Offline: ``--server`` is accepted for uniformity and not used."""

    key = require_key(key_path, out)
    assert key_path is not None
    form = load_json_file(form_path)
    if not isinstance(form, dict):
        raise CliError("form_not_object", path=form_path)
    files = _attachments(attachments)
    try:
        age.encrypt_bytes(b"", [recipient.strip()])
    except age.AgeError as exc:
        raise CliError("bad_recipient", detail=str(exc)) from None
    keys = BidKeys.load(bid_keys_path(key_path), key.user)
    sha = _seal_to(out_path, form, files, recipient.strip(), keys, tender, section, envelope)
    out.say("sealed", out=out_path, size=out_path.stat().st_size, sha=sha, keys=keys.path)
    return 0


def _attachments(paths: Sequence[Path]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise CliError("attach_missing", path=path)
        if path.name in files:
            raise CliError("attach_twice", name=path.name)
        files[path.name] = path
    return files


def _seal_to(
    out_path: Path,
    form: dict[str, Any],
    files: dict[str, Path],
    recipient: str,
    keys: BidKeys,
    tender: str,
    section: str,
    envelope: str,
) -> str:
    """Pack into a private temporary file, seal, keep the per-bid key; the plaintext goes."""
    try:
        # Exclusive create: never overwrite a sealed file that may have been submitted.
        out_path.open("xb").close()
    except FileExistsError:
        raise CliError("key_exists", path=out_path) from None
    fd, tmp = tempfile.mkstemp(prefix=".evalroom-bid-", suffix=".zip")
    os.close(fd)
    package = Path(tmp)
    try:
        pack_bid(package, form, files, sealing_origin(tender, recipient))
        identity = seal_envelope(package, out_path, recipient)
        sha = sha256_file(out_path)
        keys.add(tender_id(tender), section, envelope, identity, out_path, sha)
        keys.save()
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    finally:
        package.unlink(missing_ok=True)
    return sha


def _receipts_dir(key_path: Path | None, given: Path | None) -> Path:
    if given is not None:
        return given
    if key_path is None:
        raise CliError("key_required")
    return key_path.with_name(key_path.name + ".receipts")


def _save_receipt(folder: Path, reply: dict[str, Any], name: str, extra: dict[str, Any]) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    create_private_json(path, {"format": RECEIPT_FORMAT, **reply, **extra})
    return path


@main.command(help="Upload a sealed envelope and keep the signed receipt (递交投标文件).")
@click.option("--tender", required=True)
@click.option("--section", required=True)
@click.option("--envelope", default="single", show_default=True)
@click.option("--receipts", "receipts_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("sealed", type=click.Path(dir_okay=False, path_type=Path))
@server_options
@cli_command
def submit(
    out: Out,
    tender: str,
    section: str,
    envelope: str,
    receipts_dir: Path | None,
    sealed: Path,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def send(key: ParticipantKey, size: int) -> dict[str, Any]:
        """Stream the file (progress on stderr); the SDK checks the signed receipt."""
        async with connected(server, key, out.lang, live=False) as client:
            return await upload_envelope(
                client,
                tender_id(tender),
                section,
                envelope,
                sealed,
                progress=_progress(out, size),
            )

    key = require_key(key_path, out)
    assert key_path is not None
    if not sealed.is_file():
        raise CliError("sealed_missing", path=sealed)
    keys = BidKeys.load(bid_keys_path(key_path), key.user)
    sha = sha256_file(sealed)
    entry = keys.by_sha256(sha)
    if entry is None:
        out.warn("no_local_key", keys=keys.path)
    ack = asyncio.run(send(key, sealed.stat().st_size))
    reply = ack["reply"]
    receipt = reply["receipt"]
    folder = _receipts_dir(key_path, receipts_dir)
    name = f"{tender_id(tender)}-{section}-{envelope}-{receipt['seq']}.json"
    path = _save_receipt(folder, reply, name, {"sealed_file": str(sealed.resolve())})
    if entry is not None:
        entry.submitted_seq = int(receipt["seq"])
        keys.save()
    out.say(
        "bidder.submitted",
        tender=tender_id(tender),
        section=section,
        envelope=envelope,
        seq=receipt["seq"],
        sha=receipt["sha256"],
        path=path,
    )
    return 0


def _progress(out: Out, total: int) -> Callable[[int], None]:
    """A progress line on stderr: redrawn on a terminal, printed once when done otherwise."""
    tty = sys.stderr.isatty()

    def show(sent: int) -> None:
        if not tty and sent < total:
            return
        line = out.t(
            "uploading",
            done=f"{sent / 1e6:.1f}",
            total=f"{total / 1e6:.1f}",
            pct=100 * sent // max(total, 1),
        )
        click.echo(("\r" if tty else "") + line, err=True, nl=not tty or sent >= total)

    return show


@main.command(help="Withdraw your bid in a section before the deadline (撤回投标).")
@click.option("--tender", required=True)
@click.option("--section", required=True)
@click.option("--receipts", "receipts_dir", type=click.Path(file_okay=False, path_type=Path))
@server_options
@cli_command
def withdraw(
    out: Out,
    tender: str,
    section: str,
    receipts_dir: Path | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def send(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang) as client:
            body = {"section": section}
            return await client.command(tender_stream(tender), "bid.withdraw", body)

    ack = asyncio.run(send(require_key(key_path, out)))
    reply = ack["reply"]
    receipt = reply["receipt"]
    if not VerifyKey.from_string(reply["platform_key"]).verify_json(receipt, reply["sig"]):
        raise ClientError("bad_receipt", "the receipt's signature does not verify")
    folder = _receipts_dir(key_path, receipts_dir)
    name = f"{tender_id(tender)}-{section}-withdrawn-{receipt['seq']}.json"
    path = _save_receipt(folder, reply, name, {})
    out.say(
        "bidder.withdrawn",
        tender=tender_id(tender),
        section=section,
        seq=receipt["seq"],
        path=path,
    )
    return 0


@main.command(help="List the saved receipts and check their signatures again (回执).")
@click.option("--receipts", "receipts_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--platform-key", help="Pin the platform's public key (ed25519:…)")
@click.option(
    "--key", "key_path", envvar="EVALROOM_KEY", type=click.Path(dir_okay=False, path_type=Path)
)
@lang_option
@cli_command
def receipts(
    out: Out, receipts_dir: Path | None, platform_key: str | None, key_path: Path | None, lang: str
) -> int | None:
    """Offline. ``--key`` only locates the default folder ``<keyfile>.receipts``."""

    folder = _receipts_dir(key_path, receipts_dir)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        out.say("no_receipts", dir=folder)
        return 0
    rows = [_check_saved_receipt(path, platform_key, out) for path in files]
    headers = [out.t(h) for h in ("h.file", "h.kind", "h.what", "h.seq", "h.sha", "h.check")]
    out.echo(table(headers, [row for row, _ok in rows]))
    bad = sum(1 for _row, ok in rows if not ok)
    if bad:
        out.say("receipts_bad", bad=bad)
        return EXIT_REFUSED
    return 0


def _check_saved_receipt(path: Path, pinned: str | None, out: Out) -> tuple[list[str], bool]:
    try:
        saved = read_json(path)
        receipt, sig = saved["receipt"], saved["sig"]
        key = VerifyKey.from_string(saved["platform_key"])
    except (KeyFileError, KeyError, TypeError, KeyFormatError):
        return [path.name, "?", "?", "?", "?", out.t("receipt_unreadable")], False
    parts = (
        tender_id(str(receipt.get("stream", ""))),
        receipt.get("section", ""),
        receipt.get("envelope", ""),
    )
    what = "/".join(str(x) for x in parts if x)
    sha = str(receipt.get("sha256", ""))[:16]
    row = [path.name, str(receipt.get("kind", "")), what, str(receipt.get("seq", "")), sha]
    if not key.verify_json(receipt, sig):
        return [*row, out.t("receipt_bad_sig")], False
    if pinned is not None and saved["platform_key"] != pinned:
        return [*row, out.t("receipt_wrong_key")], False
    sealed = saved.get("sealed_file")
    if sealed and Path(sealed).is_file() and sha256_file(Path(sealed)) != receipt.get("sha256"):
        return [*row, out.t("receipt_file_changed")], False
    return [*row, out.t("receipt_ok")], True


# -- the opening ---------------------------------------------------------------------------


class BidderCeremony:
    """Takes part in the live opening: signs in, releases the per-bid keys of the stage when
    the window opens, shows everyone's status and the read-out, confirms or objects."""

    def __init__(
        self,
        client: Client,
        stream: str,
        keys: BidKeys,
        out: Out,
        *,
        release: bool,
        confirm: bool,
        objections: Sequence[str],
        interactive: bool,
        stage: str | None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.keys = keys
        self.out = out
        self.render = Render(out)
        self.view = CeremonyView(stream)
        self.release = release
        self.confirm = confirm
        self.objections = list(objections)
        self.interactive = interactive
        self.requested_stage = stage
        self.tried: set[tuple[str, str]] = set()  # (stage, step or number) done this run
        self.raised: dict[str, int] = {}  # stage -> objections this run raised in it
        self.waiting_said = False

    @property
    def org(self) -> str | None:
        return self.view.my_org

    def followed(self) -> str | None:
        """The stage this run follows: the one asked for, else the running one, else the
        next to come (the commercial stage after a closed technical one)."""
        if self.requested_stage:
            return self.requested_stage
        view = self.view
        if view.stage is None:
            return view.envelopes[0] if view.config else None
        current = view.stages[view.stage]
        if current.record is not None and view.stage == "technical":
            return "commercial"
        return view.stage

    async def run(self, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        await self._own_record()
        sub = await self.client.subscribe(self.stream)
        follower = Follower(sub, self.view)
        while True:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                self.out.say("timed_out", seconds=timeout)
                return EXIT_TIMEOUT
            events = await follower.step(min(left, 1.0))
            for event in events:
                if follower.synced and follower.live(event):
                    self._announce(event)
            if not follower.synced:
                continue
            if not self.waiting_said:
                self._summary()
                self.waiting_said = True
            stage = self.view.stages.get(self.followed() or "")
            if stage is not None and stage.record is not None:
                self.out.say("finished")
                return 0
            if stage is not None and stage.name == self.view.stage:
                await self._act(stage)

    async def _own_record(self) -> None:
        """Replay the company's own stream (its registration and the envelopes it submitted)
        into the view: it names our company and the versions the platform holds."""
        name = await self.client.bid_stream(self.stream)
        if name is None:
            return
        own = await self.client.subscribe(name)
        await asyncio.wait_for(own.live.wait(), 30)
        for event in own.drain():
            self.view.apply_own(event)

    def _announce(self, event: dict[str, Any]) -> None:
        for line in self.render.announcement(event, self.view):
            self.out.echo(line)

    def _summary(self) -> None:
        view = self.view
        stage_name = self.followed() or "single"
        self.out.say(
            "following",
            tender=tender_id(self.stream),
            stage=self.render.word("stage", stage_name),
        )
        stage = view.stages.get(stage_name)
        if stage is None:
            at = view.opening_at
            if at is not None:
                self.out.say("bidder.waiting_opening", at=self.out.when(at))
            return
        self.out.say("status_now")
        self.out.echo(self.render.status_table(stage))
        if stage.read_out is not None:
            self.out.echo(self.render.read_out_table(stage.read_out, stage.mine))

    async def _once(self, stage: Stage, step: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run one step of this stage at most once per run; a refusal is shown, not fatal."""
        if (stage.name, step) in self.tried:
            return
        self.tried.add((stage.name, step))
        try:
            await work()
        except ClientError as err:
            self.out.refusal(err)

    async def _act(self, stage: Stage) -> None:
        me = self.org or ""
        if stage.read_out is None and not stage.window_closed:
            window_open = datetime.now(UTC) < stage.window_ends
            if me not in stage.signed_in and window_open:
                await self._once(stage, "sign_in", self._sign_in)
            if me in stage.signed_in or (stage.name, "sign_in") in self.tried:
                for number, section in sorted(stage.mine.items()):
                    bid = stage.bids.get(number)
                    if bid is not None and bid.status not in RESOLVED and window_open:
                        release = functools.partial(self._release, stage, number, section)
                        await self._once(stage, number, release)
        if stage.read_out is not None and stage.record is None:
            await self._respond(stage)

    async def _sign_in(self) -> None:
        self.out.say("signing_in")
        try:
            await self.client.command(self.stream, "opening.sign_in", sign=True)
        except ClientError as err:
            if err.code != "already_signed_in":
                raise

    async def _release(self, stage: Stage, number: str, section: str) -> None:
        if not self.release:
            self.out.say("not_releasing", number=number)
            return
        sha = self.view.submitted.get((section, stage.name))
        entry = self.keys.find(tender_id(self.stream), section, stage.name, sha)
        if entry is None:
            self.out.say("key_not_found", number=number, section=section, envelope=stage.name)
            return
        self.out.say("releasing", number=number, section=section)
        body = {"section": section, "identity": entry.identity}
        await self.client.command(self.stream, "bid.release_key", body, timeout=300)

    async def _respond(self, stage: Stage) -> None:
        """After the read-out: raise the objections given, then confirm once they are answered
        (or ask the user, on a terminal)."""
        me = self.org or ""
        for i, text in enumerate(self.objections):
            await self._once(stage, f"object-{i}", functools.partial(self._object, stage, text))
        mine = [o for o in stage.objections.values() if o.org == me]
        # Confirm only once our objections are on the record and answered.
        if len(mine) < self.raised.get(stage.name, 0) or any(o.answer is None for o in mine):
            return
        if me in stage.confirmed:
            return
        if self.confirm:
            await self._once(stage, "confirm", self._confirm)
        elif self.interactive and not self.objections:
            await self._ask(stage)

    async def _object(self, stage: Stage, text: str) -> None:
        self.out.say("objecting", text=text)
        await self.client.command(self.stream, "opening.object", {"text": text})
        self.raised[stage.name] = self.raised.get(stage.name, 0) + 1

    async def _confirm(self) -> None:
        self.out.say("confirming")
        await self.client.command(self.stream, "opening.confirm", sign=True)
        self.out.say("confirmed_ok")

    async def _ask(self, stage: Stage) -> None:
        key = (stage.name, f"ask-{len(stage.objections)}")
        if key in self.tried:
            return
        self.tried.add(key)
        choice = await asyncio.to_thread(
            click.prompt,
            self.out.t("prompt_action"),
            type=click.Choice(["y", "o", "n"]),
            default="y",
        )
        if choice == "y":
            await self._once(stage, "confirm", self._confirm)
        elif choice == "o":
            text = await asyncio.to_thread(click.prompt, self.out.t("prompt_objection"))
            with contextlib.suppress(ClientError):
                await self._object(stage, str(text))


@main.command(help="Take part in the live opening (参加开标): sign in, release keys, confirm.")
@click.argument("tender")
@click.option("--no-release", is_flag=True, help="Do not release the per-bid keys")
@click.option("--confirm", is_flag=True, help="Confirm the record after the read-out")
@click.option(
    "--object", "objections", multiple=True, help="Raise this objection after the read-out"
)
@click.option(
    "--stage",
    type=click.Choice(["single", "technical", "commercial"]),
    help="Stage to follow (default: the running one, or the next to come)",
)
@click.option("--timeout", type=float, help="Give up after this many seconds (exit code 4)")
@server_options
@cli_command
def opening(
    out: Out,
    tender: str,
    no_release: bool,
    confirm: bool,
    objections: tuple[str, ...],
    stage: str | None,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def follow(key: ParticipantKey, keys: BidKeys) -> int:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        async with connected(server, key, out.lang) as client:
            ceremony = BidderCeremony(
                client,
                tender_stream(tender),
                keys,
                out,
                release=not no_release,
                confirm=confirm,
                objections=objections,
                interactive=interactive,
                stage=stage,
            )
            return await ceremony.run(timeout)

    key = require_key(key_path, out)
    assert key_path is not None
    keys = BidKeys.load(bid_keys_path(key_path), key.user)
    return asyncio.run(follow(key, keys))


if __name__ == "__main__":
    main()
