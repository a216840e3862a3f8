"""Wire types of the methods we add for the daemon (beyond 0.58)."""

from __future__ import annotations

import msgspec


class DaemonStatusParams(msgspec.Struct, omit_defaults=True):
    """`daemon/status` takes an empty object."""


class DaemonStatusResponse(msgspec.Struct, rename="camel"):
    pid: int
    version: str
    uptime_seconds: float
    connections: int
    loaded_conversations: int | None
    addresses: list[str]


DAEMON_REQUESTS: dict[str, tuple[type, type]] = {
    "daemon/status": (DaemonStatusParams, DaemonStatusResponse),
}
