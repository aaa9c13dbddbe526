"""The ``/ws`` protocol as values: pure, shared by the hub, the SDK and the benchmarks.

- ``wire.codes``: the protocol version, close codes, error codes and frame limits.
- ``wire.messages``: the client's messages (validated strictly) and the server's shapes.
- ``wire.batch``: frames that wait together leave as one JSON array; ``frames`` splits them.
- ``wire.client``: the client's side of the protocol without I/O (pending commands, stream
  cursors, live markers, what to send again after a reconnect).

Imports pydantic and the standard library only, nothing of ours (an import-linter contract).
"""

from wire.codes import (
    ERROR_CODES,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    RECONNECT_CLOSES,
    RESUMABLE_CLOSES,
    CloseCode,
)

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "RECONNECT_CLOSES",
    "RESUMABLE_CLOSES",
    "CloseCode",
]
