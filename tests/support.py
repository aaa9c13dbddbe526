"""Test helpers: nodes (in-process or as processes), participants with real keys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from clients.sdk import Client
from crypto.keys import SigningKey
from evalroom.app import create_app
from evalroom.db.identity import create_user, grant_role
from evalroom.serving import uvicorn_config
from evalroom.settings import Settings
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]


def slack(seconds: float) -> float:
    """``seconds`` stretched by how loaded the machine is now (load average per core, at
    least 1): a wall-clock margin a test needs (a bid deadline, a decryption window, a
    presence timeout) grows on a busy machine instead of failing for the wrong reason, and
    costs nothing extra on a quiet one."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * min(max(1.0, per_core), 6.0)


@dataclass
class Participant:
    user_id: str
    key: SigningKey
    org: str | None = None
    clients: list[Client] = field(default_factory=list)

    async def client(self, urls: str | list[str], **kw: Any) -> Client:
        client = Client(urls, self.user_id, self.key, **kw)
        await client.connect()
        self.clients.append(client)
        return client


async def add_participant(
    pool: Any,
    prefix: str,
    *,
    org: str | None = None,
    roles: list[tuple[str, str]] | None = None,
    venue: str = "",
) -> Participant:
    user_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    key = SigningKey.generate()
    await create_user(pool, user_id, prefix, org, key.public.to_string())
    for role, scope in roles or []:
        await grant_role(pool, user_id, scope, role, venue)
    return Participant(user_id, key, org)


@dataclass
class InProcessNode:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    app: Any

    @property
    def node(self) -> Any:
        return self.app.state.node

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 15)


@contextlib.asynccontextmanager
async def in_process_node(settings: Settings) -> AsyncIterator[InProcessNode]:
    port = free_port()
    app = create_app(settings)
    config = uvicorn_config(app, settings, "127.0.0.1", port, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError("node did not start")
        await asyncio.sleep(0.01)
    node = InProcessNode(f"http://127.0.0.1:{port}", server, task, app)
    try:
        yield node
    finally:
        await node.stop()


@dataclass
class NodeProcess:
    """A node as its own OS process (``evalroom serve``), so a test can SIGKILL it."""

    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        with contextlib.ExitStack() as files:
            # The child keeps its own descriptor; the parent's closes once it has started.
            log = files.enter_context(open(self.log_path, "ab")) if self.log_path else None
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "evalroom", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log or subprocess.DEVNULL,
                stderr=log or subprocess.DEVNULL,
            )

    async def start(self) -> NodeProcess:
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"node exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/healthz", timeout=1)).status_code == 200:
                        return self
                await asyncio.sleep(0.05)
        raise TimeoutError("node process did not become healthy")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def node_env(
    database_url: str, redis_url: str | None, namespace: str, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env["EVALROOM_REDIS_NAMESPACE"] = namespace
    env["EVALROOM_LOG_LEVEL"] = "warning"
    env.update(extra)
    return env


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(interval)
