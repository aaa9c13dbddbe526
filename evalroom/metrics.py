"""Prometheus metrics of one node (its own registry, so several nodes can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.websockets = Gauge("evalroom_websockets", "Open WebSocket connections", registry=r)
        self.connections = Gauge(
            "evalroom_connections",
            "Connections by the role they hold in the streams they follow (one per stream)",
            ["role"],
            registry=r,
        )
        self.deliveries = Counter(
            "evalroom_deliveries_total", "Events queued to connections", registry=r
        )
        self.queue_depth = Gauge(
            "evalroom_send_queue_depth_max", "Deepest send queue on this node", registry=r
        )
        self.slow_closed = Counter(
            "evalroom_slow_consumers_closed_total",
            "Connections closed for falling behind",
            registry=r,
        )
        self.flow_held = Counter(
            "evalroom_flow_control_holds_total",
            "Times a publisher's socket was left unread because its in-flight commands"
            " reached the bound (it is slowed by TCP, never closed)",
            registry=r,
        )
        self.commands = Counter(
            "evalroom_commands_total", "Commands by outcome", ["outcome"], registry=r
        )
        self.command_latency = Histogram(
            "evalroom_command_seconds",
            "Command latency from receipt to ack",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.commit_batch = Histogram(
            "evalroom_commit_batch_commands",
            "Commands decided together in one group-commit transaction of a stream",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.refusals = Counter(
            "evalroom_refusals_total", "Refused messages by code", ["code"], registry=r
        )
        self.anonymous_garbage = Counter(
            "evalroom_anonymous_garbage_total", "Unauthenticated malformed requests", registry=r
        )
        self.gaps_filled = Counter(
            "evalroom_gap_fills_total",
            "Events fetched from PostgreSQL to fill a broker gap",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
