"""What the participants' command-line clients share: language, options, errors, connection.

- Messages are zh-CN by default, English with ``--lang en`` or ``EVALROOM_LANG=en``; the
  SDK asks the server for its sentences in the same language (WebSocket ``lang``, HTTP
  ``Accept-Language``).
- A refusal from the server is printed as the server's sentence with its stable code, and the
  command exits non-zero; a CLI never shows a traceback for an expected failure.

Exit codes: 0 done, 1 refused by the server (or a check failed), 2 a local problem (key file,
input file), 3 the server cannot be reached, 4 gave up waiting (``--timeout``), 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import socket
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

import click
import httpx
import websockets

from clients.keyfile import KeyFileError, ParticipantKey, is_private, load_key_file
from clients.messages import MESSAGES
from clients.sdk import Client, ClientError

DEFAULT_SERVER = "http://127.0.0.1:8000"

EXIT_REFUSED = 1
EXIT_LOCAL = 2
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4

# People read Beijing time whatever the PC's own zone (stored times stay UTC). China has kept
# UTC+8 without daylight saving since 1991, so a fixed offset is exact; zoneinfo's
# "Asia/Shanghai" would need the tzdata package wherever the system has no zone database
# (Windows, which most participants' PCs run, and slim container images).
BEIJING = timezone(timedelta(hours=8))


def beijing(value: datetime | str) -> datetime:
    """A stored time (ISO 8601 text or datetime; naive means UTC) in Beijing time."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(BEIJING)


def resolve_lang(value: str | None) -> str:
    """``en`` for any English tag, else ``zh-CN`` (the platform's default)."""
    return "en" if (value or "").lower().startswith("en") else "zh-CN"


class CliError(Exception):
    """A failure the user can act on, as a message key and its fields."""

    def __init__(self, key: str, exit_code: int = EXIT_LOCAL, **fields: Any) -> None:
        super().__init__(key)
        self.key = key
        self.exit_code = exit_code
        self.fields = fields


class Out:
    """Where a CLI writes: translated messages to stdout, problems to stderr."""

    def __init__(self, lang: str) -> None:
        self.lang = resolve_lang(lang)
        self.catalog = MESSAGES  # the one catalog of every CLI (clients.messages)
        self.tty = sys.stdout.isatty()

    @property
    def en(self) -> bool:
        return self.lang == "en"

    def t(self, key: str, **fields: Any) -> str:
        zh, en = self.catalog.get(key, (key, key))
        return (en if self.en else zh).format(**fields)

    def when(self, value: datetime | str) -> str:
        """Date and time for people: ``2026-12-07 22:08:10 北京时间`` (or ``Beijing time``)."""
        return f"{beijing(value):%Y-%m-%d %H:%M:%S} {self.t('tz.beijing')}"

    def clock(self, value: datetime | str) -> str:
        """Time of day for people: ``22:08:10 北京时间``."""
        return f"{beijing(value):%H:%M:%S} {self.t('tz.beijing')}"

    def say(self, key: str, **fields: Any) -> None:
        self.echo(self.t(key, **fields))

    def echo(self, text: str = "") -> None:
        click.echo(text)

    def warn(self, key: str, **fields: Any) -> None:
        click.echo(f"{self.t('warning')}: {self.t(key, **fields)}", err=True)

    def refusal(self, err: ClientError) -> None:
        """The server's sentence with its code (and the server's detail, if any)."""
        colon = ": " if self.en else "："
        line = f"{self.t('error')} [{err.code}]{colon}{err.message or err.code}"
        if err.detail:
            line += f" ({err.detail})"
        click.echo(line, err=True)

    def fail(self, err: CliError) -> None:
        colon = ": " if self.en else "："
        click.echo(f"{self.t('error')}{colon}{self.t(err.key, **err.fields)}", err=True)


# -- tables --------------------------------------------------------------------------------


def text_width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [text_width(h) for h in headers]
    for row in rows:
        widths = [max(w, text_width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (w - text_width(c)) for c, w in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


# -- options -------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def lang_option(f: F) -> F:
    return click.option(
        "--lang",
        envvar="EVALROOM_LANG",
        default="zh-CN",
        show_default=True,
        help="zh-CN (default) or en; env EVALROOM_LANG",
    )(f)


def server_options(f: F) -> F:
    """``--server``, ``--key`` and ``--lang``: what every command that talks to the server takes."""
    f = click.option(
        "--key",
        "key_path",
        envvar="EVALROOM_KEY",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Your key file (from keygen); env EVALROOM_KEY",
    )(f)
    f = click.option(
        "--server",
        envvar="EVALROOM_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        help="Platform URL; env EVALROOM_SERVER",
    )(f)
    return lang_option(f)


def require_key(path: Path | None, out: Out) -> ParticipantKey:
    """The participant's key from ``--key``; warns when others may read the file."""
    if path is None:
        raise CliError("key_required")
    key = load_key_file(path)
    if not is_private(path):
        out.warn("key_open_mode", path=path)
    return key


def load_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError("bad_json", path=path, detail=str(exc)) from None


# -- running a command ---------------------------------------------------------------------


def run(out: Out, server: str, work: Callable[[], int | None]) -> NoReturn:
    """Run a command's body; turn every expected failure into a sentence and an exit code.

    The body is synchronous (local files); it runs its network part with ``asyncio.run``."""
    code = EXIT_REFUSED
    try:
        code = work() or 0
    except ClientError as err:
        out.refusal(err)
    except CliError as err:
        out.fail(err)
        code = err.exit_code
    except KeyFileError as err:
        out.fail(CliError(f"key_{err.code}", path=err.path, detail=err.detail))
        code = EXIT_LOCAL
    except TimeoutError:
        out.fail(CliError("no_answer", server=server))
        code = EXIT_UNREACHABLE
    except (
        ConnectionError,
        socket.gaierror,
        httpx.HTTPError,
        websockets.WebSocketException,
    ) as exc:
        out.fail(CliError("unreachable", server=server, detail=str(exc) or type(exc).__name__))
        code = EXIT_UNREACHABLE
    except OSError as exc:  # a local file: permissions, disk full, …
        out.fail(CliError("os_error", detail=str(exc)))
        code = EXIT_LOCAL
    except KeyboardInterrupt:
        out.fail(CliError("interrupted"))
        code = 130
    sys.exit(code)


P = ParamSpec("P")


def cli_command(body: Callable[Concatenate[Out, P], int | None]) -> Callable[P, None]:
    """A click command's callback from its body: the body gets an :class:`Out` in the
    command's ``--lang`` first, then the command's parameters, and returns the exit code
    (``None`` is 0); :func:`run` turns every expected failure into a sentence and a code.
    Put it under the click decorators."""

    @functools.wraps(body)
    def command(*args: P.args, **kwargs: P.kwargs) -> None:
        out = Out(str(kwargs["lang"]))
        run(out, str(kwargs.get("server") or ""), lambda: body(out, *args, **kwargs))

    return command


# -- the connection ------------------------------------------------------------------------


@asynccontextmanager
async def connected(
    server: str, key: ParticipantKey, lang: str, *, live: bool = True
) -> AsyncIterator[Client]:
    """A logged-in client (with a WebSocket when ``live``), closed on the way out. The SDK
    asks the server for its sentences in ``lang`` (WebSocket and HTTP alike)."""
    client = Client(server.rstrip("/"), key.user, key.signing_key, lang=lang)
    try:
        if live:
            await client.connect()
        else:
            await client.login()
        yield client
    finally:
        await client.close()


def tender_stream(tender: str) -> str:
    return tender if tender.startswith("tender:") else f"tender:{tender}"


def tender_id(stream: str) -> str:
    return stream.removeprefix("tender:")


def add_keygen(group: click.Group) -> None:
    """Give a role's CLI its ``keygen`` command: every participant makes its own key."""

    @group.command(help="Create your key file and print the public key to register (生成密钥).")
    @click.option("--user", required=True, help="Your user id on the platform")
    @click.option(
        "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
    )
    @lang_option
    def keygen(user: str, out_path: Path, lang: str) -> None:
        from clients.bidder import keygen_command

        keygen_command(user, out_path, lang)
