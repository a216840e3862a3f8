"""getUserSavedConfig and setDefaultModel (PROTOCOL.md §4.12, §4.13): the views, every formatting
rule of the edit, and the config actor driven the pykka way. Expected texts were taken from the
0.58.0 binary (see tests at the end, which re-check a few against it when it is present)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pykka
import pytest
from recorders import QueueRecorder as Recorder

from actors.config_store import ConfigActor
from config.edit import ConfigEditError, apply_model_edits, set_default_model, toml_string
from config.saved import read_user_saved_config
from messages.internal import Call, ConnectionClosed, Failure, Reply
from messages.jsonrpc import RpcError

REFERENCE = Path("/work/ref058/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex")
EMPTY_VIEW = {
    "approvalPolicy": None, "sandboxMode": None, "sandboxSettings": None, "forcedChatgptWorkspaceId": None,
    "forcedLoginMethod": None, "model": None, "modelReasoningEffort": None, "modelReasoningSummary": None,
    "modelVerbosity": None, "tools": None, "profile": None, "profiles": {},
}


@pytest.fixture(autouse=True)
def stop_actors():
    yield
    pykka.ActorRegistry.stop_all()


def saved(home: Path) -> dict[str, Any]:
    return read_user_saved_config(home, managed_config_path=None)


def saved_error(home: Path) -> str:
    with pytest.raises(RpcError) as caught:
        saved(home)
    assert caught.value.code == -32603
    return caught.value.message


# -- getUserSavedConfig -----------------------------------------------------------------------


def test_missing_file_gives_all_nulls_in_wire_order(tmp_path):
    result = saved(tmp_path)
    assert list(result) == ["config"]
    assert list(result["config"].items()) == list(EMPTY_VIEW.items())


def test_full_view(tmp_path):
    (tmp_path / "config.toml").write_text(
        'approval_policy="never"\nsandbox_mode="workspace-write"\nforced_login_method="api"\n'
        'forced_chatgpt_workspace_id="ws"\nmodel_verbosity="low"\nmodel_reasoning_summary="none"\n'
        'model_reasoning_effort="minimal"\nmodel = "m"\nprofile = "zz"\nunknown = 1\n'
        "[sandbox_workspace_write]\nnetwork_access=true\n[tools]\nview_image=false\n"
        '[profiles.b]\n[profiles.a]\nmodel="pm"\nchatgpt_base_url="u"\nzzz=1\n')
    view = saved(tmp_path)["config"]
    assert view == {
        "approvalPolicy": "never", "sandboxMode": "workspace-write",
        "sandboxSettings": {"writableRoots": [], "networkAccess": True, "excludeTmpdirEnvVar": False,
                            "excludeSlashTmp": False},
        "forcedChatgptWorkspaceId": "ws", "forcedLoginMethod": "api", "model": "m",
        "modelReasoningEffort": "minimal", "modelReasoningSummary": "none", "modelVerbosity": "low",
        "tools": {"webSearch": None, "viewImage": False}, "profile": "zz",
        "profiles": {
            "b": {"model": None, "modelProvider": None, "approvalPolicy": None, "modelReasoningEffort": None,
                  "modelReasoningSummary": None, "modelVerbosity": None, "chatgptBaseUrl": None},
            "a": {"model": "pm", "modelProvider": None, "approvalPolicy": None, "modelReasoningEffort": None,
                  "modelReasoningSummary": None, "modelVerbosity": None, "chatgptBaseUrl": "u"},
        },
    }
    assert list(view) == list(EMPTY_VIEW)
    assert list(view["profiles"]["a"]) == ["model", "modelProvider", "approvalPolicy", "modelReasoningEffort",
                                           "modelReasoningSummary", "modelVerbosity", "chatgptBaseUrl"]


def test_view_details(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[sandbox_workspace_write]\nwritable_roots=["/x","rel"]\nexclude_slash_tmp=true\n'
        "exclude_tmpdir_env_var=true\n[tools]\nweb_search_request=true\n")
    view = saved(tmp_path)["config"]
    assert view["sandboxSettings"] == {"writableRoots": ["/x", "rel"], "networkAccess": False,
                                       "excludeTmpdirEnvVar": True, "excludeSlashTmp": True}
    assert view["tools"] == {"webSearch": True, "viewImage": None}
    (tmp_path / "config.toml").write_text("[tools]\n")
    assert saved(tmp_path)["config"]["tools"] == {"webSearch": None, "viewImage": None}


def test_saved_config_is_read_fresh_and_ignores_missing_profiles(tmp_path):
    (tmp_path / "config.toml").write_text('model = "a"\n')
    assert saved(tmp_path)["config"]["model"] == "a"
    (tmp_path / "config.toml").write_text('model = "b"\nprofile = "missing"\nmodel_provider = "nowhere"\n')
    assert saved(tmp_path)["config"]["model"] == "b"
    assert saved(tmp_path)["config"]["profile"] == "missing"


@pytest.mark.parametrize(("text", "message"), [
    ("model = \n", "failed to load config.toml: TOML parse error at line 1, column 9\n  |\n1 | model = \n"
                   "  |         ^\ninvalid value\n"),
    ("model = 5\n", "failed to parse config.toml: invalid type: integer `5`, expected a string\nin `model`\n"),
    ("[profiles.x]\nmodel = 5\n", "failed to parse config.toml: invalid type: integer `5`, expected a string\n"
                                  "in `profiles.x.model`\n"),
    ('approval_policy = "bogus"\n', "failed to parse config.toml: unknown variant `bogus`, expected one of "
                                    "`untrusted`, `on-failure`, `on-request`, `never`\nin `approval_policy`\n"),
])
def test_saved_config_errors(tmp_path, text, message):
    (tmp_path / "config.toml").write_text(text)
    assert saved_error(tmp_path) == message


def test_saved_config_directory_error(tmp_path):
    (tmp_path / "config.toml").mkdir()
    assert saved_error(tmp_path) == "failed to load config.toml: Is a directory (os error 21)"


# -- setDefaultModel formatting (each case observed on 0.58.0) ---------------------------------


ROOT_CASES = [
    # An existing value is replaced in place; its trailing comment goes; new keys follow the last key.
    ('# top\na = 1\n# about model\nmodel = "x" # trailing\nb = 2\n\n# before t\n[t]\nc = 3\n',
     "gpt-5.1", "high",
     '# top\na = 1\n# about model\nmodel = "gpt-5.1"\nb = 2\nmodel_reasoning_effort = "high"\n'
     '\n# before t\n[t]\nc = 3\n'),
    # Removing a key removes the comment lines (and blank lines) directly above it.
    ('# top\na = 1\n# about model\nmodel = "x" # trailing\nb = 2\n\n# before t\n[t]\nc = 3\n', None, None,
     "# top\na = 1\nb = 2\n\n# before t\n[t]\nc = 3\n"),
    ('a = 1\n\n# about model\n\nmodel = "x"\nb = 2\n', None, None, "a = 1\nb = 2\n"),
    # Nothing left: an empty file.
    ('model = "x"\nmodel_reasoning_effort = "low"\n', None, None, ""),
    ('model = "x"\n# trailing\n', None, None, "# trailing\n"),
    ("a = 1\n\n[t]\nc = 3\n", "m", None, 'a = 1\nmodel = "m"\n\n[t]\nc = 3\n'),
    # A value of the wrong type is simply overwritten.
    ("model = 5 # c\n", "m", None, 'model = "m"\n'),
    # With no root keys, new keys go first, before comments that belong to the first table.
    ("[tools]\nx=1\n", "m", "low", 'model = "m"\nmodel_reasoning_effort = "low"\n[tools]\nx=1\n'),
    ("# c\n\n[tools]\nx = 1\n", "m", None, 'model = "m"\n# c\n\n[tools]\nx = 1\n'),
    # The key keeps its own spacing; the value gets one space after "=".
    ('model   =    "x"   # c\n', "m", None, 'model   = "m"\n'),
    ('  model="x"\n', "m", None, '  model= "m"\n'),
    ("x.y = 1\nmodel.z = 1\n", "m", None, 'x.y = 1\nmodel = "m"\n'),
    ('model = "x"\nb = 1\n', "q", "low", 'model = "q"\nb = 1\nmodel_reasoning_effort = "low"\n'),
    ("a = 1", "m", None, 'a = 1\nmodel = "m"\n'),
    ("a = 1\n# end", "m", None, 'a = 1\nmodel = "m"\n# end'),
    ('a = [\n  1, # one\n  2,\n]\nmodel = """\nx\n"""\n[t]\n', "m", None,
     'a = [\n  1, # one\n  2,\n]\nmodel = "m"\n[t]\n'),
    ("", "m", None, 'model = "m"\n'),
    ('a = 1\n[profiles.x]\nmodel = "y"\n', "m", None, 'a = 1\nmodel = "m"\n[profiles.x]\nmodel = "y"\n'),
]


@pytest.mark.parametrize(("before", "model", "effort", "after"), ROOT_CASES)
def test_root_edits(before, model, effort, after):
    text, mutated = apply_model_edits(before, None, model, effort)
    assert mutated
    assert text == after


PROFILE_CASES = [
    ('profile = "p"\n[profiles.p]\nmodel = "a"\n', "m", "high",
     'profile = "p"\n[profiles.p]\nmodel = "m"\nmodel_reasoning_effort = "high"\n'),
    ('profile = "p"\n[profiles.p]\nmodel = "a"\n', None, None, 'profile = "p"\n[profiles.p]\n'),
    # A new table: a blank line before it unless it is the first thing in the file.
    ("a = 1\n", "m", None, 'a = 1\n\n[profiles.p]\nmodel = "m"\n'),
    ("profiles = 5\n", "m", None, '[profiles.p]\nmodel = "m"\n'),
    ("a = 1\n# trailing\n", "m", None, 'a = 1\n\n[profiles.p]\nmodel = "m"\n# trailing\n'),
    # It goes after its sibling tables, before the comments that lead the next table.
    ("a = 1\n[profiles.q]\nx = 1\n\n# c\n[other]\ny = 2\n", "m", None,
     'a = 1\n[profiles.q]\nx = 1\n\n[profiles.p]\nmodel = "m"\n\n# c\n[other]\ny = 2\n'),
    ("[profiles.q]\nx=1\n[other]\n[profiles.r]\ny=2\n\n#c\n", "m", None,
     '[profiles.q]\nx=1\n[other]\n[profiles.r]\ny=2\n\n[profiles.p]\nmodel = "m"\n\n#c\n'),
    ("a = 1\n[profiles]\nx = 1\n[profiles.p]\nz = 1\n[zz]\n", "m", None,
     'a = 1\n[profiles]\nx = 1\n[profiles.p]\nz = 1\nmodel = "m"\n[zz]\n'),
    ('profiles.p.model = "x"\n', "m", None, 'profiles.p.model = "m"\n'),
    ('profiles = { p = { model = "x" } }\n', "m", "low", '[profiles.p]\nmodel = "m"\nmodel_reasoning_effort = "low"\n'),
    ('[profiles.p]\nmodel = "x"\n[profiles.p.sub]\nk = 1\n', None, "low",
     '[profiles.p]\nmodel_reasoning_effort = "low"\n[profiles.p.sub]\nk = 1\n'),
    ("[profiles.p]\n# c\n[x]\n", "m", None, '[profiles.p]\nmodel = "m"\n# c\n[x]\n'),
    ('[profiles.p]\n  model = "x"  # c\n  other = 1\n', "m", "low",
     '[profiles.p]\n  model = "m"\n  other = 1\nmodel_reasoning_effort = "low"\n'),
]


@pytest.mark.parametrize(("before", "model", "effort", "after"), PROFILE_CASES)
def test_profile_edits(before, model, effort, after):
    text, mutated = apply_model_edits(before, "p", model, effort)
    assert mutated
    assert text == after


@pytest.mark.parametrize(("value", "written"), [
    ("gpt-5.1", '"gpt-5.1"'),
    ("a\tb", '"a\\tb"'),
    ("a'b", "\"a'b\""),
    ('a"b', "'a\"b'"),
    ("a\\b'", "'''a\\b''''"),
    ("a\"b'c", '"""a"b\'c"""'),
    ('x\ny"z', '"""\nx\ny"z"""'),
    ('x\ny""""', "'''\nx\ny\"\"\"\"'''"),
    ("a\n'''\"\"\"", '"""\na\n\'\'\'""\\""""'),
    ("a\\\\b\tc\x01", '"a\\\\\\\\b\\tc\\u0001"'),
    ("it's \"q\" \\\\ é\n", "'''\nit's \"q\" \\\\ é\n'''"),
    ('x\n"y\r', '"""\nx\n"y\\r"""'),
])
def test_strings_are_written_in_toml_edits_style(value, written):
    assert toml_string(value) == written


def test_nothing_removed_means_nothing_written(tmp_path):
    set_default_model(tmp_path, None, None, None)
    assert not (tmp_path / "config.toml").exists()
    (tmp_path / "config.toml").write_text("a = 1\n")
    os.chmod(tmp_path / "config.toml", 0o644)
    set_default_model(tmp_path, "p", None, None)
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o644
    assert apply_model_edits("a = 1\n", None, None, None) == ("a = 1\n", False)


def test_file_is_rewritten_0600_and_created_when_missing(tmp_path):
    set_default_model(tmp_path, None, "m", "low")
    path = tmp_path / "config.toml"
    assert path.read_text() == 'model = "m"\nmodel_reasoning_effort = "low"\n'
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text('model = "x"\r\nb = 1\r\n')
    os.chmod(path, 0o644)
    set_default_model(tmp_path, None, "q", None)
    assert path.read_bytes() == b'model = "q"\nb = 1\n'
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left behind


def test_edit_errors(tmp_path):
    (tmp_path / "config.toml").write_text("model = \n")
    with pytest.raises(ConfigEditError) as caught:
        set_default_model(tmp_path, None, "m", None)
    assert str(caught.value).startswith("TOML parse error at line 1, column 9\n  |\n1 | model = \n")
    (tmp_path / "config.toml").unlink()
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigEditError, match=r"^Is a directory \(os error 21\)$"):
        set_default_model(tmp_path, None, "m", None)


# -- the actor --------------------------------------------------------------------------------


def start_actor(home: Path, profile: str | None = None) -> tuple[pykka.ActorRef, queue.Queue[Any]]:
    inbox: queue.Queue[Any] = queue.Queue()
    outgoing = Recorder.start(inbox)
    config = SimpleNamespace(codex_home=home, profile=profile)
    return ConfigActor.start(outgoing, config, managed_config_path=None), inbox


def call(actor: pykka.ActorRef, inbox: queue.Queue[Any], request_id: int, method: str, handler: str,
         params: Any) -> Any:
    actor.tell(Call(0, request_id, method, handler, params, "ua"))
    return inbox.get(timeout=10)


def test_actor_answers_both_methods(tmp_path):
    (tmp_path / "config.toml").write_text('profile = "p"\n[profiles.p]\nmodel = "a"\n')
    actor, inbox = start_actor(tmp_path, profile="p")
    actor.tell(ConnectionClosed(0))  # nothing to drop, and nothing sent
    reply = call(actor, inbox, 1, "setDefaultModel", "set_default_model",
                 SimpleNamespace(model="gpt-5.1", reasoning_effort="high"))
    assert reply == Reply(0, 1, {})
    reply = call(actor, inbox, 2, "getUserSavedConfig", "get_user_saved_config", None)
    assert isinstance(reply, Reply) and reply.request_id == 2
    assert reply.result["config"]["profiles"]["p"]["model"] == "gpt-5.1"
    assert reply.result["config"]["profiles"]["p"]["modelReasoningEffort"] == "high"
    assert reply.result["config"]["model"] is None


def test_actor_reports_failures_and_stays_alive(tmp_path):
    (tmp_path / "config.toml").mkdir()
    actor, inbox = start_actor(tmp_path)
    failure = call(actor, inbox, "a", "setDefaultModel", "set_default_model", SimpleNamespace(model="m"))
    assert failure == Failure(0, "a", -32603, "failed to persist model selection: Is a directory (os error 21)")
    failure = call(actor, inbox, "b", "getUserSavedConfig", "get_user_saved_config", None)
    assert failure == Failure(0, "b", -32603, "failed to load config.toml: Is a directory (os error 21)")
    (tmp_path / "config.toml").rmdir()
    assert call(actor, inbox, 3, "setDefaultModel", "set_default_model", SimpleNamespace()) == Reply(0, 3, {})
    assert not (tmp_path / "config.toml").exists()


# -- against the reference binary, when present -----------------------------------------------


def _reference_set_default_model(home: Path, start_text: str, text: str, params: dict[str, Any],
                                  profile: str | None) -> str | None:
    (home / "config.toml").write_text(start_text)
    args = [str(REFERENCE), *(["-c", f'profile="{profile}"'] if profile else []), "app-server"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=home, env={**os.environ, "CODEX_HOME": str(home)})
    assert proc.stdin and proc.stdout

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        proc.stdin.write((json.dumps(request) + "\n").encode())
        proc.stdin.flush()
        while True:
            answer = json.loads(proc.stdout.readline())
            if answer.get("id") == request["id"]:
                return answer

    try:
        ask({"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "1"}}})
        (home / "config.toml").write_text(text)
        ask({"id": 1, "method": "setDefaultModel", "params": params})
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    path = home / "config.toml"
    return path.read_text() if path.exists() else None


@pytest.mark.skipif(not REFERENCE.exists() or shutil.which("git") is None, reason="reference binary not present")
@pytest.mark.parametrize(("profile", "case"), [(None, ROOT_CASES[0]), (None, ROOT_CASES[1]), ("p", PROFILE_CASES[5])])
def test_matches_reference_binary(tmp_path, profile, case):
    before, model, effort, _ = case
    params = {"model": model, "reasoningEffort": effort}
    expected = _reference_set_default_model(tmp_path, "[profiles.p]\n" if profile else "", before, params, profile)
    assert apply_model_edits(before, profile, model, effort)[0] == expected
