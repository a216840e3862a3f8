"""The Codex patch format: parse, verify into FileChange dicts (for approval), apply atomically.

Grammar (0.58's, lenient about whitespace around the markers):

    *** Begin Patch
    *** Add File: <path>        then lines each starting with "+"
    *** Delete File: <path>
    *** Update File: <path>
    [*** Move to: <path>]
    @@ [context line]            then lines starting with " ", "-" or "+" (an empty line is empty context)
    [*** End of File]
    *** End Patch

Hunks of an update are located in order with decreasing strictness (exact, trailing whitespace
ignored, surrounding whitespace ignored, then typographic punctuation folded to ASCII). Error texts
match 0.58's so the model reads the same guidance.

Applying is all or nothing: every hunk is computed against an in-memory view first, then each file
is replaced atomically (temp file + rename); if a write still fails, the files already written are
restored, so a patch that does not apply changes nothing.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File: "
DELETE_FILE = "*** Delete File: "
UPDATE_FILE = "*** Update File: "
MOVE_TO = "*** Move to: "
END_OF_FILE = "*** End of File"
CONTEXT_MARKER = "@@ "
EMPTY_CONTEXT_MARKER = "@@"
APPLY_PATCH_COMMANDS = ("apply_patch", "applypatch")
IMPLICIT_INVOCATION = 'patch detected without explicit call to apply_patch. Rerun as ["apply_patch", "<patch>"]'


class PatchError(Exception):
    """The patch cannot be parsed or applied; `str(err)` is 0.58's text for it."""


class PatchParseError(PatchError):
    def __init__(self, message: str, line_number: int | None = None) -> None:
        self.message = message
        self.line_number = line_number
        text = f"invalid patch: {message}" if line_number is None else f"invalid hunk at line {line_number}, {message}"
        super().__init__(text)

    def apply_text(self) -> str:
        """What the standalone apply_patch prints for this error."""
        if self.line_number is None:
            return f"Invalid patch: {self.message}"
        return f"Invalid patch hunk on line {self.line_number}: {self.message}"


def verification_failed(err: PatchError) -> str:
    """The tool output 0.58 gives the model for a patch that fails verification."""
    return f"apply_patch verification failed: {err}"


@dataclass
class UpdateChunk:
    change_context: str | None
    old_lines: list[str]
    new_lines: list[str]
    is_end_of_file: bool = False


@dataclass
class Hunk:
    kind: str  # "add" | "delete" | "update"
    path: str
    contents: str = ""
    move_path: str | None = None
    chunks: list[UpdateChunk] = field(default_factory=list)


@dataclass
class PatchAction:
    """A verified patch: the changes keyed by absolute path, in patch order, plus what is needed to apply it."""

    changes: dict[str, dict]
    patch: str
    cwd: str
    hunks: list[Hunk]


@dataclass
class PatchResult:
    success: bool
    stdout: str
    stderr: str
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- parsing


def parse_patch(patch: str) -> tuple[list[Hunk], str]:
    """The hunks and the patch text without any heredoc wrapper. Raises PatchParseError."""
    lines = patch.strip().splitlines()
    try:
        body = _boundaries(lines)
        kept = lines
    except PatchParseError:
        # Models sometimes pass the heredoc itself as the argument: `<<'EOF'\n*** Begin Patch…EOF`.
        if len(lines) >= 4 and lines[0] in ("<<EOF", "<<'EOF'", '<<"EOF"') and lines[-1].endswith("EOF"):
            kept = lines[1:-1]
            body = _boundaries(kept)
        else:
            raise
    hunks: list[Hunk] = []
    line_number = 2
    while body:
        hunk, used = _parse_one_hunk(body, line_number)
        hunks.append(hunk)
        line_number += used
        body = body[used:]
    return hunks, "\n".join(kept)


def _boundaries(lines: list[str]) -> list[str]:
    first = lines[0].strip() if lines else None
    last = lines[-1].strip() if lines else None
    if first == BEGIN_PATCH and last == END_PATCH and len(lines) >= 2:
        return lines[1:-1]
    if first != BEGIN_PATCH:
        raise PatchParseError("The first line of the patch must be '*** Begin Patch'")
    raise PatchParseError("The last line of the patch must be '*** End Patch'")


def _parse_one_hunk(lines: list[str], line_number: int) -> tuple[Hunk, int]:
    first = lines[0].strip()
    if first.startswith(ADD_FILE):
        contents = []
        used = 1
        for line in lines[1:]:
            if not line.startswith("+"):
                break
            contents.append(line[1:] + "\n")
            used += 1
        return Hunk("add", first[len(ADD_FILE) :], contents="".join(contents)), used
    if first.startswith(DELETE_FILE):
        return Hunk("delete", first[len(DELETE_FILE) :]), 1
    if first.startswith(UPDATE_FILE):
        path = first[len(UPDATE_FILE) :]
        rest = lines[1:]
        used = 1
        move_path = None
        if rest and rest[0].startswith(MOVE_TO):
            move_path = rest[0][len(MOVE_TO) :]
            rest = rest[1:]
            used += 1
        chunks: list[UpdateChunk] = []
        while rest:
            if not rest[0].strip():
                rest = rest[1:]
                used += 1
                continue
            if rest[0].startswith("*"):
                break
            chunk, chunk_used = _parse_chunk(rest, line_number + used, allow_missing_context=not chunks)
            chunks.append(chunk)
            used += chunk_used
            rest = rest[chunk_used:]
        if not chunks:
            raise PatchParseError(f"Update file hunk for path '{path}' is empty", line_number)
        return Hunk("update", path, move_path=move_path, chunks=chunks), used
    raise PatchParseError(
        f"'{first}' is not a valid hunk header. Valid hunk headers: '*** Add File: {{path}}', "
        "'*** Delete File: {path}', '*** Update File: {path}'",
        line_number,
    )


def _parse_chunk(lines: list[str], line_number: int, *, allow_missing_context: bool) -> tuple[UpdateChunk, int]:
    if lines[0] == EMPTY_CONTEXT_MARKER:
        context, start = None, 1
    elif lines[0].startswith(CONTEXT_MARKER):
        context, start = lines[0][len(CONTEXT_MARKER) :], 1
    else:
        if not allow_missing_context:
            raise PatchParseError(
                f"Expected update hunk to start with a @@ context marker, got: '{lines[0]}'", line_number
            )
        context, start = None, 0
    if start >= len(lines):
        raise PatchParseError("Update hunk does not contain any lines", line_number + 1)
    chunk = UpdateChunk(context, [], [])
    parsed = 0
    for line in lines[start:]:
        if line == END_OF_FILE:
            if parsed == 0:
                raise PatchParseError("Update hunk does not contain any lines", line_number + 1)
            chunk.is_end_of_file = True
            parsed += 1
            break
        if line == "":
            chunk.old_lines.append("")
            chunk.new_lines.append("")
        elif line[0] == " ":
            chunk.old_lines.append(line[1:])
            chunk.new_lines.append(line[1:])
        elif line[0] == "+":
            chunk.new_lines.append(line[1:])
        elif line[0] == "-":
            chunk.old_lines.append(line[1:])
        else:
            if parsed == 0:
                raise PatchParseError(
                    f"Unexpected line found in update hunk: '{line}'. Every line should start with ' ' (context "
                    "line), '+' (added line), or '-' (removed line)",
                    line_number + 1,
                )
            break
        parsed += 1
    return chunk, parsed + start


# ------------------------------------------------------------------------------------- invocation forms

_SHELLS = {"bash", "zsh", "sh"}
_HEREDOC_START = re.compile(r"<<-?\s*(?:'([^'\n]+)'|\"([^\"\n]+)\"|([A-Za-z_][A-Za-z0-9_]*))")


def _shell_script(argv: list[str]) -> str | None:
    if len(argv) != 3:
        return None
    name = os.path.basename(argv[0]).split(".")[0].lower()
    if name in _SHELLS and argv[1] in ("-lc", "-c"):
        return argv[2]
    return None


def _unquote_word(word: str) -> str | None:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    if not word or any(c in word for c in " \t'\"$`\\;|&<>()"):
        return None
    return word


def extract_heredoc(script: str) -> tuple[str, str | None] | None:
    """`apply_patch <<'EOF' … EOF` or `cd <dir> && apply_patch <<'EOF' … EOF` as the whole script.

    Returns (heredoc body, cd dir or None), or None when the script is anything else.
    """
    first_newline = script.find("\n")
    if first_newline < 0:
        return None
    head, remainder = script[:first_newline].strip(), script[first_newline + 1 :]
    workdir = None
    cd = re.match(r"cd\s+('[^']*'|\"[^\"]*\"|[^\s'\"]+)\s*&&\s*(.*)$", head)
    if cd:
        workdir = _unquote_word(cd.group(1))
        if workdir is None:
            return None
        head = cd.group(2)
    command = re.match(r"(apply_patch|applypatch)\s*(<<.*)$", head)
    if not command:
        return None
    start = _HEREDOC_START.fullmatch(command.group(2).strip())
    if not start:
        return None
    delimiter = start.group(1) or start.group(2) or start.group(3)
    body_lines = remainder.split("\n")
    for index, line in enumerate(body_lines):
        if line == delimiter:
            if "".join(body_lines[index + 1 :]).strip():
                return None  # something follows the heredoc: not the only statement
            return "\n".join(body_lines[:index]).rstrip("\n"), workdir
    return None


def parse_invocation(argv: list[str]) -> tuple[list[Hunk], str, str | None] | None:
    """Hunks, patch text and workdir when argv invokes apply_patch; None when it is some other command."""
    if len(argv) == 2 and argv[0] in APPLY_PATCH_COMMANDS:
        hunks, patch = parse_patch(argv[1])
        return hunks, patch, None
    script = _shell_script(argv)
    if script is None:
        return None
    extracted = extract_heredoc(script)
    if extracted is None:
        return None
    body, workdir = extracted
    hunks, patch = parse_patch(body)
    return hunks, patch, workdir


def _is_patch(text: str) -> bool:
    try:
        parse_patch(text)
    except PatchParseError:
        return False
    return True


def verify_invocation(argv: list[str], cwd: str) -> PatchAction | None:
    """The verified action for an apply_patch command (`shell` form), None for any other command.

    Raises PatchError with 0.58's text when it is an apply_patch call that cannot apply.
    """
    if len(argv) == 1 and _is_patch(argv[0]):
        raise PatchError(IMPLICIT_INVOCATION)
    script = _shell_script(argv)
    if script is not None and _is_patch(script):
        raise PatchError(IMPLICIT_INVOCATION)
    parsed = parse_invocation(argv)
    if parsed is None:
        return None
    hunks, patch, workdir = parsed
    effective_cwd = os.path.join(cwd, workdir) if workdir else cwd
    return _verify(hunks, patch, effective_cwd)


def verify_patch(patch: str, cwd: str) -> PatchAction:
    """The verified action for the `apply_patch` tool's input. Raises PatchError."""
    hunks, text = parse_patch(patch)
    return _verify(hunks, text, cwd)


def _verify(hunks: list[Hunk], patch: str, cwd: str) -> PatchAction:
    changes: dict[str, dict] = {}
    for hunk in hunks:
        path = os.path.join(cwd, hunk.path)
        if hunk.kind == "add":
            changes[path] = {"add": {"content": hunk.contents}}
        elif hunk.kind == "delete":
            try:
                content = _read_text(path)
            except OSError as exc:
                raise PatchError(f"Failed to read {path}: {_io_text(exc)}") from None
            changes[path] = {"delete": {"content": content}}
        else:
            original = _read_for_update(path)
            new = derive_new_contents(original, hunk.chunks, path)
            move = os.path.join(cwd, hunk.move_path) if hunk.move_path else None
            changes[path] = {"update": {"unified_diff": unified_diff(original, new), "move_path": move}}
    return PatchAction(changes, patch, cwd, hunks)


# ------------------------------------------------------------------------------------ computing updates


def _io_text(exc: OSError) -> str:
    code = exc.errno or 0
    if isinstance(exc, UnicodeDecodeError) or not code:
        return "stream did not contain valid UTF-8"
    return f"{os.strerror(code)} (os error {code})"


def _read_text(path: str) -> str:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise OSError(0, "stream did not contain valid UTF-8") from None


def _read_for_update(path: str) -> str:
    try:
        return _read_text(path)
    except OSError as exc:
        raise PatchError(f"Failed to read file to update {path}: {_io_text(exc)}") from None


_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    }
)


def seek_sequence(lines: list[str], pattern: list[str], start: int, eof: bool) -> int | None:
    """Where `pattern` occurs at or after `start`, trying ever more lenient comparisons."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    first = len(lines) - len(pattern) if eof else start
    last = len(lines) - len(pattern)
    comparisons = (
        lambda s: s,
        lambda s: s.rstrip(),
        lambda s: s.strip(),
        lambda s: s.strip().translate(_PUNCTUATION),
    )
    for norm in comparisons:
        wanted = [norm(p) for p in pattern]
        for i in range(first, last + 1):
            if all(norm(lines[i + j]) == wanted[j] for j in range(len(pattern))):
                return i
    return None


def derive_new_contents(original: str, chunks: list[UpdateChunk], path: str) -> str:
    lines = original.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    replacements: list[tuple[int, int, list[str]]] = []
    index = 0
    for chunk in chunks:
        if chunk.change_context is not None:
            found = seek_sequence(lines, [chunk.change_context], index, False)
            if found is None:
                raise PatchError(f"Failed to find context '{chunk.change_context}' in {path}")
            index = found + 1
        if not chunk.old_lines:
            insert_at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
            replacements.append((insert_at, 0, list(chunk.new_lines)))
            continue
        pattern, new_slice = chunk.old_lines, chunk.new_lines
        found = seek_sequence(lines, pattern, index, chunk.is_end_of_file)
        if found is None and pattern and pattern[-1] == "":
            # The trailing empty line stands for the file's final newline, which `lines` does not hold.
            pattern = pattern[:-1]
            if new_slice and new_slice[-1] == "":
                new_slice = new_slice[:-1]
            found = seek_sequence(lines, pattern, index, chunk.is_end_of_file)
        if found is None:
            raise PatchError(f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old_lines))
        replacements.append((found, len(pattern), list(new_slice)))
        index = found + len(pattern)
    replacements.sort(key=lambda r: r[0])
    for start, old_len, new_segment in reversed(replacements):
        del lines[start : start + old_len]
        lines[start:start] = new_segment
    if not lines or lines[-1] != "":
        lines.append("")
    return "\n".join(lines)


def _split_keep_newlines(text: str) -> list[str]:
    # Only "\n" ends a line (str.splitlines would also split on form feeds and U+2028).
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def _range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def unified_diff(old: str, new: str, context: int = 1) -> str:
    """Hunks only (no file headers), one line of context, `\\ No newline at end of file` hints."""
    a, b = _split_keep_newlines(old), _split_keep_newlines(new)
    out: list[str] = []

    def emit(sign: str, line: str) -> None:
        if line.endswith("\n"):
            out.append(sign + line)
        else:
            out.append(sign + line + "\n\\ No newline at end of file\n")

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for line in a[a1:a2]:
                    emit(" ", line)
                continue
            for line in a[a1:a2]:
                emit("-", line)
            for line in b[b1:b2]:
                emit("+", line)
    return "".join(out)


# ---------------------------------------------------------------------------------------------- applying


def apply_action(action: PatchAction) -> PatchResult:
    """Apply a verified patch (re-read from disk now, as the files may have changed since approval)."""
    return apply_hunks(action.hunks, action.cwd)


def apply_patch_text(patch: str, cwd: str) -> PatchResult:
    """The standalone `apply_patch PATCH` behaviour: parse, apply, and report as 0.58's tool does."""
    try:
        hunks, _ = parse_patch(patch)
    except PatchParseError as exc:
        return PatchResult(False, "", exc.apply_text() + "\n")
    return apply_hunks(hunks, cwd)


def apply_hunks(hunks: list[Hunk], cwd: str) -> PatchResult:
    if not hunks:
        return PatchResult(False, "", "No files were modified.\n")
    view: dict[str, str | None] = {}  # absolute path -> new contents, None = deleted
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []

    def current(path: str) -> str | None:
        if path in view:
            return view[path]
        return _read_text(path) if os.path.isfile(path) else None

    try:
        for hunk in hunks:
            path = os.path.join(cwd, hunk.path)
            if hunk.kind == "add":
                if os.path.isdir(path):
                    raise PatchError(f"Failed to write file {hunk.path}")
                view[path] = hunk.contents
                added.append(hunk.path)
            elif hunk.kind == "delete":
                if current(path) is None:
                    raise PatchError(f"Failed to delete file {hunk.path}")
                view[path] = None
                deleted.append(hunk.path)
            else:
                try:
                    original = current(path)
                except OSError as exc:
                    raise PatchError(f"Failed to read file to update {hunk.path}: {_io_text(exc)}") from None
                if original is None:
                    raise PatchError(
                        f"Failed to read file to update {hunk.path}: No such file or directory (os error 2)"
                    )
                new = derive_new_contents(original, hunk.chunks, hunk.path)
                if hunk.move_path:
                    dest = os.path.join(cwd, hunk.move_path)
                    if os.path.isdir(dest):
                        raise PatchError(f"Failed to write file {hunk.move_path}")
                    view[dest] = new
                    if dest != path:
                        view[path] = None
                    modified.append(hunk.move_path)
                else:
                    view[path] = new
                    modified.append(hunk.path)
    except PatchError as exc:
        return PatchResult(False, "", f"{exc}\n")
    except OSError as exc:
        return PatchResult(False, "", f"I/O error: {_io_text(exc)}\n")

    try:
        _commit(view)
    except PatchError as exc:
        return PatchResult(False, "", f"{exc}\n")
    lines = ["Success. Updated the following files:"]
    lines += [f"A {p}" for p in added] + [f"M {p}" for p in modified] + [f"D {p}" for p in deleted]
    return PatchResult(True, "\n".join(lines) + "\n", "", added, modified, deleted)


def _commit(view: dict[str, str | None]) -> None:
    """Write every file atomically; on a failure put back what was already changed."""
    undo: list[tuple[str, bytes | None, int | None]] = []
    created_dirs: list[str] = []
    try:
        for path, contents in view.items():
            before: bytes | None = None
            mode: int | None = None
            if os.path.lexists(path) and os.path.isfile(path):
                with open(path, "rb") as handle:
                    before = handle.read()
                mode = stat.S_IMODE(os.stat(path).st_mode)
            if contents is None:
                if before is None:
                    continue
                try:
                    os.unlink(path)
                except OSError:
                    raise PatchError(f"Failed to delete file {path}") from None
                undo.append((path, before, mode))
                continue
            parent = os.path.dirname(path)
            try:
                created_dirs += _make_parents(parent)
            except OSError:
                raise PatchError(f"Failed to create parent directories for {path}") from None
            try:
                # Through a symlink to its target, as a plain write would go.
                _atomic_write(os.path.realpath(path), contents.encode("utf-8"), mode)
            except OSError:
                raise PatchError(f"Failed to write file {path}") from None
            undo.append((path, before, mode))
    except PatchError:
        for path, before, mode in reversed(undo):
            try:
                if before is None:
                    os.unlink(path)
                else:
                    _atomic_write(os.path.realpath(path), before, mode)
            except OSError:
                pass
        for directory in reversed(created_dirs):
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise


def _current_umask() -> int:
    # Read, never set: os.umask() would briefly change it for every thread of the server.
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _make_parents(directory: str) -> list[str]:
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for path in reversed(missing):
        os.mkdir(path)
    return list(reversed(missing))


def _atomic_write(path: str, data: bytes, mode: int | None) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".apply_patch.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # A new file gets the ordinary umask-derived mode, not mkstemp's 0600.
        if mode is None:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
