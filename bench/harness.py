"""What every benchmark in ``bench/`` shares: starting and stopping what it measures, parsing
its arguments, printing its figures beside the baseline measured in the same run, and
stopping everything it started on Ctrl-C or SIGTERM.

* :func:`run_bench` runs a benchmark's ``main`` (sync) or ``amain`` (async): SIGTERM takes
  the same orderly way out as Ctrl-C, so every ``finally`` block runs and nothing is left
  behind.
* :func:`started` is the start-up of the benchmarks that drive a node: PostgreSQL and Redis
  (those named by ``DATABASE_URL`` / ``REDIS_URL``, or throwaway ones), a fresh database, a
  pool on it and a scratch folder; leaving it stops and removes them all.
* :class:`ServerProcess`, :func:`node_process`: a server in its own process and session.
* :func:`process_cpu`, :func:`tree_cpu`, :func:`redis_cpu`: CPU seconds, for CPU per operation.
* :func:`argument_parser`, :func:`machine_line`, :func:`ratio`: the common command line and
  the common way of printing a figure beside its baseline.

Run a benchmark as a file (``.venv/bin/python bench/bench_hub.py``) or as a module
(``.venv/bin/python -m bench.bench_hub``); either way it imports this as ``bench.harness``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import math
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import psutil

from crypto.events import login_signing_bytes
from crypto.keys import SigningKey

if TYPE_CHECKING:
    from tests.services import EmbeddedPg, RedisProcess

ROOT = Path(__file__).resolve().parents[1]


# --- running a benchmark --------------------------------------------------------------------


def run_bench(
    main: Callable[[argparse.Namespace], int | Awaitable[int]], args: argparse.Namespace
) -> int:
    """Run a benchmark's ``main(args)``, sync or async, and return its exit status.

    SIGTERM takes the same orderly way out as Ctrl-C: an async ``main`` is cancelled, a sync
    one gets ``KeyboardInterrupt``; either way the ``finally`` blocks stop and remove
    everything that was started, and the status is 130.
    """
    try:
        if inspect.iscoroutinefunction(main):
            return asyncio.run(_cancel_on_sigterm(main(args)))
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            status = main(args)
        finally:
            signal.signal(signal.SIGTERM, previous)
        assert isinstance(status, int)
        return status
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130


async def _cancel_on_sigterm(body: Awaitable[int]) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    return await body


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser described by the first line of the benchmark's docstring."""
    return argparse.ArgumentParser(description=(doc or "").strip().partition("\n")[0])


def add_py_spy_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"record {what} with py-spy (collapsed stacks in DIR; pip install py-spy)",
    )


def machine_line() -> str:
    """Python, cores and load: a benchmark's figures mean little without the machine's state."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()} on {os.cpu_count()} cores,"
        f" load average {load} (1, 5, 15 min) at the start"
    )


def ratio(ours: float, baseline: float) -> float:
    """``ours / baseline``, NaN when there is no baseline figure."""
    return ours / baseline if baseline else math.nan


# --- small helpers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Services:
    """PostgreSQL and Redis: the ones named in the environment, or our own throwaway ones."""

    pg_server_url: str
    redis_url: str
    database_url: str = ""
    _pg: EmbeddedPg | None = None
    _redis: RedisProcess | None = None

    @classmethod
    def start(cls, *, need_redis: bool = True) -> Services:
        from tests.services import EmbeddedPg, RedisProcess, env_or_none

        pg = None
        redis_proc = None
        try:
            pg_url = env_or_none("DATABASE_URL")
            if pg_url is None:
                with warnings.catch_warnings():  # platformdirs warns without XDG_RUNTIME_DIR
                    warnings.simplefilter("ignore")
                    pg = EmbeddedPg.start(Path(tempfile.mkdtemp(prefix="evalroom-bench-pg-")))
                pg_url = pg.url
            redis_url = env_or_none("REDIS_URL") or ""
            if not redis_url and need_redis:
                redis_proc = RedisProcess(free_port()).start()
                redis_url = redis_proc.url
        except BaseException:
            if redis_proc is not None:
                redis_proc.stop()
            if pg is not None:
                pg.cleanup()
            raise
        return cls(pg_url, redis_url, _pg=pg, _redis=redis_proc)

    async def create_database(self) -> str:
        from tests.services import create_database

        self.database_url = await create_database(self.pg_server_url)
        return self.database_url

    async def drop_database(self) -> None:
        from tests.services import drop_database

        if self.database_url:
            with contextlib.suppress(Exception):
                await drop_database(self.pg_server_url, self.database_url)

    def stop(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.stop()
            self._redis = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.cleanup()
            self._pg = None


async def start_services() -> Services:
    """Services.start in a thread; if we are cancelled meanwhile, stop what it started."""
    starting = asyncio.ensure_future(asyncio.to_thread(Services.start))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            (await starting).stop()
        raise


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system)


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process, its reaped children and its live children (PostgreSQL)."""
    if pid is None:
        return 0.0
    try:
        parent = psutil.Process(pid)
        t = parent.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in parent.children():
            with contextlib.suppress(psutil.Error):
                ct = child.cpu_times()
                total += ct.user + ct.system
        return float(total)
    except psutil.Error:
        return 0.0


async def postmaster_pid(pool: asyncpg.Pool) -> int | None:
    """The local postmaster behind ``pool`` (None when PostgreSQL runs elsewhere)."""
    backend = await pool.fetchval("SELECT pg_backend_pid()")
    try:
        parent = psutil.Process(int(backend)).parent()
    except psutil.Error:
        return None
    return None if parent is None else parent.pid


def redis_cpu(url: str) -> float:
    if not url:
        return 0.0
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except Exception:
        return 0.0
    finally:
        client.close()


class ServerProcess:
    """A server in its own process and session (so Ctrl-C reaches only us, and we stop it)."""

    def __init__(
        self, argv: list[str], env: dict[str, str], port: int, log_path: Path, cwd: Path = ROOT
    ) -> None:
        self.argv, self.env, self.port, self.log_path = argv, env, port, log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    async def start(self, health_path: str | None = None, timeout: float = 60) -> ServerProcess:
        self.launch()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.argv[2:4]} exited {self.proc.returncode}:\n{tail}")
                with contextlib.suppress(httpx.HTTPError, OSError):
                    if health_path is None:
                        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                            return self
                    else:
                        url = f"http://127.0.0.1:{self.port}{health_path}"
                        if (await http.get(url, timeout=2)).status_code == 200:
                            return self
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.argv} did not come up")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` for ``seconds`` into collapsed stacks (``pip install py-spy``)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [exe, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", "250"]
    argv += ["-f", "raw", "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def node_process(
    services: Services, port: int, namespace: str, log_path: Path, tree: Path | None = None
) -> ServerProcess:
    """A node on ``port``; ``tree``: run the node's code from that source tree (see
    :func:`tree_at`) instead of this checkout's, with the same interpreter and packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        EVALROOM_REDIS_NAMESPACE=namespace,
        EVALROOM_LOG_LEVEL="warning",
    )
    if tree is not None:  # ahead of the editable install on sys.path
        env["PYTHONPATH"] = str(tree)
    argv = [sys.executable, "-m", "evalroom", "serve", "--port", str(port)]
    return ServerProcess(argv, env, port, log_path, cwd=tree or ROOT)


def tree_at(ref: str, folder: Path) -> Path:
    """The project's source as it is at git revision ``ref``, unpacked into ``folder`` (for
    measuring a node before and after a change in the same run)."""
    target = folder / ("tree-" + "".join(c if c.isalnum() else "_" for c in ref))
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


async def login(http: httpx.AsyncClient, user: str, key: SigningKey) -> str:
    """Challenge-response login over HTTP (as clients/sdk.py does); returns the token."""
    r = await http.post("/auth/challenge", json={"user": user})
    r.raise_for_status()
    nonce = r.json()["nonce"]
    sig = key.sign(login_signing_bytes(user=user, nonce=nonce))
    r = await http.post("/auth/login", json={"user": user, "nonce": nonce, "sig": sig})
    r.raise_for_status()
    return str(r.json()["token"])


def ws_url(base_url: str, token: str) -> str:
    return base_url.replace("http", "ws", 1) + "/ws?token=" + token


async def add_users(
    pool: asyncpg.Pool, users: Sequence[tuple[str, str | None, SigningKey]]
) -> None:
    await pool.executemany(
        "INSERT INTO users (id, name, org, signing_key) VALUES ($1, $1, $2, $3)",
        [(u, org, k.public.to_string()) for u, org, k in users],
    )


async def add_roles(pool: asyncpg.Pool, grants: Sequence[tuple[str, str, str]]) -> None:
    await pool.executemany(
        "INSERT INTO roles (user_id, scope, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        list(grants),
    )


# --- the benchmarks that drive a node -------------------------------------------------------


@dataclass
class Started:
    """What :func:`started` gives a benchmark: the services, a pool on a fresh database, a
    scratch folder (kept for its logs if the benchmark fails) and a short id for names."""

    services: Services
    pool: asyncpg.Pool
    tmp: Path
    run: str


@contextlib.asynccontextmanager
async def started(name: str) -> AsyncIterator[Started]:
    """PostgreSQL and Redis, a fresh database and a pool on it, and a scratch folder; all
    stopped, dropped and removed on leaving, whether by an error or a cancellation."""
    from evalroom.db.pool import open_pool

    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix=f"evalroom-bench-{name}-"))
    print("starting PostgreSQL and Redis ...", flush=True)
    services = await start_services()
    pool: asyncpg.Pool | None = None
    try:
        await services.create_database()
        pool = await open_pool(services.database_url, min_size=1, max_size=4)
        yield Started(services, pool, tmp, uuid.uuid4().hex[:6])
    except BaseException:
        print(f"(server logs kept in {tmp})", file=sys.stderr)
        raise
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if pool is not None:
            await pool.close()
        await services.drop_database()
        services.stop()
