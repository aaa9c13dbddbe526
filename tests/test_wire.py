"""``wire``: the protocol's constants, batching and the client's state machine, pure (no
sockets, no node): frames in, events and frames out."""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from evalroom.errors import CATALOG
from wire.batch import frames, take_batch
from wire.client import (
    Answered,
    ClientProtocol,
    Delivered,
    PresenceChanged,
    Subscribed,
    SubscriptionRefused,
    Unanswered,
    Welcomed,
    WentLive,
)
from wire.codes import ERROR_CODES, PROTOCOL_VERSION, CloseCode
from wire.messages import command

JS = Path(__file__).resolve().parents[1] / "clients" / "web" / "js" / "connection.js"


def _event(stream: str, seq: int) -> dict[str, Any]:
    return {"t": "event", "stream": stream, "seq": seq, "type": "x", "payload": {}}


def _frame(*msgs: dict[str, Any]) -> str:
    return json.dumps(msgs[0] if len(msgs) == 1 else list(msgs))


def test_error_codes_are_the_catalogs() -> None:
    assert set(CATALOG) == ERROR_CODES


def test_browser_constants_are_wires() -> None:
    text = JS.read_text()
    version = re.search(r"export const PROTOCOL_VERSION = (\d+);", text)
    assert version is not None and int(version.group(1)) == PROTOCOL_VERSION
    block = re.search(r"export const CLOSE = Object\.freeze\(\{(.*?)\}\);", text, re.DOTALL)
    assert block is not None
    codes = dict(re.findall(r"(\w+): (\d+)", block.group(1)))
    assert codes, "no close code found in connection.js"
    assert {name: int(code) for name, code in codes.items()} == {
        name: int(CloseCode[name]) for name in codes
    }
    # No bare close code left in the module: each goes through CLOSE.
    bare = r"(?:close\(|onClose\([^)]*,\s*|code\s*[!=]==?\s*)\d{4}\b"
    assert not re.search(bare, text.replace(block.group(0), ""))


def test_batch_takes_what_waits_within_bounds() -> None:
    queue = deque(['{"a":1}'])
    assert take_batch(queue) == '{"a":1}' and not queue
    queue = deque([f'{{"n":{i}}}' for i in range(10)])
    text = take_batch(queue, max_frames=4)
    assert [m["n"] for m in frames(text)] == [0, 1, 2, 3] and len(queue) == 6
    big = "x" * 100
    queue = deque([json.dumps(big)] * 5)
    assert len(json.loads(take_batch(queue, max_bytes=150))) == 2
    assert frames(b'{"t":"hb"}') == [{"t": "hb"}]


def test_commands_are_answered_once_and_resent_until_then() -> None:
    proto = ClientProtocol()
    proto.command(command("c-1", "s", "note", {}))
    proto.command(command("c-2", "s", "note", {}))
    ack = {"t": "ack", "id": "c-1", "stream": "s", "seq": 3}
    refusal = {"t": "error", "id": "c-2", "code": "invalid", "message": "", "retryable": False}
    events = proto.receive(_frame(ack, refusal))
    assert events == [Answered("c-1", ack), Answered("c-2", refusal, error=refusal)]
    assert proto.pending == {} and proto.receive(_frame(ack)) == []  # a late duplicate
    proto.command(command("c-3", "s", "note", {"k": 1}))
    assert [m["id"] for m in proto.resume() if m["t"] == "cmd"] == ["c-3"]
    proto.forget("c-3")
    assert proto.resume() == []


def test_stream_cursor_delivers_in_order_and_resumes_after_it() -> None:
    proto = ClientProtocol()
    assert proto.subscribe("s", after=1) == {"t": "sub", "stream": "s", "after": 1}
    got = proto.receive(
        _frame(
            {"t": "subscribed", "stream": "s", "after": 1, "head": 3},
            _event("s", 1),  # already seen before subscribing
            _event("s", 2),
            _event("s", 3),
            {"t": "live", "stream": "s", "seq": 3},
            _event("other", 9),  # not subscribed
        )
    )
    assert [type(e) for e in got] == [Subscribed, Delivered, Delivered, WentLive]
    assert [e.seq for e in got if isinstance(e, Delivered)] == [2, 3]
    assert proto.cursors["s"].live and proto.cursors["s"].head_at_subscribe == 3
    # A new socket: the subscription starts over after seq 3, not live until told.
    assert proto.resume() == [{"t": "sub", "stream": "s", "after": 3}]
    assert not proto.cursors["s"].live
    assert proto.receive(_frame(_event("s", 3), _event("s", 4))) == [
        Delivered("s", 4, _event("s", 4))
    ]
    proto.unsubscribe("s")
    assert proto.resume() == [] and proto.receive(_frame(_event("s", 5))) == []


def test_errors_go_to_the_subscription_or_stand_alone() -> None:
    proto = ClientProtocol()
    proto.subscribe("secret")
    refused = {"t": "error", "stream": "secret", "code": "forbidden", "message": ""}
    stray = {"t": "error", "code": "malformed", "message": ""}
    assert proto.receive(_frame(refused, stray)) == [
        SubscriptionRefused("secret", refused),
        Unanswered(stray),
    ]


def test_welcome_and_presence() -> None:
    proto = ClientProtocol()
    welcome = {"t": "welcome", "v": 1, "node": "n1", "heartbeat": 2}
    members = [{"user": "u1"}]
    assert proto.receive(_frame(welcome, {"t": "presence", "stream": "s", "members": members})) == [
        Welcomed(welcome),
        PresenceChanged("s", members),
    ]


def test_which_closes_reconnect() -> None:
    for code in (1000, 1001, 1006, 1011, 1012, 1013, 4001, 4008, 4009):
        assert ClientProtocol.reconnects_after(code), code
    for code in (1002, 1009, 4003):
        assert not ClientProtocol.reconnects_after(code), code
    assert ClientProtocol.must_log_in_again(4001) and not ClientProtocol.must_log_in_again(1006)


def test_the_broker_carries_the_pipelines_roles_changed_mark() -> None:
    from evalroom.hub.channel import Wire

    for flag in (False, True):
        wire = Wire(7, "actor", None, '{"t":"event","a":"x\\ny"}', flag)
        assert Wire.decode(wire.encode()) == wire
    # A frame that merely mentions a role event does not mark anything.
    assert not Wire.decode(Wire(1, "public", "u", '{"type":"role.granted"}').encode()).roles_changed
