"""``evalroom-operator``: what a venue's site operator (场地管理员) runs (主场 or 副场).

    evalroom-operator venue EV1-S1 --key op.key        # keep it running during the session
    evalroom-operator check-in EV1-S1 EXPERT --seat lanzhou-1 --token TOKEN --key op.key

``venue`` shows the venue's roster (the experts drawn to sit here) and who is checked in, the
phase and pauses, and stays connected until the session ends: the operator's connection is
what tells the platform the venue is up — if it drops during the evaluation, every venue
pauses until it is back (the platform waits up to 4 hours, then seals the materials).

``check-in`` confirms an expert's identity and seat: the expert runs
``evalroom-expert check-in-token SESSION --seat SEAT`` on their own key and hands over the
one-line token it prints (their signature over session, expert and seat).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from clients.cli_common import Out, add_keygen, cli_command, require_key, server_options
from clients.folds.session import session_stream
from clients.keyfile import ParticipantKey
from clients.session_commands import live_client, send
from clients.session_live import LiveSession


@click.group(help="evalroom site operator client (场地管理员客户端)")
def main() -> None:
    pass


add_keygen(main)


@main.command("check-in", help="Check an expert in at your venue with their token (专家签到).")
@click.argument("session")
@click.argument("expert")
@click.option("--seat", required=True)
@click.option("--token", required=True, help="From evalroom-expert check-in-token")
@server_options
@cli_command
def check_in(
    out: Out,
    session: str,
    expert: str,
    seat: str,
    token: str,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    body = {"expert": expert, "seat": seat, "expert_signature": token.strip()}
    send(out, server, key_path, session, "session.check_in", body)
    out.say("checked_in_ok", expert=expert, seat=seat)
    return 0


class VenueWatch(LiveSession):
    """The operator's view: its venue's roster and check-ins, the phase, pauses."""

    def on_synced(self) -> None:
        self.out.say("on_duty", user=self.client.user_id)
        super().on_synced()
        self.rosters()

    def on_event(self, event: dict[str, Any]) -> None:
        super().on_event(event)
        if event.get("type") in ("session.venue_roster", "session.checked_in"):
            self.rosters()

    def rosters(self) -> None:
        view = self.view
        if not view.rosters:
            self.out.say("no_roster")
        for vid, members in view.rosters.items():
            checked = sum(1 for m in members if m["expert"] in view.checked_in)
            self.out.say(
                "roster_of", venue=view.venue_name(vid), checked=checked, total=len(members)
            )
            self.out.echo(self.render.roster_table(view, vid))


@main.command(help="Stay on duty for your venue: roster, check-ins, phase (场地值守).")
@click.argument("session")
@click.option("--history", type=int, default=5, show_default=True, help="Past events shown")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit code 4)")
@server_options
@cli_command
def venue(
    out: Out,
    session: str,
    history: int,
    timeout: float | None,
    server: str,
    key_path: Path | None,
    lang: str,
) -> int | None:
    async def duty(key: ParticipantKey) -> int:
        async with live_client(server, key, out.lang) as client:
            watcher = VenueWatch(client, session_stream(session), out, history=history, me=key.user)
            return await watcher.run(timeout)

    return asyncio.run(duty(require_key(key_path, out)))


if __name__ == "__main__":
    main()
