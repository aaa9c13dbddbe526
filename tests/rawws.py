"""A bare WebSocket client over a plain socket, for faults the websockets client hides:
it can stop reading entirely, so the kernel buffers fill and the server sees a slow consumer."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any

from websockets.frames import Frame, Opcode


class RawWebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, port: int, path: str) -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**14)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        return cls(reader, writer)

    def send_json(self, value: Any) -> None:
        frame = Frame(Opcode.TEXT, json.dumps(value).encode())
        self.writer.write(frame.serialize(mask=True, extensions=[]))

    async def read_messages(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Read frames until the server closes; return every JSON message (batches flattened)."""
        messages: list[dict[str, Any]] = []
        while True:
            try:
                head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            except (asyncio.IncompleteReadError, ConnectionError):
                return messages
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if opcode == Opcode.CLOSE.value:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                return messages
            if opcode == Opcode.TEXT.value:
                value = json.loads(payload)
                messages.extend(value if isinstance(value, list) else [value])

    def close(self) -> None:
        self.writer.close()
