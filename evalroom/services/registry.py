"""Every command the platform accepts, gathered from the service modules of each capability.

Adding a capability: pure ``DECIDERS``/``COMMAND_ROLES`` in ``evalroom.domain.<x>``, body
schemas and hooks in ``evalroom.services.<x>`` exporting ``SPECS``, and one line here.
"""

from __future__ import annotations

from evalroom.services import opening, session, tender
from evalroom.services.spec import CommandSpec

_MODULES = [tender.SPECS, opening.SPECS, session.SPECS]

REGISTRY: dict[str, CommandSpec] = {spec.name: spec for specs in _MODULES for spec in specs}
