"""The test kit from the outside: the example suite run where only the plugin distribution is
installed, the fixtures' reports, and the offline demo.

Isolation is a fresh venv (`python -m venv --without-pip`, no system site-packages) into which
pip installs `testkit/` from a copy of its folder, pulling only its own requirement (pytest) from
the package index. Unlike PYTHONPATH tricks with a copied module, this proves the distribution
itself: its metadata, its `pytest11` entry point, and that nothing of the server (`actors`,
`messages`, `config`, `codex_mock_model`, `server`) is importable next to it. The server is found
the way a user's machine finds it: `codex-app-server` on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = ("actors", "messages", "config", "codex_mock_model", "server")


def _server_script() -> Path:
    script = Path(sysconfig.get_path("scripts")) / "codex-app-server"
    if script.exists():
        return script
    found = shutil.which("codex-app-server")
    if found is None:
        pytest.fail("codex-app-server is not installed in this environment (pip install -e .)")
    return Path(found)


def _clean_env(path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CODEX_APP_SERVER_CMD", "PYTEST_ADDOPTS",
                        "PYTEST_PLUGINS", "CODEX_HOME")}
    env["PATH"] = path
    return env


def test_the_example_suite_passes_with_only_the_plugin_installed(tmp_path: Path):
    source = tmp_path / "testkit-src"
    shutil.copytree(REPO / "testkit", source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check",
         "--no-input", "-q", str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "codex-app-server").symlink_to(_server_script())
    env = _clean_env(os.pathsep.join([str(venv / "bin"), str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"]))
    probe = subprocess.run(
        [str(python), "-c",
         "import importlib.metadata as m, importlib.util as u, json, sys\n"
         f"names = {SERVER_PACKAGES!r}\n"
         "print(json.dumps({'plugins': sorted(e.value for e in m.entry_points(group='pytest11')),"
         " 'server_packages': [n for n in names if u.find_spec(n)], 'site': sys.flags.no_site}))"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    seen = json.loads(probe.stdout)
    assert seen["plugins"] == ["pytest_codex_app_server"]
    assert seen["server_packages"] == []

    project = tmp_path / "their-project"
    project.mkdir()
    shutil.copy(REPO / "examples" / "test_ide_session.py", project)
    assert [p.name for p in project.iterdir()] == ["test_ide_session.py"]
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider"],
                         capture_output=True, text=True, env=env, cwd=project, timeout=600)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert re.search(r"\b[1-9]\d* passed", summary), summary
    assert not re.search(r"\b\d+ (failed|errors?)\b", summary), summary


def test_a_failing_test_report_carries_the_model_requests_and_server_stderr(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_fails(codex_app_server, codex_model):
            codex_model.text("an answer")
            turn = codex_app_server.new_conversation().ask("the question nobody answers right")
            assert turn.text == "another answer"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "mock model #0 requests" in out
    assert "#1 POST /v1/responses" in out
    assert "the question nobody answers right" in out


def test_config_toml_points_the_server_at_the_model_and_keeps_the_users_keys(codex_model, codex_app_server_factory):
    text = codex_model.config_toml('approval_policy = "never"\n\n[tui]\nnotifications = true\n')
    assert text.startswith('model = "mock-model"\nmodel_provider = "codex-mock"\napproval_policy = "never"\n')
    assert f'base_url = "{codex_model.base_url}"' in text
    own = codex_model.config_toml('model = "gpt-5"\nmodel_provider = "openai"\n')
    assert own.startswith('model = "gpt-5"\nmodel_provider = "openai"\n') and "codex-mock" in own

    server = codex_app_server_factory(config_toml='approval_policy = "never"\n')
    saved = server.request("getUserSavedConfig")["config"]
    assert saved["approvalPolicy"] == "never"
    assert saved["model"] == "mock-model"


def test_each_test_gets_a_fresh_model(codex_model):
    # A step queued and a request made by an earlier test would show here.
    assert codex_model.pending() == []
    assert codex_model.status()["requests"] == 0
    codex_model.text("left over")  # the next test using codex_model must not see this


def test_each_test_gets_a_fresh_model_again(codex_model):
    assert codex_model.pending() == []


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    # Prove "no network": any attempt to reach the outside would go to a dead proxy.
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    return subprocess.run([str(_server_script()), "demo", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def demo_json() -> subprocess.CompletedProcess[str]:
    return _demo("--json")


def test_demo_json_shows_a_whole_session_both_ways(demo_json):
    lines = demo_json.stdout.splitlines()
    assert lines and all(line.startswith((">> ", "<< ")) for line in lines), demo_json.stderr
    sent = [json.loads(line[3:]) for line in lines if line.startswith(">> ")]
    received = [json.loads(line[3:]) for line in lines if line.startswith("<< ")]
    assert [m["method"] for m in sent if "method" in m][:4] == [
        "initialize", "newConversation", "addConversationListener", "sendUserMessage"]
    methods = [m.get("method") for m in received]
    assert "execCommandApproval" in methods
    assert "codex/event/task_complete" in methods
    assert any(m["params"]["msg"]["type"] == "agent_message_delta" for m in received
               if m.get("method") == "codex/event/agent_message_delta")
    listed = next(m for m in received if m.get("id") == sent[-1]["id"])
    assert len(listed["result"]["items"]) == 1
    # Every approval the server asked for was answered.
    asked = {m["id"] for m in received if m.get("method") in ("execCommandApproval", "applyPatchApproval")}
    assert asked == {m["id"] for m in sent if "result" in m}


def test_demo_json_holds_the_patch_approval_and_succeeds(demo_json):
    methods = [json.loads(line[3:]).get("method") for line in demo_json.stdout.splitlines()]
    assert "applyPatchApproval" in methods
    assert demo_json.returncode == 0, demo_json.stderr


def test_demo_transcript_reads_as_a_session():
    done = _demo()
    out = done.stdout
    assert "→ initialize" in out and "→ newConversation" in out and "→ sendUserMessage" in out
    assert "? execCommandApproval   run `" in out and "hello.py` → approved" in out
    assert "  agent › I ran hello.py" in out
    assert "→ listConversations     ← rollout " in out
    assert '"method"' not in out  # readable, not raw JSON
    if done.returncode == 0:
        assert '✓ hello.py now reads: print("Hello, world!")' in out
    else:
        assert "✗ demo incomplete: " in out  # it says what did not happen, never a fake success
