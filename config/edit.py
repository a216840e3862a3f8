"""`setDefaultModel`: edit `model` / `model_reasoning_effort` in config.toml, keeping its layout.

0.58 edits with toml_edit, whose idea of layout differs from tomlkit's: blank lines and comments
*above* a key belong to that key (removing the key removes them), those after the last key of a table
belong to the next table header, a replaced value keeps its key's spacing but loses a trailing comment,
and a new table is preceded by a blank line unless it is the first thing in the file. To reproduce that
exactly the document is split into statements (trivia lines, headers, key/values) and edited as text;
the file is first parsed with tomllib, so the splitter only ever sees valid TOML. Documents whose target
table hides inside an inline table or an array of tables are edited with tomlkit instead.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from config.loader import CONFIG_FILE, os_error_text, toml_error_text

MODEL_KEY = "model"
EFFORT_KEY = "model_reasoning_effort"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class ConfigEditError(Exception):
    """Why the edit could not be made; str() is the detail after `failed to persist model selection: `."""


# -- values as toml_edit writes them ----------------------------------------------------------


def toml_string(value: str) -> str:
    """A TOML string literal in the form toml_edit picks for a new value: the first that needs no
    escapes of: basic, literal, multi-line basic, multi-line literal (in that order);
    failing all of them, an escaped basic string (multi-line when the text has a newline)."""
    newline = "\n" in value
    controls = any((ord(ch) < 0x20 and ch not in "\t\n") or ch == "\x7f" for ch in value)
    backslash = "\\" in value
    singles, doubles = _longest_run(value, "'"), _longest_run(value, '"')
    lead = "\n" if newline else ""
    if not (controls or backslash or doubles or newline):
        return f'"{_escape_basic(value)}"'
    if not (controls or singles or newline):
        return f"'{value}'"
    if not (controls or backslash) and doubles <= 2:
        return f'"""{lead}{_escape_basic(value, multiline=True)}"""'
    if not controls and singles <= 2:
        return f"'''{lead}{value}'''"
    if newline:
        return f'"""{lead}{_escape_basic(value, multiline=True)}"""'
    return f'"{_escape_basic(value)}"'


def _longest_run(value: str, quote: str) -> int:
    longest = run = 0
    for ch in value:
        run = run + 1 if ch == quote else 0
        longest = max(longest, run)
    return longest


def _escape_basic(value: str, multiline: bool = False) -> str:
    out = []
    quotes = 0
    for ch in value:
        quotes = quotes + 1 if ch == '"' else 0
        if ch == '"':
            # A multi-line string only needs the third quote of a run escaped.
            if not multiline or quotes == 3:
                out.append('\\"')
                quotes = 0
            else:
                out.append('"')
        elif ch == "\n":
            out.append("\n" if multiline else "\\n")
        elif ch in _BASIC_ESCAPES:
            out.append(_BASIC_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


_BASIC_ESCAPES = {"\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def toml_key(part: str) -> str:
    return part if _BARE_KEY.fullmatch(part) else f'"{_escape_basic(part)}"'


# -- splitting a document into statements -----------------------------------------------------


@dataclass
class _Stmt:
    kind: str  # "trivia" | "header" | "kv"
    text: str  # raw text, newline included
    path: tuple[str, ...] = ()  # header: the table's path; kv: the key's dotted parts
    array: bool = False  # [[header]]
    head: str = ""  # kv: indent, key, spacing and "=" (what a replaced value keeps)
    value: str = ""  # kv: the raw value


class _Unsupported(Exception):
    """The document's shape needs the tomlkit path."""


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text, self.n = text, len(text)

    def statements(self) -> list[_Stmt]:
        out: list[_Stmt] = []
        i = 0
        while i < self.n:
            start = i
            i = self._skip_ws(i)
            ch = self.text[i] if i < self.n else "\n"
            if ch in "\n#":
                end = self._line_end(i)
                out.append(_Stmt("trivia", self.text[start:end]))
            elif ch == "[":
                array = self.text.startswith("[[", i)
                path, j = self._key(i + (2 if array else 1))
                j = self._skip_ws(j) + (2 if array else 1)
                end = self._line_end(j)
                out.append(_Stmt("header", self.text[start:end], path, array))
            else:
                path, j = self._key(i)
                j = self._skip_ws(j) + 1  # past "="
                head = self.text[start:j]
                value_start = self._skip_ws(j)
                value_end = self._value_end(value_start)
                value = self.text[value_start:value_end].rstrip(" \t")
                end = self._line_end(value_end)
                out.append(_Stmt("kv", self.text[start:end], path, head=head, value=value))
            i = end
        return out

    def _skip_ws(self, i: int) -> int:
        while i < self.n and self.text[i] in " \t":
            i += 1
        return i

    def _line_end(self, i: int) -> int:
        nl = self.text.find("\n", i)
        return self.n if nl < 0 else nl + 1

    def _key(self, i: int) -> tuple[tuple[str, ...], int]:
        parts: list[str] = []
        while True:
            i = self._skip_ws(i)
            ch = self.text[i]
            if ch in "\"'":
                end = self._string_end(i)
                raw = self.text[i:end]
                parts.append(raw[1:-1] if ch == "'" else next(iter(tomllib.loads(f"{raw} = 0"))))
                i = end
            else:
                match = _BARE_KEY.match(self.text, i)
                if match is None:
                    raise _Unsupported(f"unexpected key at offset {i}")
                parts.append(match.group())
                i = match.end()
            i = self._skip_ws(i)
            if i < self.n and self.text[i] == ".":
                i += 1
                continue
            return tuple(parts), i

    def _string_end(self, i: int) -> int:
        text = self.text
        quote = text[i]
        if text.startswith(quote * 3, i):
            j = i + 3
            while j < self.n:
                if quote == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote * 3, j):
                    run = 3
                    while run < 5 and j + run < self.n and text[j + run] == quote:
                        run += 1
                    return j + run
                j += 1
            return self.n
        j = i + 1
        while j < self.n and text[j] != quote:
            j += 2 if (quote == '"' and text[j] == "\\") else 1
        return j + 1

    def _value_end(self, i: int) -> int:
        depth = 0
        while i < self.n:
            ch = self.text[i]
            if ch in "\"'":
                i = self._string_end(i)
                continue
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            elif ch == "#":
                if depth == 0:
                    return i
                nl = self.text.find("\n", i)
                i = self.n if nl < 0 else nl
                continue
            elif ch == "\n" and depth == 0:
                return i
            i += 1
        return i


# -- the edit ---------------------------------------------------------------------------------


class _Document:
    def __init__(self, text: str) -> None:
        self.stmts = _Lexer(text).statements()
        for stmt in self.stmts:
            if stmt.kind != "trivia" and not stmt.text.endswith("\n"):
                stmt.text += "\n"  # toml_edit ends every key/value and header line with a newline

    def render(self) -> str:
        return "".join(s.text for s in self.stmts)

    def _sections(self) -> list[tuple[tuple[str, ...], int]]:
        """(section path, owning header index or -1 for the root) for every statement."""
        owner: list[tuple[tuple[str, ...], int]] = []
        current: tuple[tuple[str, ...], int] = ((), -1)
        for index, stmt in enumerate(self.stmts):
            if stmt.kind == "header":
                current = (stmt.path, index)
            owner.append(current)
        return owner

    def _check_shape(self, table: tuple[str, ...], key: str) -> None:
        full = (*table, key)
        owner = self._sections()
        for index, stmt in enumerate(self.stmts):
            if stmt.kind == "header":
                if stmt.array and stmt.path == full[: len(stmt.path)]:
                    raise _Unsupported("array of tables on the path")
                if len(stmt.path) > len(table) and stmt.path[: len(full)] == full:
                    raise _Unsupported("a table where the value goes")
            elif stmt.kind == "kv":
                path = owner[index][0] + stmt.path
                if len(path) <= len(table) and path == full[: len(path)] and stmt.value.startswith("{"):
                    raise _Unsupported("inline table on the path")

    def _remove(self, index: int, with_comments: bool) -> None:
        start = index
        if with_comments:
            while start > 0 and self.stmts[start - 1].kind == "trivia":
                start -= 1
        del self.stmts[start : index + 1]

    def remove_key(self, table: tuple[str, ...], key: str) -> bool:
        full = (*table, key)
        owner = self._sections()
        doomed = [i for i, s in enumerate(self.stmts)
                  if s.kind == "kv" and (owner[i][0] + s.path)[: len(full)] == full]
        for index in reversed(doomed):
            self._remove(index, with_comments=True)
        return bool(doomed)

    def set_key(self, table: tuple[str, ...], key: str, literal: str) -> None:
        full = (*table, key)
        owner = self._sections()
        for index, stmt in enumerate(self.stmts):
            if stmt.kind == "kv" and owner[index][0] + stmt.path == full:
                stmt.text = stmt.head + " " + literal + "\n"
                stmt.value = literal
                return
        # Values standing where a table must go (`profiles = 5`) or dotted sub-keys of the key are replaced.
        owner = self._sections()
        for index in reversed(range(len(self.stmts))):
            stmt = self.stmts[index]
            if stmt.kind != "kv":
                continue
            path = owner[index][0] + stmt.path
            if len(path) <= len(table) and path == full[: len(path)]:
                self._remove(index, with_comments=False)
            elif len(path) > len(full) and path[: len(full)] == full:
                self._remove(index, with_comments=True)
        self._insert(table, key, literal)

    def _insert(self, table: tuple[str, ...], key: str, literal: str) -> None:
        owner = self._sections()
        section_header = -1 if table == () else next(
            (i for i, s in enumerate(self.stmts) if s.kind == "header" and s.path == table), None)
        if section_header is not None:
            position = section_header + 1
            for index, stmt in enumerate(self.stmts):
                if stmt.kind == "kv" and owner[index][1] == section_header:
                    position = index + 1
            self.stmts.insert(position, _Stmt("kv", f"{toml_key(key)} = {literal}\n", (key,)))
            return
        # The table exists only as dotted keys of another section: add a dotted key beside them.
        dotted = [i for i, s in enumerate(self.stmts)
                  if s.kind == "kv" and (owner[i][0] + s.path)[: len(table)] == table]
        if dotted:
            index = dotted[-1]
            relative = (*table, key)[len(owner[index][0]):]
            text = ".".join(toml_key(p) for p in relative) + f" = {literal}\n"
            self.stmts.insert(index + 1, _Stmt("kv", text, relative))
            return
        self._insert_table(table, key, literal)

    def _insert_table(self, table: tuple[str, ...], key: str, literal: str) -> None:
        parent = table[:-1]
        anchor = None
        for index, stmt in enumerate(self.stmts):
            if stmt.kind == "header" and parent and stmt.path[: len(parent)] == parent:
                anchor = index
        if anchor is None:
            scope = range(len(self.stmts))
        else:
            end = next((i for i in range(anchor + 1, len(self.stmts)) if self.stmts[i].kind == "header"),
                       len(self.stmts))
            scope = range(anchor, end)
        position = 0
        for index in scope:
            if self.stmts[index].kind != "trivia":
                position = index + 1
        first = not any(s.kind != "trivia" for s in self.stmts[:position])
        header = ("" if first else "\n") + "[" + ".".join(toml_key(p) for p in table) + "]\n"
        self.stmts[position:position] = [
            _Stmt("header", header, table),
            _Stmt("kv", f"{toml_key(key)} = {literal}\n", (key,)),
        ]


def _edit_with_tomlkit(text: str, table: tuple[str, ...], edits: list[tuple[str, str | None]]) -> tuple[str, bool]:
    import tomlkit  # only for documents the statement editor does not handle

    doc = tomlkit.parse(text)
    container = doc
    for depth, part in enumerate(table, 1):
        child = container.get(part)
        if not isinstance(child, dict):
            if all(value is None for _, value in edits):
                return text, False
            child = tomlkit.table(is_super_table=depth < len(table))
            container[part] = child
        elif isinstance(child, tomlkit.items.InlineTable):
            # toml_edit turns an inline table it has to grow into a standard table.
            standard = tomlkit.table(is_super_table=depth < len(table))
            for key, value in child.value.body:
                if key is not None:
                    standard[key.key] = value
            container[part] = standard
            child = standard
        container = child
    mutated = False
    for key, value in edits:
        if value is None:
            if key in container:
                del container[key]
                mutated = True
        else:
            container[key] = value
            mutated = True
    out = tomlkit.dumps(doc)
    if not text.startswith("\n"):
        out = out.lstrip("\n")  # tomlkit leaves blank lines where a converted table stood
    return out, mutated


def apply_model_edits(text: str, profile: str | None, model: str | None, effort: str | None) -> tuple[str, bool]:
    """The new document text and whether anything changed (0.58 writes nothing when nothing did)."""
    table: tuple[str, ...] = ("profiles", profile) if profile is not None else ()
    edits = [(MODEL_KEY, model), (EFFORT_KEY, effort)]
    try:
        doc = _Document(text)
        for key, _ in edits:
            doc._check_shape(table, key)
    except _Unsupported:
        return _edit_with_tomlkit(text, table, edits)
    mutated = False
    for key, value in edits:
        if value is None:
            mutated = doc.remove_key(table, key) or mutated
        else:
            doc.set_key(table, key, toml_string(value))
            mutated = True
    return doc.render(), mutated


def write_config_atomically(path: Path, text: str) -> None:
    """Temp file beside the target, fsync, rename: the file ends up 0600 and is never half-written."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def set_default_model(codex_home: Path, profile_at_startup: str | None, model: str | None, effort: str | None) -> None:
    """Set or remove `model` and `model_reasoning_effort` (None removes) in the root table, or in
    `[profiles.<profile_at_startup>]`; raises ConfigEditError with the detail 0.58 reports."""
    path = Path(codex_home) / CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError as error:
        raise ConfigEditError(os_error_text(error)) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigEditError("stream did not contain valid UTF-8") from error
    # toml_edit writes "\n" line ends; TOML treats CRLF and LF alike, so nothing else changes.
    text = text.replace("\r\n", "\n")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigEditError(toml_error_text(error, text)) from error
    new_text, mutated = apply_model_edits(text, profile_at_startup, model, effort)
    if not mutated:
        return
    try:
        Path(codex_home).mkdir(parents=True, exist_ok=True)
        write_config_atomically(path, new_text)
    except OSError as error:
        raise ConfigEditError(os_error_text(error)) from error
