"""The user-agent string 0.58 reports and sends: originator, version, OS, terminal, client suffix."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from functools import lru_cache

CLI_VERSION = "0.58.0"
DEFAULT_ORIGINATOR = "codex_cli_rs"

# /etc/os-release ID → the OS type name os_info reports; anything else is plain "Linux".
_OS_NAMES = {
    "alpine": "Alpine Linux",
    "amzn": "Amazon Linux AMI",
    "arch": "Arch Linux",
    "centos": "CentOS",
    "debian": "Debian",
    "fedora": "Fedora",
    "linuxmint": "Linux Mint",
    "manjaro": "Manjaro",
    "nixos": "NixOS",
    "opensuse": "openSUSE",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
    "ol": "OracleLinux",
    "pop": "Pop",
    "rhel": "Red Hat Enterprise Linux",
    "rocky": "Rocky Linux",
    "sles": "SUSE Linux Enterprise Server",
    "ubuntu": "Ubuntu",
}

_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9\-_./]")


def originator() -> str:
    return os.environ.get("CODEX_INTERNAL_ORIGINATOR_OVERRIDE") or DEFAULT_ORIGINATOR


@lru_cache(maxsize=1)
def os_description() -> str:
    """`<os type> <semver>; <arch>` as os_info describes this machine (Debian 12 → `Debian 12.0.0`)."""
    fields: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip().strip('"')
    except OSError:
        pass
    name = _OS_NAMES.get(fields.get("ID", ""), platform.system() or "Unknown")
    return f"{name} {_semver(fields.get('VERSION_ID', ''))}; {platform.machine()}"


def _semver(version: str) -> str:
    parts = version.split(".")
    if not version or not all(part.isdigit() for part in parts) or len(parts) > 3:
        return version or "Unknown"
    numbers = [int(part) for part in parts] + [0] * (3 - len(parts))
    return ".".join(str(number) for number in numbers)


def terminal_token(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    program = env.get("TERM_PROGRAM")
    if program:
        version = env.get("TERM_PROGRAM_VERSION")
        token = f"{program}/{version}" if version else program
    elif env.get("WEZTERM_VERSION"):
        token = f"WezTerm/{env['WEZTERM_VERSION']}"
    elif env.get("KITTY_WINDOW_ID") or "kitty" in env.get("TERM", ""):
        token = "kitty"
    elif env.get("ALACRITTY_SOCKET"):
        token = "Alacritty"
    elif env.get("KONSOLE_VERSION"):
        token = f"Konsole/{env['KONSOLE_VERSION']}"
    elif env.get("GNOME_TERMINAL_SCREEN"):
        token = "gnome-terminal"
    elif env.get("VTE_VERSION"):
        token = f"VTE/{env['VTE_VERSION']}"
    elif env.get("WT_SESSION"):
        token = "WindowsTerminal"
    else:
        token = env.get("TERM", "unknown")
    return _TOKEN_UNSAFE.sub("_", token)


def _header_safe(text: str) -> str:
    # A header value may hold tab, visible ASCII and bytes ≥ 0x80; when anything else is present
    # 0.58 rewrites every character outside visible ASCII, so we do the same.
    if all(ch == "\t" or " " <= ch <= "~" or ord(ch) >= 0x80 for ch in text):
        return text
    return "".join(ch if " " <= ch <= "~" else "_" for ch in text)


@lru_cache(maxsize=1)
def base_user_agent() -> str:
    return f"{originator()}/{CLI_VERSION} ({os_description()}) {terminal_token()}"


def user_agent(client_name: str | None = None, client_version: str | None = None) -> str:
    """The full user agent; the client suffix is present once a connection sent `clientInfo`."""
    base = base_user_agent()
    if client_name is None and client_version is None:
        return base
    suffix = f"{client_name or ''}; {client_version or ''}".strip()
    return f"{base} ({_header_safe(suffix)})"
