"""The `initialize` params, decoded before any other wire type is needed.

Twins of `v1.InitializeParams` / `v1.ClientInfo` (same names, fields and wire names, so decode errors read
the same): importing `messages.v1` pulls in most of the wire types, which would double the time to answer
`initialize`. `tests/test_catalog_lazy.py` keeps the twins identical to the v1 definitions.
"""

from __future__ import annotations

import msgspec


class ClientInfo(msgspec.Struct, kw_only=True):
    name: str
    title: str | None = None
    version: str


class InitializeParams(msgspec.Struct, kw_only=True):
    client_info: ClientInfo = msgspec.field(name="clientInfo")
