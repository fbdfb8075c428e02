"""Everything a node's request handlers share, built once at start-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatserver.broker import Broker
from chatserver.config import Config
from chatserver.connection import Connection
from chatserver.hub import Hub
from chatserver.pipeline import Pipeline
from chatserver.protocol import Request
from chatserver.sessions import GuestSessions

# A handler returns the reply's result fields, or NO_REPLY when it replied itself
# (join) or the op has no reply (typing).
NO_REPLY: dict[str, Any] = {}
Handler = Callable[["Services", Connection, Request], Awaitable[dict[str, Any]]]


@dataclass(eq=False)
class Services:
    config: Config
    broker: Broker
    hub: Hub
    pipeline: Pipeline
    guests: GuestSessions
    handlers: dict[str, Handler] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
