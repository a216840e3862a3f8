"""Which commands are known to be safe (no approval under `untrusted`), and `parsedCmd` summaries.

Rules follow 0.58: a small allowlist of read-only programs with per-program checks on the options
that can write or execute (`find -exec`, `rg --pre`, `git -c`, `base64 -o`, …), and `bash -lc "…"`
scripts made only of plain words and quoted strings joined by `&&`, `||`, `;` or `|`, each of whose
commands is itself safe. Anything with expansions, redirections, subshells or assignments is not
plain, so it is neither auto-approved nor summarised beyond `unknown`.
"""

from __future__ import annotations

import os
import re

_SAFE_PROGRAMS = frozenset(
    {
        "cat",
        "cd",
        "cut",
        "echo",
        "expr",
        "false",
        "grep",
        "head",
        "id",
        "ls",
        "nl",
        "paste",
        "pwd",
        "rev",
        "seq",
        "stat",
        "tail",
        "tr",
        "true",
        "uname",
        "uniq",
        "wc",
        "which",
        "whoami",
        "numfmt",
        "tac",
    }
)
_UNSAFE_FIND = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"})
_UNSAFE_RG_WITH_ARGS = ("--pre", "--hostname-bin")
_UNSAFE_RG_FLAGS = frozenset({"--search-zip", "-z"})
_SAFE_GIT_SUBCOMMANDS = ("status", "log", "diff", "show", "branch")
_UNSAFE_GIT_FLAGS = frozenset({"--output", "--ext-diff", "--textconv", "--exec", "--paginate"})
_GIT_OPTIONS_WITH_VALUE = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env", "--super-prefix"}
)
_SED_RANGE = re.compile(r"\d+(,\d+)?p")
_SHELLS = frozenset({"bash", "sh", "zsh"})


# ------------------------------------------------------------------------------------ plain scripts


def split_plain_script(script: str) -> list[list[str]] | None:
    """The commands of a script of plain words joined by `&&`, `||`, `;`, `|` (newline = `;`); else None."""
    commands: list[list[str]] = []
    current: list[str] = []
    word: list[str] | None = None
    i, n = 0, len(script)

    def end_word() -> None:
        nonlocal word
        if word is not None:
            current.append("".join(word))
            word = None

    def end_command() -> bool:
        end_word()
        if not current:
            return False
        if "=" in current[0] and not current[0].startswith("="):
            return False  # an assignment prefix (`FOO=1 cmd`) changes the command's environment
        commands.append(list(current))
        current.clear()
        return True

    while i < n:
        c = script[i]
        if c in " \t":
            end_word()
            i += 1
        elif c in "\n;":
            if current or word is not None:
                if not end_command():
                    return None
            elif c == ";":
                return None
            i += 1
        elif script.startswith("&&", i) or script.startswith("||", i):
            if not end_command():
                return None
            i += 2
        elif c == "|":
            if script.startswith("|&", i) or not end_command():
                return None
            i += 1
        elif c == "'":
            close = script.find("'", i + 1)
            if close < 0:
                return None
            word = (word or []) + [script[i + 1 : close]]
            i = close + 1
        elif c == '"':
            close = script.find('"', i + 1)
            if close < 0:
                return None
            inner = script[i + 1 : close]
            if any(ch in inner for ch in "$`\\"):
                return None
            word = (word or []) + [inner]
            i = close + 1
        elif c in "&<>()$`\\{}!#":
            if c == "#" and word is not None:
                word.append(c)
                i += 1
                continue
            return None
        else:
            word = (word or []) + [c]
            i += 1
    if current or word is not None:
        if not end_command():
            return None
    elif commands and script.rstrip(" \t\n").endswith(("&&", "||", "|")):
        return None
    return commands or None


def _shell_script(argv: list[str]) -> str | None:
    if len(argv) == 3 and os.path.basename(argv[0]) in _SHELLS and argv[1] in ("-lc", "-c"):
        return argv[2]
    return None


# ---------------------------------------------------------------------------------------- safety


def is_known_safe_command(argv: list[str]) -> bool:
    """True when 0.58 would run this without asking under `untrusted`."""
    command = ["bash" if arg == "zsh" else arg for arg in argv]
    if _is_safe_to_exec(command):
        return True
    script = _shell_script(command)
    if script is None:
        return False
    commands = split_plain_script(script)
    return bool(commands) and all(_is_safe_to_exec(cmd) for cmd in commands)


def _is_safe_to_exec(command: list[str]) -> bool:
    if not command:
        return False
    name = os.path.basename(command[0])
    args = command[1:]
    if name in _SAFE_PROGRAMS:
        return True
    if name == "base64":
        return not any(
            a in ("-o", "--output") or a.startswith("--output=") or (a.startswith("-o") and a != "-o") for a in args
        )
    if name == "find":
        return not any(a in _UNSAFE_FIND for a in args)
    if name == "rg":
        return not any(
            a in _UNSAFE_RG_FLAGS or any(a == o or a.startswith(o + "=") for o in _UNSAFE_RG_WITH_ARGS) for a in args
        )
    if name == "git":
        return _git_is_read_only(args)
    if name == "sed":
        return len(command) <= 4 and len(args) >= 2 and args[0] == "-n" and bool(_SED_RANGE.fullmatch(args[1]))
    return False


def _git_is_read_only(args: list[str]) -> bool:
    if any(
        a in ("-c", "--config-env") or (a.startswith("-c") and len(a) > 2) or a.startswith("--config-env=")
        for a in args
    ):
        return False  # `-c core.pager=…` can run anything
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _GIT_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        break
    if index >= len(args) or args[index] not in _SAFE_GIT_SUBCOMMANDS:
        return False
    sub, rest = args[index], args[index + 1 :]
    if any(a in _UNSAFE_GIT_FLAGS or a.startswith(("--output=", "--exec=")) for a in rest):
        return False
    if sub != "branch" or not rest:
        return True
    read_only = {"--list", "-l", "--show-current", "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose"}
    return all(a in read_only or a.startswith("--format=") for a in rest)


# --------------------------------------------------------------------------------------- parsedCmd

_SAFE_UNQUOTED = re.compile(r"[A-Za-z0-9_\-./,:@%+=]+")


def shell_quote(token: str) -> str:
    if token == "":
        return "''"
    if _SAFE_UNQUOTED.fullmatch(token):
        return token
    if "'" not in token:
        return f"'{token}'"
    return '"' + re.sub(r'(["\\$`])', r"\\\1", token) + '"'


def shell_join(tokens: list[str]) -> str:
    return " ".join(shell_quote(t) for t in tokens)


def _operands(args: list[str], with_value: frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    skip = False
    after_dashes = False
    for arg in args:
        if skip:
            skip = False
            continue
        if after_dashes:
            out.append(arg)
        elif arg == "--":
            after_dashes = True
        elif arg.startswith("-") and arg != "-":
            skip = arg in with_value
        else:
            out.append(arg)
    return out


def _short_path(path: str) -> str:
    trimmed = path.replace("\\", "/").rstrip("/")
    for part in reversed(trimmed.split("/")):
        if part and part not in ("build", "dist", "node_modules", "src"):
            return part
    return trimmed or path


def _read(cmd: str, path: str) -> dict:
    return {"type": "read", "cmd": cmd, "name": os.path.basename(path.rstrip("/")) or path, "path": path}


def _summarize(tokens: list[str]) -> dict:
    cmd = shell_join(tokens)
    unknown = {"type": "unknown", "cmd": cmd}
    if not tokens:
        return unknown
    name, args = os.path.basename(tokens[0]), tokens[1:]
    if name == "cat":
        files = _operands(args)
        return _read(cmd, files[0]) if len(files) == 1 else unknown
    if name in ("head", "tail"):
        files = _operands(args, frozenset({"-n", "-c", "--lines", "--bytes"}))
        return _read(cmd, files[0]) if len(files) == 1 else unknown
    if name == "sed":
        if len(args) == 3 and args[0] == "-n" and _SED_RANGE.fullmatch(args[1]):
            return _read(cmd, args[2])
        return unknown
    if name == "nl":
        files = _operands(args, frozenset({"-b", "-d", "-f", "-h", "-i", "-l", "-n", "-s", "-v", "-w"}))
        return _read(cmd, files[0]) if len(files) == 1 else unknown
    if name == "ls":
        operands = _operands(
            args, frozenset({"-I", "-w", "--block-size", "--format", "--time-style", "--color", "--quoting-style"})
        )
        return {"type": "list_files", "cmd": cmd, "path": _short_path(operands[0]) if operands else None}
    if name == "rg":
        operands = _operands(
            args,
            frozenset(
                {"-g", "--glob", "-t", "--type", "-T", "--type-not", "-m", "--max-count", "-A", "-B", "-C", "--context"}
            ),
        )
        if "--files" in args:
            return {"type": "list_files", "cmd": cmd, "path": _short_path(operands[0]) if operands else None}
        return {
            "type": "search",
            "cmd": cmd,
            "query": operands[0] if operands else None,
            "path": _short_path(operands[1]) if len(operands) > 1 else None,
        }
    if name in ("grep", "egrep", "fgrep"):
        operands = _operands(args, frozenset({"-e", "-f", "-m", "-A", "-B", "-C", "--include", "--exclude"}))
        return {
            "type": "search",
            "cmd": cmd,
            "query": operands[0] if operands else None,
            "path": _short_path(operands[1]) if len(operands) > 1 else None,
        }
    if name == "fd":
        operands = _operands(args, frozenset({"-t", "--type", "-e", "--extension", "-E", "--exclude"}))
        query = operands[0] if operands else None
        path = _short_path(operands[1]) if len(operands) > 1 else None
        return {"type": "search", "cmd": cmd, "query": query, "path": path}
    if name == "find":
        path = args[0] if args and not args[0].startswith("-") else None
        query = next(
            (args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-name", "-iname", "-path", "-regex")), None
        )
        if query is None:
            return {"type": "list_files", "cmd": cmd, "path": _short_path(path) if path else None}
        return {"type": "search", "cmd": cmd, "query": query, "path": _short_path(path) if path else None}
    return unknown


def _is_formatting(tokens: list[str]) -> bool:
    name = tokens[0]
    if name in ("wc", "tr", "cut", "sort", "uniq", "xargs", "tee", "column", "awk", "yes", "printf"):
        return True
    if name in ("head", "tail"):
        # Without a file operand they only trim another command's output.
        return not _operands(tokens[1:], frozenset({"-n", "-c", "--lines", "--bytes"}))
    if name == "sed":
        return len(tokens) < 4 or not (tokens[1] == "-n" and _SED_RANGE.fullmatch(tokens[2]))
    return False


def _simplify(commands: list[list[str]]) -> list[list[str]]:
    while len(commands) > 1:
        if commands[0][0] == "echo":
            commands = commands[1:]
            continue
        cd = next((i for i, c in enumerate(commands) if c[0] == "cd"), None)
        if cd is not None and cd + 1 < len(commands):
            commands = commands[:cd] + commands[cd + 1 :]
            continue
        trivial = next(
            (
                i
                for i, c in enumerate(commands)
                if c == ["true"] or (c[0] == "nl" and all(t.startswith("-") for t in c[1:]))
            ),
            None,
        )
        if trivial is not None:
            commands = commands[:trivial] + commands[trivial + 1 :]
            continue
        break
    return commands


def parse_command(argv: list[str]) -> list[dict]:
    """ParsedCommand dicts (`read`, `list_files`, `search`, `unknown`) describing what argv does."""
    script = _shell_script(argv)
    if script is None:
        tokens = list(argv)
        if len(tokens) > 2 and tokens[0] in ("yes", "y", "no", "n") and tokens[1] == "|":
            tokens = tokens[2:]
        return [_summarize(tokens)]
    commands = split_plain_script(script)
    if not commands:
        return [{"type": "unknown", "cmd": script}]
    if len(commands) > 1:
        kept = [c for c in commands if not _is_formatting(c)]
        commands = kept or commands
    summaries: list[dict] = []
    for summary in (_summarize(c) for c in _simplify(commands)):
        if not summaries or summaries[-1] != summary:
            summaries.append(summary)
    return summaries
