"""How a command runs under a sandbox policy: as is (`danger-full-access`) or through the sandbox helper.

The policy is the core, kebab-case form (`{"mode": "workspace-write", "writable_roots": [...],
"network_access": bool, "exclude_tmpdir_env_var": bool, "exclude_slash_tmp": bool}`). Kernel support
is probed once per process by running the helper in probe mode; a kernel that cannot confine a
command makes every sandboxed command fail with `SandboxError` (fail closed). When read-only
subpaths (`.git`) cannot be enforced, one warning is logged and the rest of the sandbox still applies.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)

MODES = ("danger-full-access", "read-only", "workspace-write")
HELPER = str(Path(__file__).with_name("sandbox_exec.py"))
# Set in every sandboxed command's environment, as 0.58 does, so tools can tell the network is off.
NETWORK_DISABLED_ENV_VAR = "CODEX_SANDBOX_NETWORK_DISABLED"


class SandboxError(Exception):
    """The command cannot be confined as its policy requires; it was not run."""


class PolicyError(ValueError):
    """The sandbox policy itself is malformed (bad mode, bad field)."""


@dataclass(frozen=True)
class WritableRoot:
    root: str
    read_only_subpaths: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxSupport:
    landlock_abi: int
    seccomp: bool
    read_only_mounts: bool
    errors: tuple[str, ...] = ()


@dataclass
class Plan:
    """A command ready to spawn: the argv (maybe wrapped), extra env, and whether the helper reports status."""

    argv: list[str]
    env_updates: dict[str, str] = field(default_factory=dict)
    through_helper: bool = False


def normalize_policy(policy: Any) -> dict[str, Any]:
    """The policy as a plain dict with every field present; accepts a dict, a msgspec Struct or an object."""
    if policy is None:
        raise PolicyError("missing sandbox policy")
    if isinstance(policy, msgspec.Struct):
        policy = msgspec.to_builtins(policy)
    elif not isinstance(policy, Mapping):
        policy = {
            k: getattr(policy, k)
            for k in ("mode", "writable_roots", "network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp")
            if hasattr(policy, k)
        }
    mode = policy.get("mode")
    if mode not in MODES:
        raise PolicyError(
            f"unknown variant `{mode}`, expected one of `danger-full-access`, `read-only`, `workspace-write`"
        )
    roots = policy.get("writable_roots") or []
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise PolicyError("writable_roots must be a list of paths")
    return {
        "mode": mode,
        "writable_roots": [str(r) for r in roots] if mode == "workspace-write" else [],
        "network_access": bool(policy.get("network_access")) if mode == "workspace-write" else mode == MODES[0],
        "exclude_tmpdir_env_var": bool(policy.get("exclude_tmpdir_env_var")),
        "exclude_slash_tmp": bool(policy.get("exclude_slash_tmp")),
    }


def has_full_network_access(policy: Mapping[str, Any]) -> bool:
    return policy["mode"] == "danger-full-access" or bool(policy.get("network_access"))


def writable_roots(policy: Mapping[str, Any], cwd: str, env: Mapping[str, str] | None = None) -> list[WritableRoot]:
    """0.58's workspace-write roots: extra roots, cwd, /tmp and $TMPDIR, each keeping .git read-only."""
    if policy["mode"] != "workspace-write":
        return []
    env = os.environ if env is None else env
    candidates = [*policy.get("writable_roots", []), cwd]
    if not policy.get("exclude_slash_tmp"):
        candidates.append("/tmp")
    tmpdir = env.get("TMPDIR")
    if tmpdir and not policy.get("exclude_tmpdir_env_var"):
        candidates.append(tmpdir)
    roots: list[WritableRoot] = []
    seen: set[str] = set()
    for candidate in candidates:
        path = os.path.realpath(os.path.join(cwd, candidate))
        if path in seen or not os.path.isdir(path):
            continue
        seen.add(path)
        git = os.path.join(path, ".git")
        roots.append(WritableRoot(path, (git,) if os.path.lexists(git) else ()))
    return roots


_probe_lock = threading.Lock()
_probe_result: SandboxSupport | None = None
_warned_read_only = False


def probe(*, refresh: bool = False) -> SandboxSupport:
    """What the kernel can enforce, checked once per process by the helper in probe mode."""
    global _probe_result
    with _probe_lock:
        if _probe_result is None or refresh:
            try:
                out = subprocess.run(
                    [sys.executable, "-I", "-S", HELPER, "--probe"],
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                    timeout=30,
                    check=True,
                ).stdout
                data = json.loads(out)
                _probe_result = SandboxSupport(
                    int(data["landlock_abi"]),
                    bool(data["seccomp"]),
                    bool(data["read_only_mounts"]),
                    tuple(data.get("errors", ())),
                )
            except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
                _probe_result = SandboxSupport(0, False, False, (f"sandbox probe failed: {exc}",))
        return _probe_result


def plan_command(
    argv: list[str],
    cwd: str,
    policy: Any,
    *,
    sandbox_cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    seccomp_backend: str = "auto",
) -> Plan:
    """The argv to spawn for `argv` under `policy`; raises SandboxError when the kernel cannot confine it.

    `cwd` is where the command runs; `sandbox_cwd` (default: `cwd`) is the directory the policy is read
    against (the workspace-write root and relative `writable_roots`), as 0.58 separates the two: a
    command started elsewhere does not make its own directory writable."""
    global _warned_read_only
    normalized = normalize_policy(policy)
    env_updates = {} if has_full_network_access(normalized) else {NETWORK_DISABLED_ENV_VAR: "1"}
    if normalized["mode"] == "danger-full-access":
        return Plan(list(argv), env_updates)
    support = probe()
    if support.landlock_abi < 1:
        raise SandboxError("Landlock is not available in this kernel; refusing to run the command unconfined")
    if not normalized["network_access"] and not support.seccomp:
        raise SandboxError("seccomp is not available in this kernel; refusing to run the command with network access")
    policy_cwd = cwd if sandbox_cwd is None else sandbox_cwd
    roots = writable_roots(normalized, os.path.realpath(policy_cwd) if os.path.isdir(policy_cwd) else policy_cwd, env)
    read_only = [sub for root in roots for sub in root.read_only_subpaths]
    best_effort = not support.read_only_mounts
    if read_only and best_effort and not _warned_read_only:
        _warned_read_only = True
        log.warning(
            "the kernel does not allow private read-only mounts; .git stays writable inside writable roots (%s)",
            "; ".join(support.errors) or "no detail",
        )
    plan = {
        "writable": [root.root for root in roots],
        "read_only": read_only,
        "network": normalized["network_access"],
        "read_only_best_effort": best_effort,
        "seccomp_backend": seccomp_backend,
        # Absolute: the helper starts in cwd already, so a relative one would resolve twice.
        "cwd": os.path.abspath(cwd),
    }
    wrapped = [sys.executable, "-I", "-S", HELPER, "--plan", json.dumps(plan), "--", *argv]
    return Plan(wrapped, env_updates, through_helper=True)
