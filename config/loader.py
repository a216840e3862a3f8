"""Reading config.toml into a frozen `Config`, with 0.58's layering, defaults and error texts.

Order of layers, lowest first: `CODEX_HOME/config.toml`, the `-c` overrides, the managed config
(`/etc/codex/managed_config.toml`), then the selected profile and the per-call overrides. The merged
table is type-checked against the keys 0.58 knows, and errors read like 0.58's serde messages:
`invalid type: integer `5`, expected a string\\nin `model`\\n`.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from config.overrides import apply_overrides, deep_merge, json_to_toml
from config.providers import ModelProviderInfo, built_in_providers, provider_from_toml

CONFIG_FILE = "config.toml"
MANAGED_CONFIG_PATH = Path("/etc/codex/managed_config.toml")
DEFAULT_MODEL = "gpt-5-codex"
DEFAULT_PROVIDER_ID = "openai"
DEFAULT_APPROVAL_POLICY = "on-request"
DEFAULT_SANDBOX_MODE = "read-only"
DEFAULT_REASONING_SUMMARY = "auto"
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"
DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
USER_INSTRUCTION_FILES = ("AGENTS.override.md", "AGENTS.md")


class ConfigError(Exception):
    """A config that cannot be loaded; `str()` is the detail 0.58 prints after `error loading config: `."""


# -- OS and TOML error texts ------------------------------------------------------------------


def os_error_text(error: OSError) -> str:
    """An OSError as Rust's io::Error displays it: `Is a directory (os error 21)`."""
    if error.errno is None:
        return str(error)
    return f"{os.strerror(error.errno)} (os error {error.errno})"


_POSITION = re.compile(r"^(?P<msg>.*?)\s*\((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$", re.S)


def toml_error_text(error: tomllib.TOMLDecodeError, text: str) -> str:
    """A parse error drawn like toml_edit's report (position, the line, a caret, the reason)."""
    match = _POSITION.match(str(error))
    lines = text.split("\n")
    if match is None:
        return f"TOML parse error: {error}\n"
    message = match.group("msg")
    if match.group("line") is None:
        line_no = max(len(lines) - (1 if text.endswith("\n") else 0), 1)
        column = len(lines[line_no - 1]) + 1 if lines else 1
    else:
        line_no, column = int(match.group("line")), int(match.group("col"))
    source = lines[line_no - 1] if line_no - 1 < len(lines) else ""
    pad = " " * len(str(line_no))
    reason = message[:1].lower() + message[1:]
    return (
        f"TOML parse error at line {line_no}, column {column}\n"
        f"{pad} |\n{line_no} | {source}\n{pad} | {' ' * (column - 1)}^\n{reason}\n"
    )


def read_toml_file(path: Path) -> dict[str, Any]:
    """The parsed file, `{}` when it does not exist; ConfigError (0.58's text) when unreadable or invalid."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(os_error_text(error)) from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("stream did not contain valid UTF-8") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(toml_error_text(error, text)) from error


# -- type checking, in serde's words ----------------------------------------------------------


def rust_debug_str(text: str) -> str:
    """`text` as Rust's `{:?}` writes a str: quoted, `"` and `\\` escaped, `\\n` `\\r` `\\t` `\\0`,
    and other non-printable characters (controls, format characters, separators) as `\\u{hex}`."""
    import unicodedata  # only error paths need it

    out = ['"']
    for ch in text:
        escaped = _SIMPLE_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch == " " or (ch.isascii() and ch.isprintable()):
            out.append(ch)
        elif unicodedata.category(ch) in _NON_PRINTABLE:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
_NON_PRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def _unexpected(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{_rust_float(value)}`"
    if isinstance(value, str):
        return f"string {rust_debug_str(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def _rust_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    return text if ("." in text or "e" in text) else f"{text}.0"


def _toml_datetime_text(value: Any) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _Fail(Exception):
    def __init__(self, message: str, path: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class _Type:
    expected = ""

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, path: tuple[str, ...]) -> _Fail:
        return _Fail(f"invalid type: {_unexpected(value)}, expected {self.expected}", path)


class _Any(_Type):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        return value


class _Str(_Type):
    expected = "a string"

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, _dt.date | _dt.time):
            return _toml_datetime_text(value)
        raise self.fail(value, path)


class _Path(_Str):
    expected = "path string"


class _Bool(_Type):
    expected = "a boolean"

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, bool):
            return value
        raise self.fail(value, path)


class _Int(_Type):
    def __init__(self, name: str, low: int, high: int) -> None:
        self.expected, self.low, self.high = name, low, high

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(value, path)
        if not self.low <= value <= self.high:
            raise _Fail(f"invalid value: integer `{value}`, expected {self.expected}", path)
        return value


class _Enum(_Type):
    def __init__(self, *variants: str) -> None:
        self.variants = variants

    def _unknown(self, name: str, path: tuple[str, ...]) -> _Fail:
        quoted = [f"`{v}`" for v in self.variants]
        if len(quoted) == 1:
            expected = quoted[0]
        elif len(quoted) == 2:
            expected = f"{quoted[0]} or {quoted[1]}"
        else:
            expected = "one of " + ", ".join(quoted)
        return _Fail(f"unknown variant `{name}`, expected {expected}", path)

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            if value in self.variants:
                return value
            raise self._unknown(value, path)
        if isinstance(value, dict) and value:
            raise self._unknown(next(iter(value)), path)
        # What the toml crate reports for a number, boolean or array given to a string enum.
        raise _Fail("invalid type: unit variant, expected string only", path)


class _Seq(_Type):
    expected = "a sequence"

    def __init__(self, item: _Type) -> None:
        self.item = item

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, list):
            raise self.fail(value, path)
        # serde reports an element's error at the sequence's own path.
        return [self.item.check(v, path) for v in value]


class _Map(_Type):
    expected = "a map"

    def __init__(self, item: _Type) -> None:
        self.item = item

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, dict):
            raise self.fail(value, path)
        return {k: self.item.check(v, (*path, k)) for k, v in value.items()}


class _Struct(_Type):
    def __init__(self, name: str, fields: dict[str, _Type], required: tuple[str, ...] = (),
                 aliases: dict[str, str] | None = None) -> None:
        self.expected = f"struct {name}"
        self.fields, self.required, self.aliases = fields, required, aliases or {}

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, dict):
            raise self.fail(value, path)
        out = dict(value)
        for key, item in value.items():
            name = self.aliases.get(key, key)
            kind = self.fields.get(name)
            if kind is not None:
                out[key] = kind.check(item, (*path, key))
        for name in self.required:
            if name not in value:
                raise _Fail(f"missing field `{name}`", path)
        return out


STR, PATH, BOOL, ANY = _Str(), _Path(), _Bool(), _Any()
I64 = _Int("i64", -(2**63), 2**63 - 1)
U64 = _Int("u64", 0, 2**64 - 1)
USIZE = _Int("usize", 0, 2**64 - 1)
APPROVAL = _Enum("untrusted", "on-failure", "on-request", "never")
SANDBOX_MODE = _Enum("read-only", "workspace-write", "danger-full-access")
EFFORT = _Enum("none", "minimal", "low", "medium", "high")
SUMMARY = _Enum("auto", "concise", "detailed", "none")
VERBOSITY = _Enum("low", "medium", "high")
FORCED_LOGIN = _Enum("chatgpt", "api")
CREDENTIALS_STORE = _Enum("file", "keyring", "auto")
STR_MAP = _Map(STR)

SANDBOX_WORKSPACE_WRITE = _Struct("SandboxWorkspaceWrite", {
    "writable_roots": _Seq(PATH), "network_access": BOOL, "exclude_tmpdir_env_var": BOOL, "exclude_slash_tmp": BOOL,
})
TOOLS = _Struct("ToolsToml", {"web_search": BOOL, "view_image": BOOL}, aliases={"web_search_request": "web_search"})
SHELL_ENVIRONMENT_POLICY = _Struct("ShellEnvironmentPolicyToml", {
    "inherit": _Enum("core", "all", "none"), "ignore_default_excludes": BOOL, "exclude": _Seq(STR),
    "set": STR_MAP, "include_only": _Seq(STR), "experimental_use_profile": BOOL,
})
MODEL_PROVIDER = _Struct("ModelProviderInfo", {
    "name": STR, "base_url": STR, "env_key": STR, "env_key_instructions": STR,
    "wire_api": _Enum("responses", "chat"), "query_params": STR_MAP, "http_headers": STR_MAP,
    "env_http_headers": STR_MAP, "request_max_retries": U64, "stream_max_retries": U64,
    "stream_idle_timeout_ms": U64, "requires_openai_auth": BOOL,
}, required=("name",))
FEATURES = _Struct("FeaturesToml", {})
PROFILE = _Struct("ConfigProfile", {
    "model": STR, "model_provider": STR, "approval_policy": APPROVAL, "sandbox_mode": SANDBOX_MODE,
    "model_reasoning_effort": EFFORT, "model_reasoning_summary": SUMMARY, "model_verbosity": VERBOSITY,
    "chatgpt_base_url": STR, "experimental_instructions_file": PATH, "experimental_compact_prompt_file": PATH,
    "include_apply_patch_tool": BOOL, "experimental_use_unified_exec_tool": BOOL,
    "experimental_use_rmcp_client": BOOL, "experimental_use_freeform_apply_patch": BOOL,
    "experimental_sandbox_command_assessment": BOOL, "tools_web_search": BOOL, "tools_view_image": BOOL,
    "features": FEATURES,
})
PROJECT = _Struct("ProjectConfig", {"trust_level": STR})
CONFIG_TOML = _Struct("ConfigToml", {
    "model": STR, "review_model": STR, "model_provider": STR, "model_context_window": I64,
    "model_max_output_tokens": I64, "model_auto_compact_token_limit": I64, "approval_policy": APPROVAL,
    "shell_environment_policy": SHELL_ENVIRONMENT_POLICY, "sandbox_mode": SANDBOX_MODE,
    "sandbox_workspace_write": SANDBOX_WORKSPACE_WRITE, "forced_chatgpt_workspace_id": STR,
    "forced_login_method": FORCED_LOGIN, "cli_auth_credentials_store": CREDENTIALS_STORE,
    "mcp_servers": _Map(ANY), "mcp_oauth_credentials_store": CREDENTIALS_STORE,
    "model_providers": _Map(MODEL_PROVIDER), "project_doc_max_bytes": USIZE,
    "project_doc_fallback_filenames": _Seq(STR), "profile": STR, "profiles": _Map(PROFILE),
    "hide_agent_reasoning": BOOL, "show_raw_agent_reasoning": BOOL, "model_reasoning_effort": EFFORT,
    "model_reasoning_summary": SUMMARY, "model_verbosity": VERBOSITY, "model_supports_reasoning_summaries": BOOL,
    "chatgpt_base_url": STR, "projects": _Map(PROJECT), "tools": TOOLS, "features": FEATURES,
    "notify": _Seq(STR), "instructions": STR, "developer_instructions": STR, "compact_prompt": STR,
    "experimental_instructions_file": PATH, "experimental_compact_prompt_file": PATH,
    "include_apply_patch_tool": BOOL, "experimental_use_unified_exec_tool": BOOL,
    "experimental_use_rmcp_client": BOOL, "experimental_use_freeform_apply_patch": BOOL,
    "windows_wsl_setup_acknowledged": BOOL, "disable_paste_burst": BOOL,
})


def check_config_table(table: dict[str, Any]) -> dict[str, Any]:
    """Type-check the known keys of a merged config table (unknown keys pass through).

    Returns the table with TOML datetimes that stand in string fields turned into their text, as
    0.58 reads them; raises ConfigError with serde's message and the key path."""
    try:
        return CONFIG_TOML.check(table, ())
    except _Fail as failure:
        where = f"\nin `{'.'.join(failure.path)}`\n" if failure.path else "\n"
        raise ConfigError(failure.message + where) from None


# -- the Config object ------------------------------------------------------------------------


class ShellEnvironmentPolicy(msgspec.Struct, frozen=True):
    """`[shell_environment_policy]` as typed values; the environment itself is computed elsewhere."""

    inherit: str = "all"  # "all" | "core" | "none"
    ignore_default_excludes: bool = False
    exclude: tuple[str, ...] = ()
    set: dict[str, str] = msgspec.field(default_factory=dict)
    include_only: tuple[str, ...] = ()
    use_profile: bool = False

    @classmethod
    def from_toml(cls, table: Mapping[str, Any] | None) -> ShellEnvironmentPolicy:
        table = table or {}
        return cls(
            inherit=table.get("inherit", "all"),
            ignore_default_excludes=table.get("ignore_default_excludes", False),
            exclude=tuple(table.get("exclude", ())),
            set=dict(table.get("set", {})),
            include_only=tuple(table.get("include_only", ())),
            use_profile=table.get("experimental_use_profile", False),
        )


class Config(msgspec.Struct, frozen=True):
    """Everything the server needs from config.toml, resolved; `raw` is the merged table."""

    codex_home: Path
    cwd: Path
    model: str
    model_provider_id: str
    model_provider: ModelProviderInfo
    model_providers: dict[str, ModelProviderInfo]
    profile: str | None
    approval_policy: str
    sandbox_mode: str
    sandbox_policy: dict[str, Any]
    shell_environment_policy: ShellEnvironmentPolicy
    forced_login_method: str | None
    forced_chatgpt_workspace_id: str | None
    cli_auth_credentials_store: str
    chatgpt_base_url: str
    model_reasoning_effort: str | None
    model_reasoning_summary: str
    model_verbosity: str | None
    base_instructions: str | None
    developer_instructions: str | None
    user_instructions: str | None
    compact_prompt: str | None
    include_apply_patch_tool: bool | None
    model_context_window: int | None
    model_max_output_tokens: int | None
    model_auto_compact_token_limit: int | None
    project_doc_max_bytes: int
    project_doc_fallback_filenames: tuple[str, ...]
    notify: tuple[str, ...] | None
    hide_agent_reasoning: bool
    show_raw_agent_reasoning: bool
    tools_web_search: bool | None
    tools_view_image: bool | None
    cli_overrides: tuple[tuple[str, Any], ...]
    raw: dict[str, Any]


class ConfigOverrides(msgspec.Struct, frozen=True):
    """Typed per-call overrides (newConversation / thread/start / resume), beside the `config` map."""

    model: str | None = None
    model_provider: str | None = None
    profile: str | None = None
    cwd: Path | str | None = None
    approval_policy: str | None = None
    sandbox_mode: str | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    compact_prompt: str | None = None
    include_apply_patch_tool: bool | None = None


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _canonical_home(codex_home: Path) -> Path:
    # 0.58 exits when CODEX_HOME is missing; this project creates it (PROTOCOL.md §8).
    try:
        if not codex_home.exists():
            codex_home.mkdir(mode=0o700, parents=True)
        return codex_home.resolve(strict=True)
    except OSError as error:
        raise ConfigError(os_error_text(error)) from error


def _read_layers(codex_home: Path, overrides: Sequence[tuple[str, Any]], managed_path: Path | None) -> dict[str, Any]:
    table = read_toml_file(codex_home / CONFIG_FILE)
    apply_overrides(table, overrides)
    if managed_path is not None:
        # Managed settings win over the user's file and over -c, as in 0.58.
        deep_merge(table, read_toml_file(managed_path))
    return check_config_table(table)


def _read_instruction_file(path_value: str | None, cwd: Path, what: str) -> str | None:
    if path_value is None:
        return None
    path = Path(path_value)
    full = path if path.is_absolute() else cwd / path
    try:
        text = full.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"failed to read {what} {full}: {os_error_text(error)}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"failed to read {what} {full}: stream did not contain valid UTF-8") from error
    text = text.strip()
    if not text:
        raise ConfigError(f"{what} is empty: {full}")
    return text


def _user_instructions(codex_home: Path) -> str | None:
    for name in USER_INSTRUCTION_FILES:
        try:
            text = (codex_home / name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    return None


def _git_root_for_trust(cwd: Path) -> Path | None:
    """The main worktree's root of the repository holding cwd (so a worktree shares its trust)."""
    import subprocess  # only configs with a [projects] table need git at startup

    base = cwd if cwd.is_dir() else cwd.parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--git-common-dir"], cwd=base, capture_output=True, stdin=subprocess.DEVNULL,
            timeout=5, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    common = Path(done.stdout.decode("utf-8", "replace").strip())
    git_dir = common if common.is_absolute() else base / common
    try:
        return git_dir.parent.resolve(strict=True)
    except OSError:
        return None


def _project_trusted(raw: Mapping[str, Any], cwd: Path) -> bool:
    projects = raw.get("projects") or {}
    if not projects:
        return False  # skip the git call: no project can be trusted
    project = projects.get(str(cwd))
    if project is None:
        root = _git_root_for_trust(cwd)
        project = projects.get(str(root)) if root is not None else None
    return project is not None and project.get("trust_level") == "trusted"


def sandbox_policy_for(mode: str, workspace_write: Mapping[str, Any] | None) -> dict[str, Any]:
    """The core SandboxPolicy for a mode (`{"mode": ...}` plus the workspace-write settings)."""
    if mode != "workspace-write":
        return {"mode": mode}
    settings = workspace_write or {}
    return {
        "mode": "workspace-write",
        "writable_roots": list(settings.get("writable_roots", [])),
        "network_access": settings.get("network_access", False),
        "exclude_tmpdir_env_var": settings.get("exclude_tmpdir_env_var", False),
        "exclude_slash_tmp": settings.get("exclude_slash_tmp", False),
    }


def build_config(
    codex_home: Path,
    raw: dict[str, Any],
    overrides: ConfigOverrides,
    process_cwd: Path,
    cli_overrides: tuple[tuple[str, Any], ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve a checked, merged table into a Config (profile, provider, sandbox, instructions)."""
    profile_name = _first(overrides.profile, raw.get("profile"))
    profile: Mapping[str, Any] = {}
    if profile_name is not None:
        profiles = raw.get("profiles") or {}
        if profile_name not in profiles:
            raise ConfigError(f"config profile `{profile_name}` not found")
        profile = profiles[profile_name]

    if overrides.cwd is None:
        cwd = process_cwd
    else:
        given = Path(overrides.cwd)
        cwd = given if given.is_absolute() else process_cwd / given

    providers = built_in_providers(environ)
    for key, table in (raw.get("model_providers") or {}).items():
        # Built-ins cannot be redefined: a user entry with the same id is ignored, as in 0.58.
        providers.setdefault(key, provider_from_toml(table))
    provider_id = _first(overrides.model_provider, profile.get("model_provider"), raw.get("model_provider"),
                         DEFAULT_PROVIDER_ID)
    if provider_id not in providers:
        raise ConfigError(f"Model provider `{provider_id}` not found")

    explicit_mode = _first(overrides.sandbox_mode, profile.get("sandbox_mode"), raw.get("sandbox_mode"))
    explicit_approval = _first(overrides.approval_policy, profile.get("approval_policy"), raw.get("approval_policy"))
    # Trust only changes the default sandbox (the default approval is on-request either way).
    trusted = explicit_mode is None and _project_trusted(raw, cwd)
    sandbox_mode = _first(explicit_mode, "workspace-write" if trusted else None, DEFAULT_SANDBOX_MODE)
    approval_policy = _first(explicit_approval, DEFAULT_APPROVAL_POLICY)

    instructions_file = _first(profile.get("experimental_instructions_file"), raw.get("experimental_instructions_file"))
    base_instructions = _first(
        overrides.base_instructions,
        _read_instruction_file(instructions_file, cwd, "experimental instructions file"),
    )
    compact_file = _first(profile.get("experimental_compact_prompt_file"), raw.get("experimental_compact_prompt_file"))
    compact_prompt = _first(
        overrides.compact_prompt,
        _read_instruction_file(compact_file, cwd, "experimental compact prompt file"),
        raw.get("compact_prompt"),
    )
    tools = raw.get("tools") or {}
    notify = raw.get("notify")
    return Config(
        codex_home=codex_home,
        cwd=cwd,
        model=_first(overrides.model, profile.get("model"), raw.get("model"), DEFAULT_MODEL),
        model_provider_id=provider_id,
        model_provider=providers[provider_id],
        model_providers=providers,
        profile=profile_name,
        approval_policy=approval_policy,
        sandbox_mode=sandbox_mode,
        sandbox_policy=sandbox_policy_for(sandbox_mode, raw.get("sandbox_workspace_write")),
        shell_environment_policy=ShellEnvironmentPolicy.from_toml(raw.get("shell_environment_policy")),
        forced_login_method=raw.get("forced_login_method"),
        forced_chatgpt_workspace_id=raw.get("forced_chatgpt_workspace_id"),
        cli_auth_credentials_store=raw.get("cli_auth_credentials_store", "file"),
        chatgpt_base_url=_first(profile.get("chatgpt_base_url"), raw.get("chatgpt_base_url"), DEFAULT_CHATGPT_BASE_URL),
        model_reasoning_effort=_first(profile.get("model_reasoning_effort"), raw.get("model_reasoning_effort")),
        model_reasoning_summary=_first(profile.get("model_reasoning_summary"), raw.get("model_reasoning_summary"),
                                       DEFAULT_REASONING_SUMMARY),
        model_verbosity=_first(profile.get("model_verbosity"), raw.get("model_verbosity")),
        base_instructions=base_instructions,
        developer_instructions=_first(overrides.developer_instructions, raw.get("developer_instructions")),
        user_instructions=_user_instructions(codex_home),
        compact_prompt=compact_prompt,
        include_apply_patch_tool=_first(overrides.include_apply_patch_tool, profile.get("include_apply_patch_tool"),
                                        raw.get("include_apply_patch_tool")),
        model_context_window=raw.get("model_context_window"),
        model_max_output_tokens=raw.get("model_max_output_tokens"),
        model_auto_compact_token_limit=raw.get("model_auto_compact_token_limit"),
        project_doc_max_bytes=raw.get("project_doc_max_bytes", DEFAULT_PROJECT_DOC_MAX_BYTES),
        project_doc_fallback_filenames=tuple(raw.get("project_doc_fallback_filenames", ())),
        notify=tuple(notify) if notify is not None else None,
        hide_agent_reasoning=raw.get("hide_agent_reasoning", False),
        show_raw_agent_reasoning=raw.get("show_raw_agent_reasoning", False),
        tools_web_search=_first(profile.get("tools_web_search"), tools.get("web_search"),
                                tools.get("web_search_request")),
        tools_view_image=_first(profile.get("tools_view_image"), tools.get("view_image")),
        cli_overrides=cli_overrides,
        raw=raw,
    )


def load_config(
    codex_home: Path,
    cli_overrides: Sequence[tuple[str, Any]] = (),
    cwd: Path | None = None,
    *,
    overrides: ConfigOverrides | None = None,
    managed_config_path: Path | None = MANAGED_CONFIG_PATH,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load the startup config. `cwd` is the process cwd (default: `os.getcwd()`)."""
    home = _canonical_home(Path(codex_home))
    cli = tuple(cli_overrides)
    raw = _read_layers(home, cli, managed_config_path)
    process_cwd = Path(cwd) if cwd is not None else Path(os.getcwd())
    return build_config(home, raw, overrides or ConfigOverrides(), process_cwd, cli, environ)


_OVERRIDE_FIELDS = (
    "model", "model_provider", "profile", "cwd", "approval_policy", "sandbox_mode", "base_instructions",
    "developer_instructions", "compact_prompt", "include_apply_patch_tool",
)


def derive_config(
    base: Config,
    overrides: Mapping[str, Any] | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    *,
    include_startup_overrides: bool = False,
    managed_config_path: Path | None = MANAGED_CONFIG_PATH,
    environ: Mapping[str, str] | None = None,
    **typed: Any,
) -> Config:
    """A conversation's config, as 0.58 derives it for newConversation / thread/start / resume.

    `overrides` (a mapping) and keyword arguments name the typed overrides: model, model_provider,
    profile, cwd, approval_policy, sandbox_mode, base_instructions, developer_instructions,
    compact_prompt, include_apply_patch_tool (None means not given). `config_overrides` is the
    request's `config` map (JSON values, dotted keys), applied like `-c`.

    Like 0.58 this re-reads config.toml (so a `setDefaultModel` is seen by the next conversation)
    and does not carry over the startup `-c` overrides (pass `include_startup_overrides=True` to keep
    them). Raises ConfigError; the caller answers `error deriving config: <detail>`."""
    given = {**(overrides or {}), **{k: v for k, v in typed.items() if v is not None}}
    unknown = set(given) - set(_OVERRIDE_FIELDS)
    if unknown:
        raise TypeError(f"unknown config overrides: {sorted(unknown)}")
    layered: list[tuple[str, Any]] = list(base.cli_overrides) if include_startup_overrides else []
    layered.extend((key, json_to_toml(value)) for key, value in (config_overrides or {}).items())
    raw = _read_layers(base.codex_home, layered, managed_config_path)
    return build_config(base.codex_home, raw, ConfigOverrides(**given), base.cwd, base.cli_overrides, environ)
