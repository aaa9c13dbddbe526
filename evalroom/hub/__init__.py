"""The WebSocket hub: the `/ws` endpoint, connections, per-stream delivery and presence."""
