"""Every command the platform accepts, gathered from the service modules of each capability.

Adding a capability: pure ``DECIDERS``/``COMMAND_ROLES`` in ``evalroom.domain.<x>``, body
schemas and hooks in ``evalroom.services.<x>`` exporting ``SPECS``, and one line here. Every
event type it emits must be declared in ``evalroom.domain.visibility.EVENTS``:
``check_event_declarations`` runs when a node starts and refuses to start otherwise.
"""

from __future__ import annotations

import functools
import inspect
import pkgutil
from importlib import import_module

import evalroom.domain
from evalroom.domain import visibility
from evalroom.services import award, bids, opening, redflags, session, tender
from evalroom.services.spec import CommandSpec

_MODULES = [tender.SPECS, bids.SPECS, opening.SPECS, session.SPECS, award.SPECS, redflags.SPECS]

REGISTRY: dict[str, CommandSpec] = {spec.name: spec for specs in _MODULES for spec in specs}

# Types the services emit themselves (the pipeline records refusals).
SERVICE_EVENTS = ("command.refused",)


@functools.cache
def check_event_declarations() -> None:
    """Raise ``UndeclaredEvent`` if any event type the domain emits has no declared audience."""
    sources = [
        inspect.getsource(import_module(f"evalroom.domain.{info.name}"))
        for info in pkgutil.iter_modules(evalroom.domain.__path__)
    ]
    visibility.check_sources(sources, SERVICE_EVENTS)
