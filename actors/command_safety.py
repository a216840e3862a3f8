"""Which commands are known to be safe (no approval under `untrusted`), and `parsedCmd` summaries.

Every rule here was measured against the 0.58 binary (`tests/test_command_safety.py` holds the table):
- Safe: a short allowlist of read-only programs (by file name, so `/bin/cat` counts), `find` without its
  writing/executing options, `rg` without `--pre`/`--hostname-bin`/`-z`, `git` whose *first* argument is
  `status`/`log`/`diff`/`show`/`branch` (0.58 looks no further, so `git branch -D x` passes and
  `git -C . status` does not), and `sed -n N[,M]p [file]`. A `bash`/`zsh` `-c`/`-lc` script is safe when
  it is "plain" (see `split_plain_script`) and each of its commands is safe.
- `parsedCmd`: words are re-joined with the quoting rules of Rust's `shlex` crate, then summarised as
  `read`, `list_files`, `search` or `unknown`, with pipeline helpers (`wc`, `head -3`, …) dropped, `cd`
  folded into read paths, and a few no-op commands (`echo`, `true`, bare `nl -ba`) simplified away.
"""

from __future__ import annotations

import os
import re

NUL_PLACEHOLDER = "<command included NUL byte>"

_SAFE_PROGRAMS = frozenset(
    {"cat", "cd", "echo", "false", "grep", "head", "ls", "nl", "pwd", "tail", "true", "wc", "which"}
)
_UNSAFE_FIND = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"})
_UNSAFE_RG_WITH_ARGS = ("--pre", "--hostname-bin")
_UNSAFE_RG_FLAGS = frozenset({"--search-zip", "-z"})
_SAFE_GIT_SUBCOMMANDS = frozenset({"status", "log", "diff", "show", "branch"})
_SHELLS = frozenset({"bash", "zsh"})
_CONNECTORS = frozenset({"&&", "||", "|", ";"})


# ------------------------------------------------------------------------------------------ quoting

# Characters Rust's shlex leaves bare; everything else forces a quoted chunk.
_BARE = frozenset("+-./:@]_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_BARE_OK, _SINGLE_OK, _DOUBLE_OK = 1, 2, 4


def _allowed(ch: str) -> int:
    if ord(ch) >= 0x80:
        return _SINGLE_OK | _DOUBLE_OK
    ok = _BARE_OK if ch in _BARE else 0
    if ch not in "'^\\":
        ok |= _SINGLE_OK
    if ch not in "`$!^":
        ok |= _DOUBLE_OK
    return ok


def shell_quote(token: str) -> str:
    """One word quoted as Rust's `shlex` quotes it: the string is cut into the longest chunks that one
    style (bare, '…', "…") can hold, so `a^b` becomes `a'^b'` and `a$b'c` becomes `'a$b'"'c"`."""
    if token == "":
        return "''"
    out: list[str] = []
    i, n = 0, len(token)
    while i < n:
        start = i
        if token[i] == "^":
            # A leading caret is only safe right after an opening single quote.
            ok, i = _SINGLE_OK, i + 1
        else:
            ok = _BARE_OK | _SINGLE_OK | _DOUBLE_OK
        while i < n:
            narrowed = ok & _allowed(token[i])
            if not narrowed:
                break
            ok, i = narrowed, i + 1
        chunk = token[start:i]
        if ok & _BARE_OK:
            out.append(chunk)
        elif ok & _SINGLE_OK:
            out.append(f"'{chunk}'")
        else:
            out.append('"' + re.sub(r'(["\\$`])', r"\\\1", chunk) + '"')
    return "".join(out)


def shell_join(tokens: list[str]) -> str:
    if any("\x00" in t for t in tokens):
        return NUL_PLACEHOLDER
    return " ".join(shell_quote(t) for t in tokens)


def shlex_split(text: str) -> list[str] | None:
    """Words of text as Rust's `shlex::split` reads them (None on an unclosed quote or a final backslash)."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            i += 1
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        word: list[str] = []
        while i < n and text[i] not in " \t\n":
            c = text[i]
            if c == "'":
                close = text.find("'", i + 1)
                if close < 0:
                    return None
                word.append(text[i + 1 : close])
                i = close + 1
            elif c == '"':
                i += 1
                while True:
                    if i >= n:
                        return None
                    c = text[i]
                    if c == '"':
                        i += 1
                        break
                    if c == "\\":
                        if i + 1 >= n:
                            return None
                        nxt = text[i + 1]
                        if nxt in '$`"\\':
                            word.append(nxt)
                        elif nxt != "\n":
                            word.append("\\" + nxt)
                        i += 2
                        continue
                    word.append(c)
                    i += 1
            elif c == "\\":
                if i + 1 >= n:
                    return None
                if text[i + 1] != "\n":
                    word.append(text[i + 1])
                i += 2
            else:
                word.append(c)
                i += 1
        words.append("".join(word))
    return words


# ------------------------------------------------------------------------------------ plain scripts

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Words the bash grammar reads as syntax rather than as a command name.
_NOT_A_COMMAND = frozenset(
    {"if", "then", "elif", "else", "fi", "for", "while", "until", "do", "done", "case", "esac", "select", "function",
     "!", "[[", "declare", "typeset", "export", "readonly", "local", "unset", "unsetenv"}
)


class _NotPlain(Exception):
    pass


def _double_quoted_word(content: str) -> str:
    # The bash grammar skips whitespace-only lines of a double-quoted string and needs exactly one
    # remaining line for the string to count as a single plain word (measured: `" "`, `"a\nb"` are
    # not plain; `"a\n"`, `" \na"` read as `a`).
    lines = [line for line in content.split("\n") if line.strip(" \t")]
    if len(lines) != 1:
        raise _NotPlain
    return lines[0]


def _scan_plain(script: str) -> list[list[str]]:
    commands: list[list[str]] = []
    current: list[str] = []
    i, n = 0, len(script)
    expect_command = False  # after `&&`, `||`, `|`: another command must follow (newlines may come first)

    def finish_command(operator: str) -> None:
        nonlocal expect_command
        if not current:
            raise _NotPlain
        commands.append(list(current))
        current.clear()
        expect_command = operator in ("&&", "||", "|")

    while i < n:
        c = script[i]
        if c in " \t\r":
            i += 1
        elif script.startswith("\\\n", i):
            i += 2
        elif c == "\\" and script[i + 1 : i + 2] in (" ", "\t"):
            # The bash grammar skips an escaped blank before a word, and fails when no word follows.
            i += 2
            if not script[i:].strip(" \t\r"):
                raise _NotPlain
        elif c == "\n":
            if current:
                finish_command("\n")
            i += 1
        elif script.startswith("&&", i) or script.startswith("||", i):
            finish_command(script[i : i + 2])
            i += 2
        elif c == "|":
            if script.startswith("|&", i):
                raise _NotPlain
            finish_command("|")
            i += 1
        elif c == "&":
            raise _NotPlain  # background job or redirection
        elif c == ";":
            if script.startswith(";;", i) or expect_command:
                raise _NotPlain
            finish_command(";")
            expect_command = False
            i += 1
        else:
            word, i, quoted = _scan_word(script, i)
            if not current and (quoted or word in _NOT_A_COMMAND or _ASSIGNMENT.match(word)):
                raise _NotPlain
            current.append(word)
            expect_command = False
    if current:
        commands.append(current)
    elif expect_command:
        raise _NotPlain
    return commands


def _scan_word(script: str, i: int) -> tuple[str, int, bool]:
    """One word starting at i: (its text, the index after it, whether it was quoted)."""
    n = len(script)
    c = script[i]
    if c == "'":
        close = script.find("'", i + 1)
        if close < 0:
            raise _NotPlain
        end, text, quoted = close + 1, script[i + 1 : close], True
    elif c == '"':
        j = i + 1
        while j < n and script[j] != '"':
            if script[j] == "\\":
                j += 2
                continue
            if script[j] in "$`":
                raise _NotPlain
            j += 1
        if j >= n:
            raise _NotPlain
        end, text, quoted = j + 1, _double_quoted_word(script[i + 1 : j]), True
    else:
        if c == "#":
            raise _NotPlain  # a comment
        j = i
        while j < n and script[j] not in " \t\r\n;&|":
            ch = script[j]
            if ch == "\\":
                if j + 1 >= n:
                    raise _NotPlain
                if script[j + 1] == "\n":
                    break  # a line continuation ends the word
                j += 2
                continue
            if ch in "'\"":
                raise _NotPlain  # a concatenation such as a'b' is not a plain word
            if ch in "<>()$`{}[":
                raise _NotPlain
            j += 1
        text, end, quoted = script[i:j], j, False
        if "]" in text and text != "]":
            raise _NotPlain
        # Backslash escapes stay in the word as written (0.58 keeps the source text).
    if end < n and script[end] not in " \t\r\n;&|" and not script.startswith("\\\n", end):
        raise _NotPlain  # a quoted string glued to more text
    return text, end, quoted


def split_plain_script(script: str) -> list[list[str]] | None:
    """The commands of a script made only of plain words (bare words, '…', "…" without expansions) joined
    by `&&`, `||`, `;`, `|` or newlines; None when anything else appears (redirections, `$`, subshells,
    globs in brackets, braces, comments, assignments, keywords, concatenated quotes)."""
    try:
        return _scan_plain(script)
    except _NotPlain:
        return None


def shell_script(argv: list[str]) -> str | None:
    """The script of `bash|zsh -c|-lc SCRIPT` (the shell by file name, exactly three arguments)."""
    if len(argv) == 3 and os.path.basename(argv[0]) in _SHELLS and argv[1] in ("-lc", "-c"):
        return argv[2]
    return None


# ---------------------------------------------------------------------------------------- safety


def is_known_safe_command(argv: list[str]) -> bool:
    """True when 0.58 would run this without asking under `untrusted`."""
    command = ["bash" if arg == "zsh" else arg for arg in argv]
    if _is_safe_to_exec(command):
        return True
    script = shell_script(command)
    if script is None:
        return False
    commands = split_plain_script(script)
    return bool(commands) and all(_is_safe_to_exec(cmd) for cmd in commands)


def _is_safe_to_exec(command: list[str]) -> bool:
    if not command:
        return False
    name = os.path.basename(command[0])
    if name in _SAFE_PROGRAMS:
        return True
    if name == "find":
        return not any(a in _UNSAFE_FIND for a in command)
    if name == "rg":
        return not any(
            a in _UNSAFE_RG_FLAGS or any(a == o or a.startswith(o + "=") for o in _UNSAFE_RG_WITH_ARGS)
            for a in command
        )
    if name == "git":
        return len(command) > 1 and command[1] in _SAFE_GIT_SUBCOMMANDS
    if name == "sed":
        return len(command) <= 4 and len(command) > 2 and command[1] == "-n" and _valid_sed_range(command[2])
    return False


def _valid_sed_range(arg: str | None) -> bool:
    return arg is not None and re.fullmatch(r"[0-9]+(,[0-9]+)?p", arg) is not None


# --------------------------------------------------------------------------------------- parsedCmd


def _short_path(path: str) -> str:
    trimmed = path.replace("\\", "/").rstrip("/")
    for part in reversed(trimmed.split("/")):
        if part and part not in ("build", "dist", "node_modules", "src"):
            return part
    return trimmed


def _skip_flag_values(args: list[str], with_value: frozenset[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--":
            out.extend(args[i + 1 :])
            break
        if arg.startswith("--") and "=" in arg:
            continue
        if arg in with_value:
            skip = i + 1 < len(args)
            continue
        out.append(arg)
    return out


def _until_connector(args: list[str]) -> list[str]:
    for i, arg in enumerate(args):
        if arg in _CONNECTORS:
            return args[:i]
    return args


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _read(cmd: str, path: str) -> dict:
    return {"type": "read", "cmd": cmd, "name": _short_path(path), "path": path}


def _search(cmd: str, query: str | None, path: str | None) -> dict:
    return {"type": "search", "cmd": cmd, "query": query, "path": path}


def _digits(text: str) -> bool:
    return all(ch in "0123456789" for ch in text)


def _line_count(text: str, plus: bool) -> bool:
    if plus:
        text = text[1:] if text.startswith("+") else text
        return text != "" and _digits(text)
    return _digits(text)


def _head_tail(cmd: str, args: list[str], plus: bool) -> dict:
    first = args[0] if args else None
    if first == "-n":
        valid = len(args) > 1 and _line_count(args[1], plus)
    else:
        valid = first is not None and first.startswith("-n") and _line_count(first[2:], plus)
    if valid:
        rest = args[2:] if first == "-n" and len(args) > 1 and _line_count(args[1], plus) else args
        for candidate in rest:
            if not candidate.startswith("-"):
                return _read(cmd, candidate)
    return {"type": "unknown", "cmd": cmd}


def _summarize(tokens: list[str]) -> dict:
    cmd = shell_join(tokens)
    head, args = (tokens[0], tokens[1:]) if tokens else ("", [])
    if head == "ls":
        with_value = frozenset({"-I", "-w", "--block-size", "--format", "--time-style", "--color", "--quoting-style"})
        operands = _positional(_skip_flag_values(args, with_value))
        return {"type": "list_files", "cmd": cmd, "path": _short_path(operands[0]) if operands else None}
    if head == "rg":
        trimmed = _until_connector(args)
        operands = _positional(trimmed)
        if "--files" in trimmed:
            return _search(cmd, None, _short_path(operands[0]) if operands else None)
        return _search(cmd, operands[0] if operands else None, _short_path(operands[1]) if len(operands) > 1 else None)
    if head == "fd":
        with_value = frozenset({"-t", "--type", "-e", "--extension", "-E", "--exclude", "--search-path"})
        operands = _positional(_skip_flag_values(_until_connector(args), with_value))
        if len(operands) == 1:
            one = operands[0]
            pathish = one in (".", "..") or one.startswith(("./", "../")) or "/" in one or "\\" in one
            return _search(cmd, None, _short_path(one)) if pathish else _search(cmd, one, None)
        if len(operands) > 1:
            return _search(cmd, operands[0], _short_path(operands[1]))
        return _search(cmd, None, None)
    if head == "find":
        trimmed = _until_connector(args)
        root = next((a for a in trimmed if not a.startswith("-") and a not in ("!", "(", ")")), None)
        query = None
        for i, arg in enumerate(trimmed):
            if arg in ("-name", "-iname", "-path", "-regex"):
                query = trimmed[i + 1] if i + 1 < len(trimmed) else None
                break
        return _search(cmd, query, _short_path(root) if root is not None else None)
    if head == "grep":
        operands = _positional(_until_connector(args))
        return _search(cmd, operands[0] if operands else None, _short_path(operands[1]) if len(operands) > 1 else None)
    if head == "cat":
        files = args[1:] if args[:1] == ["--"] else args
        return _read(cmd, files[0]) if len(files) == 1 else {"type": "unknown", "cmd": cmd}
    if head in ("head", "tail"):
        return _head_tail(cmd, args, plus=head == "tail")
    if head == "nl":
        operands = _positional(_skip_flag_values(args, frozenset({"-s", "-w", "-v", "-i", "-b"})))
        return _read(cmd, operands[0]) if operands else {"type": "unknown", "cmd": cmd}
    if head == "sed" and len(args) >= 3 and args[0] == "-n" and _valid_sed_range(args[1]):
        return _read(cmd, args[2])
    return {"type": "unknown", "cmd": cmd}


def _is_formatting(tokens: list[str]) -> bool:
    name = tokens[0] if tokens else ""
    if name in ("wc", "tr", "cut", "sort", "uniq", "xargs", "tee", "column", "awk", "yes", "printf"):
        return True
    if name in ("head", "tail"):
        return len(tokens) < 3
    if name == "sed":
        return len(tokens) < 4 or not (tokens[1] == "-n" and _valid_sed_range(tokens[2]))
    return False


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or path.startswith("\\\\") or bool(re.match(r"[A-Za-z]:\\", path))


def _join(base: str, rel: str) -> str:
    if _is_absolute(rel) or not base:
        return rel
    return base + rel if base.endswith("/") else f"{base}/{rel}"


def _summarize_all(commands: list[list[str]]) -> list[dict]:
    """Summaries in order; `cd DIR` is not shown but prefixes the paths of later reads."""
    out: list[dict] = []
    cwd: str | None = None
    for tokens in commands:
        if tokens and tokens[0] == "cd":
            if len(tokens) > 1:
                cwd = tokens[1] if cwd is None else _join(cwd, tokens[1])
            continue
        summary = _summarize(tokens)
        if summary["type"] == "read" and cwd is not None:
            summary["path"] = _join(cwd, summary["path"])
        out.append(summary)
    return out


def _first_word(summary: dict) -> str | None:
    if summary["type"] != "unknown":
        return None
    words = shlex_split(summary["cmd"])
    return words[0] if words else None


def _simplify_once(commands: list[dict]) -> list[dict] | None:
    if len(commands) <= 1:
        return None
    if _first_word(commands[0]) == "echo":
        return commands[1:]
    for i, summary in enumerate(commands):
        if _first_word(summary) == "cd" and i + 1 < len(commands):
            return commands[:i] + commands[i + 1 :]
    for i, summary in enumerate(commands):
        if summary == {"type": "unknown", "cmd": "true"}:
            return commands[:i] + commands[i + 1 :]
    for i, summary in enumerate(commands):
        if summary["type"] == "unknown":
            words = shlex_split(summary["cmd"])
            if words and words[0] == "nl" and all(w.startswith("-") for w in words[1:]):
                return commands[:i] + commands[i + 1 :]
    return None


def _simplify(commands: list[dict]) -> list[dict]:
    while (simpler := _simplify_once(commands)) is not None:
        commands = simpler
    return commands


def _parse_script(script: str) -> list[dict]:
    commands = split_plain_script(script)
    if not commands:
        return [{"type": "unknown", "cmd": script}]
    script_words = shlex_split(script)
    if script_words is None:
        script_words = [script]
    had_several = len(commands) > 1
    kept = [c for c in commands if not _is_formatting(c)]
    if not kept:
        return [{"type": "unknown", "cmd": script}]
    summaries = _summarize_all(kept)
    if len(summaries) > 1:
        summaries = _simplify([s for s in summaries if s != {"type": "unknown", "cmd": "true"}])
    if len(summaries) == 1 and summaries[0]["type"] != "unknown":
        summary = summaries[0]
        had_connectors = had_several or any(w in _CONNECTORS for w in script_words)
        if not had_connectors:
            summary["cmd"] = shell_join(script_words)
        elif summary["type"] == "read":
            piped = "|" in script_words
            sed_n = any(a == "sed" and b == "-n" for a, b in zip(script_words, script_words[1:], strict=False))
            if piped and sed_n:
                summary["cmd"] = script
    return summaries


def _parse_argv(argv: list[str]) -> list[dict]:
    tokens = list(argv)
    if len(tokens) >= 2 and tokens[0] in ("yes", "y", "no", "n") and tokens[1] == "|":
        tokens = tokens[2:]
    if any(t in _CONNECTORS for t in tokens):
        parts: list[list[str]] = []
        current: list[str] = []
        for token in tokens:
            if token in _CONNECTORS:
                if current:
                    parts.append(current)
                current = []
            else:
                current.append(token)
        if current:
            parts.append(current)
    else:
        parts = [tokens]
    return _simplify(_summarize_all(parts))


def parse_command(argv: list[str]) -> list[dict]:
    """ParsedCommand dicts (`read`, `list_files`, `search`, `unknown`) describing what argv does."""
    script = shell_script(argv)
    summaries = _parse_script(script) if script is not None else _parse_argv(argv)
    deduped: list[dict] = []
    for summary in summaries:
        if not deduped or deduped[-1] != summary:
            deduped.append(summary)
    return deduped
