"""Frames that wait together leave as one: a JSON array of the waiting frames.

The hub's writer takes what is queued (up to ``BATCH_BYTES`` and ``BATCH_FRAMES``) and sends
one text frame, so a burst costs one socket write; a client splits it again with ``frames``.
A single frame is sent as is, never wrapped. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from wire.codes import BATCH_BYTES, BATCH_FRAMES


def take_batch(
    queue: deque[str], max_bytes: int = BATCH_BYTES, max_frames: int = BATCH_FRAMES
) -> str:
    """Pop the first frame of ``queue`` and, while there is room, the ones after it; return
    the text to send. The bounds keep a slow reader's backlog in the queue (where it is
    counted), not in socket buffers. ``queue`` must not be empty."""
    first = queue.popleft()
    if not queue:
        return first
    batch, size = [first], len(first)
    while queue and size < max_bytes and len(batch) < max_frames:
        size += len(queue[0])
        batch.append(queue.popleft())
    return batch[0] if len(batch) == 1 else "[" + ",".join(batch) + "]"


def frames(text: str | bytes) -> list[dict[str, Any]]:
    """The server's messages in one received frame: a batch's members, or the one message."""
    value = json.loads(text)
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]
