"""The scripted model: a loopback OpenAI-compatible server (Responses and Chat Completions SSE)
scripted over a small HTTP control API. Shipped with the server as `codex-app-server mock-model`."""

from codex_mock_model.script import Script, Step, parse_steps, script_json_schema
from codex_mock_model.server import MockModel, main

__all__ = ["MockModel", "Script", "Step", "main", "parse_steps", "script_json_schema"]
