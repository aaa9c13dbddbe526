"""The async SDK every participant's client stands on: login, commands, live streams.

- Login is challenge-response with the participant's Ed25519 key; the key never leaves.
- ``command`` sends with a client-chosen id and waits for the ack (sent only after commit).
  After a dropped connection, unanswered commands are sent again with the same id: the
  server answers a retry with the first ack, so each command applies exactly once.
- ``subscribe`` yields a stream's events in seq order; after a reconnect (to the same node or
  another) it resumes from the last seq it yielded, so nothing is lost or repeated.
- A socket closed 4001 (the token expired) logs in again and reconnects; ``logout`` revokes
  the token on every node and closes.

The protocol's state (pending commands, stream cursors, what to send again on a new socket)
is ``wire.client.ClientProtocol``'s; this module moves its frames and wakes the waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from crypto.events import command_signing_bytes, login_signing_bytes
from crypto.keys import SigningKey
from wire import messages
from wire.batch import frames
from wire.client import (
    Answered,
    ClientProtocol,
    Delivered,
    PresenceChanged,
    ProtocolEvent,
    Subscribed,
    SubscriptionRefused,
    Unanswered,
    WentLive,
)
from wire.codes import RESUMABLE_CLOSES, CloseCode

__all__ = ["RESUMABLE_CLOSES", "Client", "ClientError", "Subscription"]

RETRY_ALWAYS = {"outcome_unknown"}


class ClientError(Exception):
    """A refusal from the server: ``code`` is stable, ``message`` is for people."""

    def __init__(
        self,
        code: str,
        message: str = "",
        detail: str = "",
        retryable: bool = False,
        field: str | None = None,
    ):
        super().__init__(f"{code}: {message} {detail}".strip())
        self.code = code
        self.message = message
        self.detail = detail
        self.retryable = retryable
        self.field = field  # the body's input at fault (``details.field``), when named


@dataclass
class Subscription:
    stream: str
    last_seq: int
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    head_at_subscribe: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: ClientError | None = None
    live: asyncio.Event = field(default_factory=asyncio.Event)  # replay done, now live
    live_seq: int = 0

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first event (from now on) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(0.001, deadline - time.monotonic()))
            if predicate(event):
                return event

    def drain(self) -> list[dict[str, Any]]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()


class Client:
    def __init__(
        self,
        urls: str | Sequence[str],
        user_id: str,
        key: SigningKey,
        *,
        lang: str = "zh-CN",
        heartbeat: float = 2.0,
        reconnect: bool = True,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.user_id = user_id
        self.key = key
        self.lang = lang
        self.heartbeat = heartbeat
        self.auto_reconnect = reconnect
        self.token: str | None = None
        self.token_expires = 0.0
        self.ws: ClientConnection | None = None
        self.node: str | None = None
        self.subs: dict[str, Subscription] = {}
        self.presence: dict[str, list[dict[str, Any]]] = {}
        self.presence_changed = asyncio.Event()
        self.reconnects = 0
        self.close_codes: list[int] = []
        self.connected = asyncio.Event()
        self._url_index = 0
        self.protocol = ClientProtocol()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:10]
        self.errors: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return self.urls[self._url_index % len(self.urls)]

    # -- login -----------------------------------------------------------------------------
    async def login(self) -> str:
        headers = {"accept-language": self.lang}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10, headers=headers) as http:
            r = await http.post("/auth/challenge", json={"user": self.user_id})
            _raise_for(r)
            nonce = r.json()["nonce"]
            sig = self.key.sign(login_signing_bytes(user=self.user_id, nonce=nonce))
            r = await http.post(
                "/auth/login", json={"user": self.user_id, "nonce": nonce, "sig": sig}
            )
            _raise_for(r)
            data = r.json()
        self.token = str(data["token"])
        self.token_expires = float(data["expires_at"])
        return self.token

    async def logout(self) -> None:
        """Revoke this client's token on every node and close the connection."""
        self._closing = True
        if self.token is not None:
            headers = {"accept-language": self.lang, "authorization": f"Bearer {self.token}"}
            async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
                _raise_for(await http.post("/auth/logout", headers=headers))
            self.token = None
        await self.close()

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        if self.token is None or self.token_expires - time.time() < 30:
            await self.login()
        ws_url = (
            self.base_url.replace("http", "ws", 1)
            + "/ws?"
            + urlencode({"token": self.token, "lang": self.lang})
        )
        self.ws = await websockets.connect(ws_url, max_size=2**24, ping_interval=None)
        welcome = await self._recv_one()
        self.node = welcome.get("node")
        server_beat = welcome.get("heartbeat")
        if isinstance(server_beat, (int, float)) and server_beat > 0:
            # Beat at least as often as the node expects, so presence never lapses.
            self.heartbeat = min(self.heartbeat, float(server_beat))
        self.connected.set()
        self._tasks = [
            asyncio.create_task(self._read_loop(self.ws)),
            asyncio.create_task(self._heartbeat_loop(self.ws)),
        ]
        for sub in self.subs.values():
            sub.ready.clear()
        for msg in self.protocol.resume():  # subscriptions from their cursor, then commands
            await self._send(msg)

    async def _recv_one(self) -> dict[str, Any]:
        assert self.ws is not None
        raw = await asyncio.wait_for(self.ws.recv(), 10)
        first, *extra = frames(raw)
        for msg in extra:
            self._handle(msg)
        return dict(first)

    async def _send(self, msg: dict[str, Any]) -> None:
        if self.ws is None:
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps(msg, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        """Send a frame as is (tests use it to send garbage)."""
        assert self.ws is not None
        await self.ws.send(data)

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed, asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.heartbeat)
                await ws.send(messages.HEARTBEAT_FRAME)

    async def _read_loop(self, ws: ClientConnection) -> None:
        code: int = CloseCode.ABNORMAL
        try:
            async for raw in ws:
                for item in frames(raw):
                    self._handle(item)
        except websockets.ConnectionClosed:
            pass
        finally:
            if ws.close_code is not None:
                code = ws.close_code
        if self.ws is ws:
            self.connected.clear()
            self.close_codes.append(code)
            if self.protocol.must_log_in_again(code):  # the token expired: log in again
                self.token = None
            reconnect = self.protocol.reconnects_after(code)
            if not self._closing and self.auto_reconnect and reconnect:
                asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        delay = 0.05
        while not self._closing:
            self._url_index += 1
            try:
                await self.connect()
                self.reconnects += 1
                return
            except (
                OSError,
                websockets.WebSocketException,
                httpx.HTTPError,
                ClientError,
                TimeoutError,
            ):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _handle(self, msg: dict[str, Any]) -> None:
        event = self.protocol.handle(msg)
        if event is not None:
            self._on(event)

    def _on(self, event: ProtocolEvent) -> None:
        if isinstance(event, Delivered):
            sub = self.subs.get(event.stream)
            if sub is not None:
                sub.last_seq = event.seq
                sub.queue.put_nowait(event.message)
        elif isinstance(event, Answered):
            future = self._waiting.pop(event.id, None)
            if future is not None and not future.done():
                if event.error is None:
                    future.set_result(event.message)
                else:
                    future.set_exception(_client_error(event.error))
        elif isinstance(event, SubscriptionRefused):
            sub = self.subs.get(event.stream)
            if sub is not None:
                sub.error = _client_error(event.error)
                sub.ready.set()
        elif isinstance(event, Unanswered):
            self.errors.append(event.message)
        elif isinstance(event, Subscribed):
            sub = self.subs.get(event.stream)
            if sub is not None:
                sub.head_at_subscribe = event.head
                sub.ready.set()
        elif isinstance(event, WentLive):
            sub = self.subs.get(event.stream)
            if sub is not None:
                sub.live_seq = event.seq
                sub.live.set()
        elif isinstance(event, PresenceChanged):
            self.presence[event.stream] = event.members
            self.presence_changed.set()

    # -- public API ------------------------------------------------------------------------
    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def command(
        self,
        stream: str,
        type_: str,
        body: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        sign: bool = False,
        timeout: float = 15.0,
        retry_unavailable: bool = False,
    ) -> dict[str, Any]:
        """Send a command and wait for its ack; raise ``ClientError`` when refused.

        ``retry_unavailable`` retries every retryable refusal (``store_unavailable``...) with
        the same id until ``timeout``; ``outcome_unknown`` is retried in any case."""
        client_id = id or self.new_id()
        body = body or {}
        sig = None
        if sign:
            sig = self.key.sign(
                command_signing_bytes(client_id=client_id, stream=stream, type=type_, body=body)
            )
        msg = messages.command(client_id, stream, type_, body, sig)
        deadline = time.monotonic() + timeout
        delay = 0.05
        unknown: ClientError | None = None
        while True:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiting[client_id] = future
            self.protocol.command(msg)
            if self.connected.is_set():
                await self._send(msg)
            try:
                return await asyncio.wait_for(future, max(0.001, deadline - time.monotonic()))
            except TimeoutError:
                # Out of time while asking again after ``outcome_unknown``: that is still the
                # answer (a group commit answers a whole batch so when its COMMIT is lost).
                if unknown is not None:
                    raise unknown from None
                raise
            except ClientError as err:
                # ``outcome_unknown`` is always asked again with the same id: the answer is
                # the first ack if it committed, or the command runs now. Until an answer
                # says which, a retry refused ``store_unavailable`` (that attempt changed
                # nothing) leaves it unknown, and the caller is told so.
                if err.code in RETRY_ALWAYS:
                    unknown = err
                again = unknown is not None or (retry_unavailable and err.retryable)
                if not (again and err.retryable) or time.monotonic() > deadline:
                    if unknown is not None and err.retryable:
                        raise unknown from err
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
            finally:
                self._waiting.pop(client_id, None)
                self.protocol.forget(client_id)

    async def subscribe(self, stream: str, after: int = 0, timeout: float = 10.0) -> Subscription:
        sub = Subscription(stream, after)
        self.subs[stream] = sub
        await self._send(self.protocol.subscribe(stream, after))
        await asyncio.wait_for(sub.ready.wait(), timeout)
        if sub.error is not None:
            self.subs.pop(stream, None)
            self.protocol.unsubscribe(stream)
            raise sub.error
        return sub

    async def bid_stream(self, tender: str) -> str | None:
        """This participant's company's own stream in ``tender`` (``bid:…``: its registration,
        bids and refused attempts, kept apart from the tender's stream so that nobody can count
        bidders), from ``/api/tenders``; None when the company has not joined."""
        if self.token is None:
            await self.login()
        headers = {"authorization": f"Bearer {self.token}", "accept-language": self.lang}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            r = await http.get("/api/tenders", headers=headers)
        _raise_for(r)
        for row in r.json().get("tenders", []):
            if row.get("tender") == tender.removeprefix("tender:"):
                found = row.get("bid_stream")
                return str(found) if found else None
        return None

    async def watch_presence(self, stream: str) -> None:
        await self._send({"t": "presence", "stream": stream})

    async def wait_presence(
        self, stream: str, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            members = self.presence.get(stream)
            if members is not None and predicate(members):
                return members
            self.presence_changed.clear()
            await asyncio.wait_for(
                self.presence_changed.wait(), max(0.001, deadline - time.monotonic())
            )

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


def _client_error(msg: dict[str, Any]) -> ClientError:
    details = msg.get("details")
    return ClientError(
        msg["code"],
        msg.get("message", ""),
        msg.get("detail", ""),
        bool(msg.get("retryable")),
        details.get("field") if isinstance(details, dict) else None,
    )


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            data = response.json()
        except ValueError:
            raise ClientError("http_" + str(response.status_code), response.text[:200]) from None
        raise _client_error({"code": "error", **data})
