"""Loading config.toml into a Config: 0.58's defaults, layering, profiles, providers and error texts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import ConfigError, OverrideError, derive_config, load_config, parse_cli_override, rust_debug_str
from config.overrides import json_to_toml


def home_with(tmp_path: Path, text: str | None) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if text is not None:
        (home / "config.toml").write_text(text)
    return home


def load(home: Path, overrides=(), **kwargs):
    kwargs.setdefault("managed_config_path", None)
    kwargs.setdefault("environ", {})
    return load_config(home, overrides, cwd=kwargs.pop("cwd", Path("/work")), **kwargs)


def error_of(home: Path, overrides=()) -> str:
    with pytest.raises(ConfigError) as caught:
        load(home, overrides)
    return str(caught.value)


# -- defaults ---------------------------------------------------------------------------------


def test_defaults_match_058(tmp_path):
    config = load(home_with(tmp_path, None))
    assert config.model == "gpt-5-codex"
    assert config.model_provider_id == "openai"
    assert config.model_provider.name == "OpenAI"
    assert config.model_provider.wire_api == "responses"
    assert config.model_provider.requires_openai_auth is True
    assert config.model_provider.http_headers == {"version": "0.58.0"}
    assert config.approval_policy == "on-request"
    assert config.sandbox_mode == "read-only"
    assert config.sandbox_policy == {"mode": "read-only"}
    assert config.model_reasoning_summary == "auto"
    assert config.model_reasoning_effort is None
    assert config.model_verbosity is None
    assert config.chatgpt_base_url == "https://chatgpt.com/backend-api/"
    assert config.cli_auth_credentials_store == "file"
    assert config.profile is None
    assert config.cwd == Path("/work")
    assert config.raw == {}
    policy = config.shell_environment_policy
    assert (policy.inherit, policy.ignore_default_excludes, policy.exclude, policy.set, policy.include_only) == (
        "all", False, (), {}, ())


def test_codex_home_is_created_and_canonical(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert load(tmp_path / "link" / ".." / "link").codex_home == target
    created = load(tmp_path / "new" / "home").codex_home
    assert created == tmp_path / "new" / "home"
    assert created.stat().st_mode & 0o777 == 0o700


def test_built_in_providers_read_the_environment(tmp_path):
    home = home_with(tmp_path, 'model_provider = "oss"\n')
    config = load(home, environ={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "CODEX_OSS_PORT": "1234"})
    assert config.model_provider.name == "gpt-oss"
    assert config.model_provider.base_url == "http://localhost:1234/v1"
    assert config.model_provider.wire_api == "chat"
    assert config.model_providers["openai"].base_url == "http://127.0.0.1:9/v1"
    blank = load(home, environ={"OPENAI_BASE_URL": "  ", "CODEX_OSS_BASE_URL": "http://x/v1"})
    assert blank.model_providers["openai"].base_url is None
    assert blank.model_provider.base_url == "http://x/v1"


def test_user_providers_extend_but_never_replace_built_ins(tmp_path):
    home = home_with(tmp_path, (
        'model_provider = "mock"\n'
        '[model_providers.mock]\nname = "Mock"\nbase_url = "http://127.0.0.1:1/v1"\nenv_key = "MOCK_KEY"\n'
        'request_max_retries = 500\nquery_params = { api-version = "1" }\n'
        '[model_providers.openai]\nname = "Hijack"\n'
    ))
    config = load(home)
    mock = config.model_provider
    assert (mock.name, mock.base_url, mock.wire_api, mock.requires_openai_auth) == (
        "Mock", "http://127.0.0.1:1/v1", "chat", False)
    assert mock.query_params == {"api-version": "1"}
    assert mock.effective_request_max_retries() == 100
    assert mock.effective_stream_max_retries() == 5
    assert mock.effective_stream_idle_timeout_ms() == 300_000
    assert mock.api_key_from_env({"MOCK_KEY": "k"}) == "k"
    assert mock.api_key_from_env({"MOCK_KEY": " "}) is None
    assert config.model_providers["openai"].name == "OpenAI"


# -- profiles and overrides -------------------------------------------------------------------


def test_profile_layers_over_the_root(tmp_path):
    home = home_with(tmp_path, (
        'model = "root"\nprofile = "fast"\nmodel_reasoning_effort = "high"\napproval_policy = "never"\n'
        '[profiles.fast]\nmodel = "quick"\nmodel_reasoning_summary = "concise"\nchatgpt_base_url = "http://c/"\n'
        '[profiles.other]\nmodel = "o"\nsandbox_mode = "danger-full-access"\n'
    ))
    config = load(home)
    assert (config.profile, config.model, config.model_reasoning_effort) == ("fast", "quick", "high")
    assert (config.model_reasoning_summary, config.chatgpt_base_url) == ("concise", "http://c/")
    assert config.approval_policy == "never"
    other = load(home, [parse_cli_override("profile=other")])
    assert (other.profile, other.model, other.sandbox_mode) == ("other", "o", "danger-full-access")
    assert other.sandbox_policy == {"mode": "danger-full-access"}


def test_missing_profile_is_an_error(tmp_path):
    assert error_of(home_with(tmp_path, 'profile = "nope"\n')) == "config profile `nope` not found"


def test_parse_cli_override_takes_toml_or_raw_strings():
    assert parse_cli_override("model=o3") == ("model", "o3")
    assert parse_cli_override(' model = "o3" ') == ("model", "o3")
    assert parse_cli_override("a.b=5") == ("a.b", 5)
    assert parse_cli_override("x=[1, 2]") == ("x", [1, 2])
    assert parse_cli_override("x={a = true}") == ("x", {"a": True})
    assert parse_cli_override("x='it'") == ("x", "it")
    assert parse_cli_override("x=a=b") == ("x", "a=b")
    with pytest.raises(OverrideError, match="missing '='"):
        parse_cli_override("model")
    with pytest.raises(OverrideError, match="Empty key"):
        parse_cli_override(" =x")


def test_cli_overrides_set_nested_keys_and_beat_the_file(tmp_path):
    home = home_with(tmp_path, 'model = "file"\nsandbox_workspace_write = 3\n')
    config = load(home, [
        parse_cli_override("model=cli"),
        parse_cli_override("sandbox_mode=workspace-write"),
        parse_cli_override("sandbox_workspace_write.network_access=true"),
        parse_cli_override('sandbox_workspace_write.writable_roots=["/data"]'),
    ])
    assert config.model == "cli"
    assert config.sandbox_policy == {
        "mode": "workspace-write", "writable_roots": ["/data"], "network_access": True,
        "exclude_tmpdir_env_var": False, "exclude_slash_tmp": False,
    }
    assert config.raw["sandbox_workspace_write"] == {"network_access": True, "writable_roots": ["/data"]}


def test_managed_config_wins_over_cli_overrides(tmp_path):
    home = home_with(tmp_path, 'model = "file"\n[tools]\nview_image = true\n')
    managed = tmp_path / "managed.toml"
    managed.write_text('approval_policy = "never"\n[tools]\nweb_search = true\n')
    config = load(home, [parse_cli_override("approval_policy=untrusted")], managed_config_path=managed)
    assert config.approval_policy == "never"
    assert (config.tools_web_search, config.tools_view_image) == (True, True)


def test_trusted_project_defaults_to_workspace_write(tmp_path):
    home = home_with(tmp_path, f'[projects."{tmp_path}"]\ntrust_level = "trusted"\n')
    assert load(home, cwd=tmp_path).sandbox_mode == "workspace-write"
    assert load(home, cwd=tmp_path / "elsewhere").sandbox_mode == "read-only"
    assert load(home, [parse_cli_override("sandbox_mode=read-only")], cwd=tmp_path).sandbox_mode == "read-only"


def test_shell_environment_policy_is_parsed(tmp_path):
    home = home_with(tmp_path, (
        '[shell_environment_policy]\ninherit = "core"\nignore_default_excludes = true\nexclude = ["AWS_*"]\n'
        'set = { PATH = "/bin" }\ninclude_only = ["PATH", "HOME"]\nexperimental_use_profile = true\n'
    ))
    policy = load(home).shell_environment_policy
    assert (policy.inherit, policy.ignore_default_excludes, policy.exclude) == ("core", True, ("AWS_*",))
    assert (policy.set, policy.include_only, policy.use_profile) == ({"PATH": "/bin"}, ("PATH", "HOME"), True)
    assert error_of(home_with(tmp_path, '[shell_environment_policy]\ninherit = "some"\n')) == (
        "unknown variant `some`, expected one of `core`, `all`, `none`\nin `shell_environment_policy.inherit`\n")


def test_instruction_files(tmp_path):
    home = home_with(tmp_path, 'experimental_instructions_file = "base.md"\ndeveloper_instructions = "dev"\n')
    (tmp_path / "base.md").write_text("\n  Be brief.  \n")
    (home / "AGENTS.md").write_text("from agents\n")
    config = load(home, cwd=tmp_path)
    assert (config.base_instructions, config.developer_instructions) == ("Be brief.", "dev")
    assert config.user_instructions == "from agents"
    (home / "AGENTS.override.md").write_text("override\n")
    assert load(home, cwd=tmp_path).user_instructions == "override"
    (tmp_path / "base.md").write_text("  \n")
    assert error_of_cwd(home, tmp_path) == f"experimental instructions file is empty: {tmp_path / 'base.md'}"
    (tmp_path / "base.md").unlink()
    assert error_of_cwd(home, tmp_path) == (
        f"failed to read experimental instructions file {tmp_path / 'base.md'}: No such file or directory (os error 2)")


def error_of_cwd(home: Path, cwd: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(home, cwd=cwd)
    return str(caught.value)


# -- errors, in 0.58's words ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "detail"), [
    ("model = 5\n", "invalid type: integer `5`, expected a string\nin `model`\n"),
    ("[profiles.x]\nmodel = 5\n", "invalid type: integer `5`, expected a string\nin `profiles.x.model`\n"),
    ('model_provider = "zzz"\n', "Model provider `zzz` not found"),
    ("approval_policy = true\n", "invalid type: unit variant, expected string only\nin `approval_policy`\n"),
    ('approval_policy = "bogus"\n', "unknown variant `bogus`, expected one of `untrusted`, `on-failure`, "
                                    "`on-request`, `never`\nin `approval_policy`\n"),
    ("approval_policy = {a=1}\n", "unknown variant `a`, expected one of `untrusted`, `on-failure`, `on-request`, "
                                  "`never`\nin `approval_policy`\n"),
    ("sandbox_workspace_write = 3\n", "invalid type: integer `3`, expected struct SandboxWorkspaceWrite\n"
                                      "in `sandbox_workspace_write`\n"),
    ('[sandbox_workspace_write]\nwritable_roots = "a"\n', 'invalid type: string "a", expected a sequence\n'
                                                          "in `sandbox_workspace_write.writable_roots`\n"),
    ("[sandbox_workspace_write]\nwritable_roots = [1]\n", "invalid type: integer `1`, expected path string\n"
                                                           "in `sandbox_workspace_write.writable_roots`\n"),
    ('[model_providers.m]\nbase_url = "x"\n', "missing field `name`\nin `model_providers.m`\n"),
    ("profiles = 5\n", "invalid type: integer `5`, expected a map\nin `profiles`\n"),
    ('model_context_window = "x"\n', 'invalid type: string "x", expected i64\nin `model_context_window`\n'),
    ("experimental_instructions_file = 5\n", "invalid type: integer `5`, expected path string\n"
                                             "in `experimental_instructions_file`\n"),
    ('hide_agent_reasoning = "x"\n', 'invalid type: string "x", expected a boolean\nin `hide_agent_reasoning`\n'),
    ("notify = [1]\n", "invalid type: integer `1`, expected a string\nin `notify`\n"),
    ('[tools]\nweb_search = "x"\n', 'invalid type: string "x", expected a boolean\nin `tools.web_search`\n'),
    ('forced_login_method = "ChatGPT"\n', "unknown variant `ChatGPT`, expected `chatgpt` or `api`\n"
                                          "in `forced_login_method`\n"),
    ("model_reasoning_effort = 1.5\n", "invalid type: unit variant, expected string only\n"
                                       "in `model_reasoning_effort`\n"),
    ("[profiles.a]\nfeatures = 5\n", "invalid type: integer `5`, expected struct FeaturesToml\n"
                                     "in `profiles.a.features`\n"),
    ("[model_providers.m]\nname = \"m\"\nstream_max_retries = -1\n",
     "invalid value: integer `-1`, expected u64\nin `model_providers.m.stream_max_retries`\n"),
])
def test_type_errors_read_like_058(tmp_path, text, detail):
    assert error_of(home_with(tmp_path, text)) == detail


def test_toml_syntax_errors_are_drawn_with_a_caret(tmp_path):
    assert error_of(home_with(tmp_path, "model = \n")) == (
        "TOML parse error at line 1, column 9\n  |\n1 | model = \n  |         ^\ninvalid value\n")
    detail = error_of(home_with(tmp_path, "a = 1\nb = 2\na = 3\n"))
    assert detail.startswith("TOML parse error at line 3, column ")
    assert "\n3 | a = 3\n" in detail


def test_unreadable_config_is_an_os_error(tmp_path):
    home = home_with(tmp_path, None)
    (home / "config.toml").mkdir()
    assert error_of(home) == "Is a directory (os error 21)"


def test_unknown_keys_pass_and_datetimes_read_as_strings(tmp_path):
    config = load(home_with(tmp_path, "model = 1979-05-27\nsomething_new = { x = 1 }\n"))
    assert config.model == "1979-05-27"
    assert config.raw["something_new"] == {"x": 1}


# -- per-conversation derivation --------------------------------------------------------------


def test_derive_rereads_the_file_and_applies_the_config_map(tmp_path):
    home = home_with(tmp_path, 'model = "first"\n[profiles.p]\nmodel = "pm"\n')
    base = load(home, [parse_cli_override("model=startup")])
    assert base.model == "startup"
    (home / "config.toml").write_text('model = "second"\n[profiles.p]\nmodel = "pm"\n')
    derived = derive_config(base, managed_config_path=None, environ={})
    # 0.58 re-reads the file and does not carry the startup -c overrides into a conversation.
    assert derived.model == "second"
    assert derive_config(base, include_startup_overrides=True, managed_config_path=None).model == "startup"
    assert derive_config(base, {"profile": "p"}, managed_config_path=None).model == "pm"
    assert derive_config(base, {"profile": "p", "model": "typed"}, managed_config_path=None).model == "typed"
    mapped = derive_config(base, None, {"model": None, "sandbox_workspace_write.network_access": True},
                           sandbox_mode="workspace-write", cwd="sub", managed_config_path=None)
    assert mapped.model == ""  # JSON null becomes an empty TOML string, as in 0.58
    assert mapped.sandbox_policy["network_access"] is True
    assert mapped.cwd == Path("/work/sub")
    assert derive_config(base, cwd="/abs", managed_config_path=None).cwd == Path("/abs")


def test_derive_errors(tmp_path):
    base = load(home_with(tmp_path, ""))
    with pytest.raises(ConfigError, match="^config profile `nope` not found$"):
        derive_config(base, profile="nope", managed_config_path=None)
    with pytest.raises(ConfigError) as caught:
        derive_config(base, None, {"model": 1.5}, managed_config_path=None)
    assert str(caught.value) == "invalid type: floating point `1.5`, expected a string\nin `model`\n"
    with pytest.raises(TypeError):
        derive_config(base, {"modle": "x"}, managed_config_path=None)


def test_json_to_toml():
    assert json_to_toml({"a": [None, 1, 2**70, {"b": True}]}) == {"a": ["", 1, float(2**70), {"b": True}]}


def test_rust_debug_str():
    assert rust_debug_str('/tmp/a "b"\\c') == '"/tmp/a \\"b\\"\\\\c"'
    assert rust_debug_str("x\ny\tz\r\0\x01\x7f\u00a0é") == '"x\\ny\\tz\\r\\0\\u{1}\\u{7f}\\u{a0}é"'
    assert rust_debug_str("it's") == '"it\'s"'


def test_load_is_fast_enough_to_be_on_the_startup_path(tmp_path):
    # Not a timing assertion: load_config must not pull tomlkit in (the edit path owns it).
    import sys

    home = home_with(tmp_path, 'model = "m"\n')
    sys.modules.pop("tomlkit", None)
    load(home)
    assert "tomlkit" not in sys.modules


def test_environment_is_not_consulted_when_injected(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:2/v1")
    assert load(home_with(tmp_path, None), environ={}).model_provider.base_url is None
    assert load(home_with(tmp_path, None), environ=os.environ).model_provider.base_url == "http://127.0.0.1:2/v1"
