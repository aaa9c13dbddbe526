"""Each hostile input that once reached a traceback, over real sockets to a node process:
refused with its code, the socket kept open, nothing changed, nothing in the node's log."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets

from evalroom.bounds import MAX_DEPTH, MAX_SAFE_INTEGER
from tests.hostile import LoggedNode, RawSocket, logged_node, login, snapshot
from tests.support import Participant, add_participant

__all__ = ["logged_node"]  # the fixture, imported for this module

pytestmark = pytest.mark.timeout(120)


@pytest_asyncio.fixture(loop_scope="session")
async def node(logged_node: LoggedNode) -> AsyncIterator[LoggedNode]:
    """The module's node; each test must leave no error in its log."""
    logged_node.new_log()
    yield logged_node
    logged_node.assert_log_clean()


async def _agency(node: LoggedNode) -> tuple[Participant, str, str]:
    """An agency with a token and a published tender of its own: (agency, token, stream)."""
    agency = await add_participant(node.pool, "agency", roles=[("agency", "platform")])
    token = await login(node, agency)
    stream = f"tender:H{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        for i, (type_, body) in enumerate(
            [("tender.create", {"title": "恶意输入"}), ("tender.publish", {})]
        ):
            r = await http.post(
                "/api/commands", json={"id": f"c{i}", "stream": stream, "type": type_, "body": body}
            )
            assert r.status_code == 200, r.text
    return agency, token, stream


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "accept-language": "en"}


def _cmd(id_: str, stream: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"t": "cmd", "v": 1, "id": id_, "stream": stream, "type": type_, "body": body}


async def _notice_works(sock: RawSocket, stream: str) -> None:
    """The same socket still carries a valid command to its ack."""
    [answer] = await sock.send(
        [
            json.dumps(
                _cmd("ok-" + uuid.uuid4().hex[:6], stream, "tender.notice", {"text": "仍可用"})
            )
        ]
    )
    assert answer["t"] == "ack", answer


# -- an integer beyond what canonical JSON holds ---------------------------------------------


async def test_a_big_integer_in_a_command_body_is_refused_over_the_socket(
    node: LoggedNode,
) -> None:
    _agency_p, token, stream = await _agency(node)
    sock = await RawSocket.open(node, token)
    before = await snapshot(node.pool)
    new = f"tender:B{uuid.uuid4().hex[:8]}"
    frames = [
        json.dumps(_cmd("big-1", new, "tender.create", {"title": "t", "config": {"n": 2**64}})),
        json.dumps(_cmd("big-2", stream, "tender.notice", {"text": "x", "n": -(2**70)})),
        json.dumps(
            _cmd(
                "big-3", new, "tender.create", {"title": "t", "config": {"n": MAX_SAFE_INTEGER + 1}}
            )
        ),
        json.dumps(_cmd("big-4", stream, "tender.notice", {"text": "x"}))[:-1]
        + ',"extra":'
        + "9" * 5000
        + "}",
    ]
    answers = await sock.send(frames)
    assert [(a["t"], a["code"], a.get("id")) for a in answers] == [
        ("error", "invalid", "big-1"),
        ("error", "invalid", "big-2"),
        ("error", "invalid", "big-3"),
        ("error", "invalid", "big-4"),
    ]
    assert "2^53" in answers[0]["detail"]
    assert await snapshot(node.pool) == before
    await _notice_works(sock, stream)
    await sock.close()


async def test_a_big_integer_in_a_command_body_is_refused_over_http(node: LoggedNode) -> None:
    _agency_p, token, _stream = await _agency(node)
    before = await snapshot(node.pool)
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        r = await http.post(
            "/api/commands",
            json={
                "id": "big-http",
                "stream": f"tender:B{uuid.uuid4().hex[:8]}",
                "type": "tender.create",
                "body": {"title": "t", "config": {"threshold": {"k": 2**64, "n": 3}}},
            },
        )
    assert (r.status_code, r.json()["code"]) == (422, "invalid"), r.text
    assert r.json()["detail"].startswith("body.config.threshold.k")
    assert await snapshot(node.pool) == before


# -- nesting deeper than the decoder may recurse ---------------------------------------------


async def test_deep_nesting_in_a_frame_is_refused_and_the_socket_goes_on(
    node: LoggedNode,
) -> None:
    _agency_p, token, stream = await _agency(node)
    sock = await RawSocket.open(node, token)
    before = await snapshot(node.pool)
    deep_body = "[" * 5000 + "]" * 5000
    frames = [
        "[" * 5000,
        "[" * 5000 + "]" * 5000,
        json.dumps(_cmd("deep", stream, "tender.notice", {"text": "PLACE"})).replace(
            '"PLACE"', deep_body
        ),
        json.dumps(_cmd("just-too-deep", stream, "tender.notice", {"text": _nested(MAX_DEPTH)})),
    ]
    answers = await sock.send(frames)
    assert [(a["code"], a.get("id")) for a in answers] == [
        ("malformed", None),
        ("too_large", None),
        ("too_large", "deep"),  # read from the frame's start, without decoding it
        ("too_large", "just-too-deep"),
    ]
    assert await sock.still_open()
    assert await snapshot(node.pool) == before
    await _notice_works(sock, stream)
    await sock.close()


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


async def test_deep_nesting_in_an_http_body_is_refused(node: LoggedNode) -> None:
    _agency_p, token, stream = await _agency(node)
    before = await snapshot(node.pool)
    deep = "[" * 5000 + "]" * 5000
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        command = await http.post(
            "/api/commands",
            content=json.dumps(
                {"id": "d", "stream": stream, "type": "tender.notice", "body": {"text": "PLACE"}}
            ).replace('"PLACE"', deep),
        )
        challenge = await http.post("/auth/challenge", content='{"user":' + deep + "}")
        login_ = await http.post("/auth/login", content="{" * 5000)
    assert (command.status_code, command.json()["code"]) == (413, "too_large")
    assert (challenge.status_code, challenge.json()["code"]) == (413, "too_large")
    assert (login_.status_code, login_.json()["code"]) == (400, "malformed")
    assert await snapshot(node.pool) == before


# -- NUL, which PostgreSQL's text cannot hold ------------------------------------------------


async def test_nul_in_the_login_challenge_is_refused(node: LoggedNode) -> None:
    before = await snapshot(node.pool)
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/auth/challenge", json={"user": "agency\x00"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid")
    assert "NUL" in r.json()["detail"]
    assert await snapshot(node.pool) == before


async def test_nul_in_a_login_is_refused(node: LoggedNode) -> None:
    p = await add_participant(node.pool, "expert")
    before = await snapshot(node.pool)
    async with httpx.AsyncClient(base_url=node.url) as http:
        answers = [
            await http.post("/auth/login", json=body)
            for body in (
                {"user": p.user_id + "\x00", "nonce": "n", "sig": "s"},
                {"user": p.user_id, "nonce": "\x00", "sig": "s"},
                {"user": p.user_id, "nonce": "n", "sig": "s\x00"},
                {"user": p.user_id, "nonce": "n", "sig": "s", "\x00": 1},
            )
        ]
    assert [(r.status_code, r.json()["code"]) for r in answers] == [(422, "invalid")] * 4
    assert await snapshot(node.pool) == before


async def test_nul_in_a_path_parameter_is_refused(node: LoggedNode) -> None:
    agency, token, stream = await _agency(node)
    name = stream.removeprefix("tender:")
    before = await snapshot(node.pool)
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        answers = [
            await http.get(f"/api/sessions/{name}%00/scores"),
            await http.get(f"/api/sessions/{name}%00/report.html"),
            await http.get(f"/api/tenders/{name}%00x/opened/S1-B01"),
            await http.put(f"/api/tenders/{name}/bids/S1%00/single", content=b"age"),
            await http.get("/api/log/tender:%00/checkpoint"),
            await http.get(f"/api/log/{stream}%00/proof/inclusion?seq=1"),
            await http.get("/app/%00"),
        ]
    assert [(r.status_code, r.json()["code"]) for r in answers] == [(422, "invalid")] * 7
    assert await snapshot(node.pool) == before


async def test_nul_in_a_query_parameter_is_refused(node: LoggedNode) -> None:
    _agency_p, token, stream = await _agency(node)
    before = await snapshot(node.pool)
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        answers = [
            await http.get(f"/api/sessions/{stream.removeprefix('tender:')}/scores?expert=%00"),
            await http.get(f"/api/log/{stream}/proof/inclusion?seq=1%00"),
            await http.get(f"/api/log/{stream}/checkpoints?after=0&limit=%00"),
            await http.get("/api/tenders?x=%00"),
        ]
    assert [(r.status_code, r.json()["code"]) for r in answers] == [(422, "invalid")] * 4
    for query in ("lang=%00", "token=%00"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{node.ws_url}?token={token}&{query}")
        assert refused.value.response.status_code == 403
    assert await snapshot(node.pool) == before


async def test_nul_in_a_command_body_is_refused_over_the_socket_and_http(
    node: LoggedNode,
) -> None:
    _agency_p, token, stream = await _agency(node)
    sock = await RawSocket.open(node, token)
    before = await snapshot(node.pool)
    answers = await sock.send(
        [
            json.dumps(_cmd("nul-1", stream, "tender.notice", {"text": "a\x00b"})),
            json.dumps(
                _cmd("nul-2", stream, "tender.grant", {"user": "u\x00", "role": "tenderer"})
            ),
            json.dumps(_cmd("nul-3", stream + "\x00", "tender.notice", {"text": "x"})),
            json.dumps(_cmd("nul-4", stream, "tender.notice", {"text": "x", "k\x00": 1})),
        ]
    )
    assert [(a["code"], a.get("id")) for a in answers] == [
        ("invalid", "nul-1"),
        ("invalid", "nul-2"),
        ("invalid", "nul-3"),
        ("invalid", "nul-4"),
    ]
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        r = await http.post(
            "/api/commands",
            json={
                "id": "nul-h",
                "stream": stream,
                "type": "tender.notice",
                "body": {"text": "\x00"},
            },
        )
    assert (r.status_code, r.json()["code"]) == (422, "invalid")
    assert await snapshot(node.pool) == before
    await _notice_works(sock, stream)
    await sock.close()


# -- the frame limit counts bytes ------------------------------------------------------------


async def test_the_frame_limit_counts_bytes_so_a_frame_of_chinese_text_over_it_is_refused(
    node: LoggedNode,
) -> None:
    _agency_p, token, stream = await _agency(node)
    sock = await RawSocket.open(node, token)
    before = await snapshot(node.pool)
    # 60,000 characters, under the 65,536 limit as characters; 180 KB as UTF-8.
    text = "评标" * 30_000
    frame = json.dumps(_cmd("cjk", stream, "tender.notice", {"text": text}), ensure_ascii=False)
    assert len(frame) < 64 * 1024 < len(frame.encode()) < 16 * 64 * 1024
    [answer] = await sock.send([frame])
    assert (answer["code"], answer.get("id")) == ("too_large", "cjk")
    assert await snapshot(node.pool) == before
    # Under the limit in bytes, the same kind of frame goes through.
    small = json.dumps(
        _cmd("cjk-ok", stream, "tender.notice", {"text": "评标" * 1000}), ensure_ascii=False
    )
    [ack] = await sock.send([small])
    assert (ack["t"], ack["id"]) == ("ack", "cjk-ok")
    await sock.close()


# -- found on the way ------------------------------------------------------------------------


async def test_a_bearer_token_that_is_not_ascii_is_unauthenticated(node: LoggedNode) -> None:
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.get(
            "/api/tenders", headers={"authorization": "Bearer v1.a.1.b.\u00e9".encode("latin-1")}
        )
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{node.ws_url}?token=v1.a.1.b.%C3%A9")
    assert refused.value.response.status_code == 403


async def test_a_proof_size_beyond_the_safe_integers_is_invalid(node: LoggedNode) -> None:
    _agency_p, token, stream = await _agency(node)
    async with httpx.AsyncClient(base_url=node.url, headers=_bearer(token)) as http:
        answers = [
            await http.get(f"/api/log/{stream}/proof/inclusion?seq=1&size=9999999999999999999"),
            await http.get(f"/api/log/{stream}/checkpoints?after=9223372036854775808"),
            await http.get(f"/api/log/{stream}/proof/consistency?from=1&to=\u0661"),
        ]
    assert [(r.status_code, r.json()["code"]) for r in answers] == [(422, "invalid")] * 3


async def test_nan_infinity_lone_surrogates_and_repeated_keys_are_refused(
    node: LoggedNode,
) -> None:
    _agency_p, token, stream = await _agency(node)
    sock = await RawSocket.open(node, token)
    before = await snapshot(node.pool)
    base = json.dumps(_cmd("x", stream, "tender.notice", {"text": "PLACE"}))
    frames = [base.replace('"PLACE"', raw) for raw in ("NaN", "-Infinity", "1e400", '"\\ud800"')]
    frames.append(base.replace('"id": "x"', '"id": "x", "id": "y"'))
    frames.append(b"\xff\xfe" + base.encode())  # not UTF-8, in a binary frame
    answers = await sock.send(frames)
    assert [a["code"] for a in answers] == [
        "malformed",
        "malformed",
        "invalid",
        "malformed",
        "malformed",
        "malformed",
    ]
    assert await sock.still_open()
    assert await snapshot(node.pool) == before
    await sock.close()
