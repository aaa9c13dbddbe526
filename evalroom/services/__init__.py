"""Command handling: validate, authorize, decide (pure), commit, publish, ack."""
