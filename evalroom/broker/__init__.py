"""Fan-out of committed events between nodes.

A broker carries what PostgreSQL already holds; losing a message costs latency, never data,
because every node checks stream heads and fills gaps from PostgreSQL. ``LocalBroker`` serves
one node (no ``REDIS_URL``); ``RedisBroker`` serves many.
"""

from evalroom.broker.base import Broker, MessageHandler, ResyncHandler
from evalroom.broker.local import LocalBroker
from evalroom.broker.redis import RedisBroker

__all__ = ["Broker", "LocalBroker", "MessageHandler", "RedisBroker", "ResyncHandler"]
