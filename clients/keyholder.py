"""``evalroom-keyholder``: a keyholder of a tender's opening key (开标密钥保管人).

    evalroom-keyholder keygen --user ID --out me.key
    evalroom-keyholder submit T1 share-2.txt --key me.key [--wait] [--timeout 3600]

When bids could not be opened by their bidders and the tender's rule is the committee
fallback, k of the n keyholders hand in their shares (signed ``opening.share``); the k-th
rebuilds the opening key on the platform, which opens the remaining bids and forgets the key.
``--wait`` follows the tender and hands the share in when the fallback is asked for.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from clients.cli_common import (
    EXIT_TIMEOUT,
    CliError,
    Out,
    add_keygen,
    cli_command,
    connected,
    require_key,
    server_options,
    tender_id,
    tender_stream,
)
from clients.folds.tender import CeremonyView
from clients.follow import Follower
from clients.keyfile import ParticipantKey
from clients.sdk import Client
from crypto.shamir import ShareError, inspect_share


@click.group(help="evalroom keyholder client (开标密钥保管人客户端)")
def main() -> None:
    pass


add_keygen(main)


async def _wait_for_fallback(client: Client, stream: str, deadline: float | None) -> bool:
    """Follow the tender until a stage awaits the committee fallback; False on timeout."""
    view = CeremonyView(stream)
    follower = Follower(await client.subscribe(stream), view)
    while True:
        left = 3600.0 if deadline is None else deadline - time.monotonic()
        if left <= 0:
            return False
        await follower.step(min(left, 5.0))
        stage = view.current
        if follower.synced and stage is not None and stage.fallback and stage.record is None:
            return True


@main.command(help="Hand in your share of the opening key (提交密钥分片).")
@click.argument("tender")
@click.argument("share_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Wait until the fallback is asked for, then submit")
@click.option("--timeout", type=float, help="With --wait: give up after this many seconds")
@server_options
@cli_command
def submit(
    out: Out,
    tender: str,
    share_file: Path,
    wait: bool,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    stream = tender_stream(tender)

    async def hand_in(key: ParticipantKey, share: str) -> int | dict[str, object]:
        deadline = None if timeout is None else time.monotonic() + timeout
        async with connected(server, key, out.lang) as client:
            if wait:
                out.say("waiting_fallback", tender=tender_id(tender))
                if not await _wait_for_fallback(client, stream, deadline):
                    out.say("timed_out", seconds=timeout)
                    return EXIT_TIMEOUT
            return await client.command(stream, "opening.share", {"share": share}, sign=True)

    try:
        share = share_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError("share_unreadable", path=share_file, detail=str(exc)) from None
    try:
        info = inspect_share(share)
    except ShareError as exc:
        raise CliError("bad_share", path=share_file, detail=str(exc)) from None
    key = require_key(key_path, out)
    ack = asyncio.run(hand_in(key, share))
    if isinstance(ack, int):
        return ack
    out.say("keyholder.submitted", index=info.index, n=info.n, k=info.k, seq=ack.get("seq"))
    return 0


if __name__ == "__main__":
    main()
