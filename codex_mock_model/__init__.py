"""The scripted model: a loopback OpenAI-compatible server (Responses and Chat Completions SSE)
scripted over a small HTTP control API, or recording / replaying cassettes of real traffic.
Shipped with the server as `codex-app-server mock-model`; `codex-app-server demo` drives a whole
IDE session against it."""

from codex_mock_model.cassette import CassetteError, Recorder, Replayer
from codex_mock_model.script import Script, Step, parse_steps, script_json_schema
from codex_mock_model.server import MockModel, main

__all__ = ["CassetteError", "MockModel", "Recorder", "Replayer", "Script", "Step", "main", "parse_steps",
           "script_json_schema"]
