"""The config actor: the one writer of config.toml, and the reader behind getUserSavedConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pykka

from actors.base import FeatureActor
from config.edit import ConfigEditError, set_default_model
from config.loader import MANAGED_CONFIG_PATH
from config.saved import read_user_saved_config
from messages.internal import Call, ConnectionClosed
from messages.jsonrpc import internal_error


class ConfigActor(FeatureActor):
    """Owns `CODEX_HOME/config.toml` edits; its mailbox serialises them, so two `setDefaultModel`
    calls never interleave their read-modify-write. The files are small, so handlers do the I/O inline.

    Accepts (as `Call`): `get_user_saved_config` (getUserSavedConfig, no params) and
    `set_default_model` (setDefaultModel; params with `.model` and `.reasoning_effort`); and
    `ConnectionClosed`, which needs nothing here (no per-connection state).
    """

    codex_home: Path
    profile_at_startup: str | None  # 0.58 edits the profile active when the server started
    managed_config_path: Path | None

    def __init__(
        self,
        outgoing: pykka.ActorRef,
        config: Any,
        *,
        managed_config_path: Path | None = MANAGED_CONFIG_PATH,
    ) -> None:
        super().__init__(outgoing)
        self.codex_home = Path(config.codex_home)
        self.profile_at_startup = config.profile
        self.managed_config_path = managed_config_path

    def on_message(self, message: Any) -> Any:
        if isinstance(message, ConnectionClosed):
            return None
        return super().on_message(message)

    def get_user_saved_config(self, call: Call) -> dict[str, Any]:
        return read_user_saved_config(self.codex_home, self.managed_config_path)

    def set_default_model(self, call: Call) -> dict[str, Any]:
        params = call.params
        try:
            set_default_model(
                self.codex_home,
                self.profile_at_startup,
                getattr(params, "model", None),
                getattr(params, "reasoning_effort", None),
            )
        except ConfigEditError as error:
            raise internal_error(f"failed to persist model selection: {error}") from None
        return {}
