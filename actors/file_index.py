"""The file lists the fuzzy search ranks: one index per root, walked as codex 0.58 walks.

0.58 walks with the `ignore` crate (`WalkBuilder` defaults plus `hidden(false)`,
`follow_links(true)`, `require_git(false)`), so:

* `.ignore`, `.gitignore` (nested, with negations, also outside a git repository),
  `.git/info/exclude` of a repository and the global git excludes file are honoured; the
  directories above the root contribute their ignore files too (`parents(true)`);
* with `require_git(false)` the crate never notices `.git` directories, so a `.gitignore`
  above a nested repository still applies inside it;
* precedence: `.ignore` beats `.gitignore` beats `info/exclude` beats the global file; in one
  kind, the deepest directory decides; in one file, the last matching line decides;
* hidden files and `.git/` contents are walked; symlinks are followed (a link back to an
  ancestor is skipped); everything that is not a directory is a result, names that are not
  valid UTF-8 are not.

The index remembers every directory's change time (and its ignore files' stamps), so a refresh
re-stats directories and re-walks only the subtrees that changed. The walk itself stats nothing
(a sixth of its time): a directory's first refresh reads its change time, and one changed after,
or just before, the walk listed it counts as changed ("racy", as git says of its index).
A big build shares its walk with a helper process (`actors.walk_sharing`, `actors.walk_helper`).
"""

from __future__ import annotations

import gc
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter

TYPE_CHECKING = False  # not typing's: the walk helper process starts faster without importing it
if TYPE_CHECKING:
    from actors.walk_sharing import HelperPool

IGNORE_FILE = ".ignore"
GITIGNORE_FILE = ".gitignore"
KIND_IGNORE, KIND_GIT, KIND_EXCLUDE = range(3)
NAME_PREFILTER = True  # tests turn it off to check the prefilter never changes a verdict

# -- gitignore patterns, as the ignore crate reads them ----------------------------------------


def _glob_to_regex(glob: str) -> str:
    """Translate one glob (literal separators, backslash escapes) into a regex body."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                at_start = i == 0 or glob[i - 1] == "/"
                at_end = i + 2 == n or glob[i + 2] == "/"
                if at_start and at_end:
                    if i + 2 == n:  # trailing "**": anything below
                        out.append(".*")
                        i += 2
                        continue
                    out.append("(?:.*/)?")  # "**/": zero or more directories
                    i += 3
                    continue
                out.append("[^/]*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and glob[j] in "!^":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append("[" + ("^" if negate else "") + body + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _trim_trailing_space(line: str) -> str:
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        if end >= 2 and line[end - 2] == "\\":
            break
        end -= 1
    return line[:end]


class _Rule:
    __slots__ = ("only_dir", "regex", "whitelist")

    def __init__(self, regex: re.Pattern[str], whitelist: bool, only_dir: bool) -> None:
        self.regex = regex
        self.whitelist = whitelist
        self.only_dir = only_dir


class IgnoreFile:
    """The rules of one ignore file, rooted at `base` (a path prefix ending with `/`)."""

    __slots__ = ("any", "base", "basename_only", "name_pattern", "rules")

    def __init__(self, base: str, lines: list[str]) -> None:
        self.base = base
        rules: list[_Rule] = []
        # True while every rule is `**/<glob>` with a glob that cannot match `/`: then a verdict
        # depends on the entry's name alone (the walk memoises it per name).
        self.basename_only = True
        name_patterns: list[str] = []
        for raw in lines:
            line = raw.rstrip("\r")
            if not line or line.startswith("#"):
                continue
            line = _trim_trailing_space(line)
            whitelist = False
            absolute = False
            if line.startswith(("\\!", "\\#")):
                line = line[1:]
                absolute = line.startswith("/")
            else:
                if line.startswith("!"):
                    whitelist = True
                    line = line[1:]
                if line.startswith("/"):
                    line = line[1:]
                    absolute = True
            only_dir = False
            if line.endswith("/"):
                only_dir = True
                line = line[:-1]
                if line.endswith("\\"):
                    line = line[:-1]
            if not line:
                continue
            if not absolute and "/" not in line and not line.startswith("**/"):
                line = "**/" + line
            if line.endswith("/**"):
                line += "/*"
            tail = line[3:]
            if not line.startswith("**/") or "/" in tail or "[" in tail or "**" in tail:
                self.basename_only = False
            else:
                name_patterns.append(_glob_to_regex(tail))
            try:
                regex = re.compile("(?s:" + _glob_to_regex(line) + r")\Z")
            except re.error:
                continue
            rules.append(_Rule(regex, whitelist, only_dir))
        self.rules = tuple(rules)
        # What the rules match in a bare name; meaningful only when basename_only.
        self.name_pattern = "|".join(f"(?s:{p})\\Z" for p in name_patterns) if name_patterns else "(?!)"
        self.any = re.compile("|".join(f"(?:{r.regex.pattern})" for r in rules)) if rules else None

    def match(self, rel: str, is_dir: bool) -> int:
        """1 ignored, -1 whitelisted, 0 no opinion; `rel` is relative to `base`."""
        if self.any is None or self.any.match(rel) is None:
            return 0
        for rule in reversed(self.rules):
            if rule.only_dir and not is_dir:
                continue
            if rule.regex.match(rel):
                return -1 if rule.whitelist else 1
        return 0


def read_ignore_file(path: str, base: str) -> IgnoreFile | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    text = data.decode("utf-8", "replace")
    parsed = IgnoreFile(base, text.split("\n"))
    return parsed if parsed.rules else None


def _git_dir_of(directory: str) -> str | None:
    """The git directory of a repository whose work tree is `directory`, if `.git` is there."""
    dot_git = os.path.join(directory, ".git")
    try:
        st = os.stat(dot_git)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        git_dir = dot_git
    else:
        try:
            with open(dot_git, encoding="utf-8", errors="replace") as handle:
                first = handle.readline().strip()
        except OSError:
            return None
        if not first.startswith("gitdir:"):
            return None
        git_dir = os.path.join(directory, first[len("gitdir:") :].strip())
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            git_dir = os.path.join(git_dir, handle.read().strip())
    except OSError:
        pass
    return git_dir


def global_excludes_file(home: str | None, env: dict[str, str]) -> str | None:
    """git's core.excludesFile, else $XDG_CONFIG_HOME/git/ignore (or ~/.config/git/ignore)."""
    if not home:
        return None
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    for config in (os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")):
        try:
            with open(config, encoding="utf-8", errors="replace") as handle:
                section = ""
                value = None
                for line in handle:
                    line = line.strip()
                    if line.startswith("["):
                        section = line.strip("[]").strip().lower()
                    elif section == "core" and "=" in line:
                        key, _, val = line.partition("=")
                        if key.strip().lower() == "excludesfile":
                            value = val.strip().strip('"')
                if value:
                    return os.path.expanduser(value) if value.startswith("~") else value
        except OSError:
            continue
    return os.path.join(xdg, "git", "ignore")


# -- the rules in force in one directory --------------------------------------------------------


class _Level:
    """One directory's ignore rules plus, flattened, every rule in force there.

    `active` lists (kind, rules, above_root) from this directory upwards, so deciding an entry
    only visits the ignore files that exist. When every active file holds only basename rules
    (`IgnoreFile.basename_only`), `names` matches every name some rule matches: an entry whose
    name it does not match is kept without consulting the rules (most entries). None otherwise.
    """

    __slots__ = ("active", "names", "parent")

    def __init__(self, parent: _Level | None, active: tuple[tuple[int, IgnoreFile, bool], ...]) -> None:
        self.parent = parent
        self.active = active
        self.names: re.Pattern[str] | None = None
        if NAME_PREFILTER and all(rules.basename_only for _, rules, _ in active):
            self.names = re.compile("|".join(f"(?:{rules.name_pattern})" for _, rules, _ in active) or "(?!)")


class _Context:
    __slots__ = ("global_rules", "root_abs")

    def __init__(self, root_abs: str, global_rules: IgnoreFile | None) -> None:
        self.root_abs = root_abs  # canonical root, joined with an entry's name for rules above the root
        self.global_rules = global_rules


def _decide(level: _Level, ctx: _Context, path: str, name: str, rel: str, is_dir: bool) -> bool:
    """True when the entry at `path` (full path as walked) is ignored."""
    active = level.active
    if len(active) == 1 and ctx.global_rules is None:
        _kind, rules, above_root = active[0]
        probe = ctx.root_abs.rstrip("/") + "/" + name if above_root else path
        return probe.startswith(rules.base) and rules.match(probe[len(rules.base) :], is_dir) > 0
    found = [0, 0, 0]
    above_probe = ""
    for kind, rules, above_root in active:
        if found[kind]:
            continue
        if above_root:
            # The ignore crate matches rules from above the root against
            # <canonical root>/<entry name>, whatever the entry's depth.
            if not above_probe:
                above_probe = ctx.root_abs.rstrip("/") + "/" + name
            probe = above_probe
        else:
            probe = path
        if probe.startswith(rules.base):
            found[kind] = rules.match(probe[len(rules.base) :], is_dir)
    for verdict in found:
        if verdict:
            return verdict > 0
    if ctx.global_rules is not None:
        return ctx.global_rules.match(rel, is_dir) > 0
    return False


def _make_level(directory: str, parent: _Level | None, above_root: bool, names: set[str] | None = None) -> _Level:
    """Read the ignore files of `directory`; `names` (when known) says which entries exist."""
    base = directory if directory.endswith("/") else directory + "/"
    own: list[tuple[int, IgnoreFile, bool]] = []
    if names is None or IGNORE_FILE in names:
        rules = read_ignore_file(base + IGNORE_FILE, base)
        if rules is not None:
            own.append((KIND_IGNORE, rules, above_root))
    if names is None or GITIGNORE_FILE in names:
        rules = read_ignore_file(base + GITIGNORE_FILE, base)
        if rules is not None:
            own.append((KIND_GIT, rules, above_root))
    if names is None or ".git" in names:
        git_dir = _git_dir_of(directory)
        if git_dir:
            rules = read_ignore_file(os.path.join(git_dir, "info", "exclude"), base)
            if rules is not None:
                own.append((KIND_EXCLUDE, rules, above_root))
    inherited = parent.active if parent is not None else ()
    if not own and parent is not None:
        return parent
    return _Level(parent, tuple(own) + inherited)


def _ignore_stamp(directory: str) -> tuple[int, ...]:
    stamps = []
    for name in (IGNORE_FILE, GITIGNORE_FILE):
        try:
            st = os.stat(os.path.join(directory, name))
            stamps.extend((st.st_ctime_ns, st.st_size, st.st_ino))
        except OSError:
            stamps.extend((0, 0, 0))
    return tuple(stamps)


# -- walking --------------------------------------------------------------------------------


class Cancelled(Exception):
    """The walk was asked to stop."""


_NO_STAMP = (0, 0, 0, 0, 0, 0)
_RULE_SOURCES = frozenset({IGNORE_FILE, GITIGNORE_FILE, ".git"})  # names that make `_make_level` read files
UNKNOWN_STAMP = -1
# A build that has walked alone this long shares the rest with a helper process on a second core
# (`actors.walk_sharing`; looked at every CHECK_EVERY entries, so a tiny tree never starts one). None:
# never. 0.58 walks with one thread per core; so do we, as far as the interpreter lock allows.
HELPER_AFTER_SECONDS: float | None = 0.0
# Entries listed between two looks at `should_stop` and the sharing hook (a split is answered
# no later than this many entries into the helper's walk).
CHECK_EVERY = 256
# A refresh waits until the index has not been searched for QUIET_SECONDS (a pause in typing),
# but no longer than QUIET_CAP_SECONDS.
QUIET_SECONDS = 0.3
QUIET_CAP_SECONDS = 5.0
# A refresh of at least this many directories has an idle walk helper stat them.
HELPER_STAT_MIN = 2000
# A directory whose change time is this close to the moment the walk listed it may have changed
# unseen: coarse file-system clocks (one tick; whole seconds on some file systems).
RACY_NS = 2_000_000_000


# A walk's pending directories: (relative path, path, the rules in force in its parent).
WalkItem = tuple[str, str, _Level | None]
# The walk's hook for sharing its pending directories (see `RootIndex._walk`).
Share = Callable[[list[WalkItem], bool], bool]


def _parent(rel: str) -> str | None:
    """The relative path of a directory's parent; None for the root."""
    if not rel:
        return None
    cut = rel.rfind("/")
    return rel[:cut] if cut >= 0 else ""


class _DirRecord(tuple):  # type: ignore[type-arg]
    """(level, parent_level, changed_ns, listed_ns, ignore_stamp, files) of one walked directory.

    The levels are None where a helper process walked the directory (`RootIndex.level_of` reads
    them again when needed). `changed_ns` is the directory's st_ctime_ns (unlike its mtime, which
    `tar`, `rsync -a` or `cp -a` set back, no tool can set it), UNKNOWN_STAMP until the first
    refresh stats the directory; `listed_ns` is the wall clock before the walk listed it. A tuple
    so that recording each of the many directories costs no Python-level __init__.
    """

    __slots__ = ()
    level: _Level = property(itemgetter(0))  # type: ignore[assignment]
    parent_level: _Level | None = property(itemgetter(1))  # type: ignore[assignment]
    changed_ns: int = property(itemgetter(2))  # type: ignore[assignment]
    listed_ns: int = property(itemgetter(3))  # type: ignore[assignment]
    ignore_stamp: tuple[int, ...] = property(itemgetter(4))  # type: ignore[assignment]
    files: list[str] = property(itemgetter(5))  # type: ignore[assignment]  # relative paths of the files here

    def with_stamp(self, changed_ns: int) -> _DirRecord:
        return _DirRecord((self[0], self[1], changed_ns, self[3], self[4], self[5]))


def _utf8_ok(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic collector while a walk allocates: it holds no cycles, yet its tens of
    thousands of live lists and tuples make every full collection rescan them (about a tenth of
    the walk). Nested and concurrent walks share one pause; the collector resumes after the last."""
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


class RootIndex:
    """Every file under one root (relative paths), plus what a refresh needs."""

    def __init__(self, root: str, home: str | None, env: dict[str, str]) -> None:
        self.root = root
        self.home = home
        self.env = env
        self.dirs: dict[str, _DirRecord] = {}
        self.paths: list[str] = []
        self.generation = 0
        self.last_refresh = 0.0
        self.last_used = 0.0  # by the store's clock (eviction)
        self.last_asked = 0.0  # time.monotonic() of the latest search (a refresh waits for a pause)
        self.lock = threading.Lock()
        self.derived: dict[object, object] = {}  # caches keyed by generation-aware keys
        self._levels: dict[str, _Level | None] = {}  # rules read again for directories a helper walked
        self._ctx: _Context | None = None
        self._top: _Level | None = None
        # Seconds a build walks alone before a helper process shares the walk (None: never).
        self.helper_after: float | None = HELPER_AFTER_SECONDS
        self.helper_report: dict[str, object] | None = None  # the last build's, when it shared
        self.helper_pool: HelperPool | None = None  # where a warm helper may wait (IndexStore's)

    # a root that is missing or a file has no files
    def build(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.dirs = {}
        self._levels = {}
        if self.prepare():
            share = None
            if self.helper_after is not None:
                from actors.walk_sharing import Sharing  # noqa: PLC0415 - only big walks need it

                share = Sharing(self, self.helper_after, should_stop, self.helper_pool)
            try:
                with _gc_paused():
                    self._walk([("", self.root, self._top)], should_stop, share)
            finally:
                if share is not None:
                    share.close()
                    self.helper_report = share.report()
        self._publish()

    def prepare(self) -> bool:
        """Read the rules from above the root; False when the root is missing or not a directory."""
        try:
            st = os.stat(self.root)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
        root_abs = os.path.realpath(self.root)
        excludes = global_excludes_file(self.home, self.env)
        global_rules = read_ignore_file(excludes, "") if excludes else None
        self._ctx = _Context(root_abs, global_rules)
        top: _Level | None = None
        ancestors = []
        parent = os.path.dirname(root_abs)
        while True:
            ancestors.append(parent)
            up = os.path.dirname(parent)
            if up == parent:
                break
            parent = up
        for directory in reversed(ancestors):
            top = _make_level(directory, top, above_root=True)
        self._top = top
        return True

    def _full(self, rel: str) -> str:
        if not rel:
            return self.root
        return os.path.join(self.root, rel)

    def walk_items(self, rels: list[str]) -> list[WalkItem]:
        """Work items for the directories `rels`: (rel, path, the rules in force above it)."""
        return [(rel, self._full(rel), self.level_of(_parent(rel))) for rel in rels]

    def level_of(self, rel: str | None) -> _Level | None:
        """The rules in force inside directory `rel` (None: above the root), from the records when
        this walk listed it, else by reading the ignore files on its path."""
        # Climb to the nearest directory whose rules are known, then read the ones below it (a
        # loop, not recursion: a helper may have walked a chain of any depth).
        pending: list[str] = []
        at: str | None = rel
        level = self._top
        while at is not None:
            record = self.dirs.get(at)
            if record is not None and record.level is not None:
                level = record.level
                break
            if at in self._levels:
                level = self._levels[at]
                break
            pending.append(at)
            at = _parent(at)
        for below in reversed(pending):
            level = _make_level(self._full(below), level, False)
            self._levels[below] = level
        return level

    def _directory_stamps(self, rels: list[str]) -> list[int]:
        """Each directory's st_ctime_ns (-1: gone). An idle walk helper does the stats when there
        are many: a refresh then costs this process (and the searches it serves) next to nothing."""
        pool = self.helper_pool
        if pool is not None and len(rels) >= HELPER_STAT_MIN:
            from actors.walk_sharing import stat_in_helper  # noqa: PLC0415 - the helper process imports this module

            found = stat_in_helper(pool, self.root, rels)
            if found is not None:
                return found
        return stat_changes(self.root, rels)

    def _parent_level(self, rel: str) -> _Level | None:
        record = self.dirs[rel]
        if record.level is not None:
            return record.parent_level
        return self.level_of(_parent(rel))

    def _walk(
        self,
        stack: list[WalkItem],
        should_stop: Callable[[], bool],
        share: Share | None = None,
    ) -> None:
        """Walk the directories on `stack` (rel, path, rules in force above it) and all below.

        `share(stack, idle)` is called now and then, and when the stack runs dry: it may take
        directories off the stack or add some, and says (when idle) whether it added any."""
        assert self._ctx is not None
        ctx = self._ctx
        global_rules = ctx.global_rules
        prefilters: dict[_Level, re.Pattern[str] | None] = {}

        def prefilter(level: _Level) -> re.Pattern[str] | None:
            # A level's `names` stays exact with a global file only if that one is basename-only too.
            if global_rules is None or level.names is None:
                return level.names
            if level not in prefilters:
                combined = f"(?:{level.names.pattern})|(?:{global_rules.name_pattern})"
                prefilters[level] = re.compile(combined) if global_rules.basename_only else None
            return prefilters[level]

        dirs = self.dirs
        rule_sources = _RULE_SOURCES
        no_stamp = _NO_STAMP
        unknown = UNKNOWN_STAMP
        listed_ns = time.time_ns()
        scandir = os.scandir
        count = CHECK_EVERY if share is not None else 0  # a sharing walk checks in after its first listing
        last_level: _Level | None = None
        plain = False
        names_re: re.Pattern[str] | None = None
        while True:
            try:
                rel, directory, parent_level = stack.pop()
            except IndexError:
                if share is not None and share(stack, True):
                    continue
                break
            # Split the listing by d_type alone (no stat): links go the slow way below; real
            # directories and everything else (files, fifos, sockets) are decided in bulk.
            file_names: list[str] = []
            dir_names: list[str] = []
            others: list[os.DirEntry[str]] = []
            try:
                entries = list(scandir(directory))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_symlink():
                        others.append(entry)
                    elif entry.is_dir():
                        dir_names.append(entry.name)
                    else:
                        file_names.append(entry.name)
                except OSError:
                    continue
            count += len(file_names) + len(dir_names) + len(others)
            if count >= CHECK_EVERY:
                count = 0
                if should_stop():
                    raise Cancelled
                if share is not None:
                    share(stack, False)
            if (
                parent_level is not None
                and rule_sources.isdisjoint(file_names)
                and rule_sources.isdisjoint(dir_names)
                and (not others or rule_sources.isdisjoint([e.name for e in others]))
            ):
                level, stamp = parent_level, no_stamp  # most directories: nothing of their own
            else:
                names = set(file_names)
                names.update(dir_names)
                names.update(e.name for e in others)
                level = _make_level(directory, parent_level, False, names)
                stamp = _ignore_stamp(directory) if (IGNORE_FILE in names or GITIGNORE_FILE in names) else no_stamp
            prefix = directory if directory.endswith("/") else directory + "/"
            rel_prefix = rel + "/" if rel else ""
            if level is not last_level:
                last_level = level
                plain = not level.active and global_rules is None
                names_re = prefilter(level)
            # Names that are not valid UTF-8 (lone surrogates) are never listed; checking the
            # joined listing once spares a per-name test.
            if not "".join(file_names).isascii() or not "".join(dir_names).isascii():
                file_names = [n for n in file_names if n.isascii() or _utf8_ok(n)]
                dir_names = [n for n in dir_names if n.isascii() or _utf8_ok(n)]
            if not plain:
                if names_re is not None:
                    # Most listings hold no name any rule could match: one scan proves it.
                    match = names_re.match
                    for n in file_names:
                        if match(n) is not None:
                            file_names = [
                                n
                                for n in file_names
                                if match(n) is None or not _decide(level, ctx, prefix + n, n, rel_prefix + n, False)
                            ]
                            break
                    for n in dir_names:
                        if match(n) is not None:
                            dir_names = [
                                n
                                for n in dir_names
                                if match(n) is None or not _decide(level, ctx, prefix + n, n, rel_prefix + n, True)
                            ]
                            break
                else:
                    file_names = [
                        n for n in file_names if not _decide(level, ctx, prefix + n, n, rel_prefix + n, False)
                    ]
                    dir_names = [n for n in dir_names if not _decide(level, ctx, prefix + n, n, rel_prefix + n, True)]
            if rel_prefix:
                files = list(map(rel_prefix.__add__, file_names))
                for n in dir_names:
                    stack.append((rel_prefix + n, prefix + n, level))
            else:
                files = file_names
                for n in dir_names:
                    stack.append((n, prefix + n, level))
            for entry in others:
                self._walk_other(entry, level, ctx, prefix, rel_prefix, plain, names_re, stack, files)
            dirs[rel] = _DirRecord((level, parent_level, unknown, listed_ns, stamp, files))

    def _in_ancestry(self, rel_dir: str, key: tuple[int, int]) -> bool:
        """Whether `key` (device, inode) is the root or a directory on the walked path to `rel_dir`.

        Stats the path's prefixes; asked only when a symlink to a directory turns up."""
        parts = rel_dir.split("/") if rel_dir else []
        for depth in range(len(parts) + 1):
            try:
                st = os.stat(self._full("/".join(parts[:depth])))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == key:
                return True
        return False

    def _walk_other(
        self,
        entry: os.DirEntry[str],
        level: _Level,
        ctx: _Context,
        prefix: str,
        rel_prefix: str,
        plain: bool,
        names_re: re.Pattern[str] | None,
        stack: list[WalkItem],
        files: list[str],
    ) -> None:
        """A symlink or special file: follow links, skip dangling ones and links into the ancestry."""
        name = entry.name
        if not name.isascii() and not _utf8_ok(name):
            return
        try:
            if entry.is_symlink():
                is_dir = is_link = entry.is_dir()  # follows the link
                if not is_dir and not entry.is_file():
                    os.stat(entry.path)  # a dangling link is an error the walker skips
            else:
                is_dir = entry.is_dir()
                is_link = False
        except OSError:
            return
        if (
            not plain
            and (names_re is None or names_re.match(name) is not None)
            and _decide(level, ctx, prefix + name, name, rel_prefix + name, is_dir)
        ):
            return
        child = rel_prefix + name
        if not is_dir:
            files.append(child)
            return
        if is_link:
            try:
                cst = entry.stat()
            except OSError:
                return
            if self._in_ancestry(rel_prefix[:-1], (cst.st_dev, cst.st_ino)):
                return  # a link back into its own ancestry
        stack.append((child, prefix + name, level))

    def _publish(self) -> None:
        paths: list[str] = []
        for record in self.dirs.values():
            paths.extend(record.files)
        paths.sort()
        with self.lock:
            self.paths = paths
            self.generation += 1
            self.derived = {}
            self.last_refresh = time.monotonic()

    def refresh(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Re-stat every directory; re-walk the subtrees that changed. True when the file list did."""
        if self._ctx is None:
            before = len(self.paths)
            self.build(should_stop)
            return before != len(self.paths)
        changed: list[str] = []
        # Stamps from after the racy window (a clock ahead of ours): the racy test can never pass,
        # so these are kept as seen before the listing below and compared for equality next time.
        ahead: dict[str, int] = {}
        dirs = self.dirs
        items = list(dirs.items())
        stamps = self._directory_stamps([rel for rel, _ in items])
        for (rel, record), now_ns in zip(items, stamps, strict=True):
            if now_ns < 0:
                changed.append(rel)  # gone
                continue
            changed_ns = record.changed_ns
            if changed_ns == UNKNOWN_STAMP:
                if now_ns >= record.listed_ns - RACY_NS:
                    changed.append(rel)
                    if now_ns > record.listed_ns + RACY_NS:
                        ahead[rel] = now_ns
                    continue
                dirs[rel] = record.with_stamp(now_ns)
            elif now_ns != changed_ns:
                changed.append(rel)
                continue
            # Creating, removing or renaming an ignore file changes the directory; only an edit in
            # place needs the file's own stamp.
            if record.ignore_stamp != _NO_STAMP and _ignore_stamp(self._full(rel)) != record.ignore_stamp:
                changed.append(rel)
        if not changed:
            with self.lock:
                self.last_refresh = time.monotonic()
            return False
        tops: set[str] = set()
        for rel in sorted(changed):  # parents first
            if not _under(rel, tops):
                tops.add(rel)
        self._levels = {}
        tops_items = [(top, self._full(top), self._parent_level(top)) for top in tops if top in dirs]
        # forget the subtrees, then walk them again with the same inherited rules
        before: dict[str, list[str]] = {}
        for rel in [r for r in dirs if _under(r, tops)]:
            before[rel] = dirs.pop(rel).files
        with _gc_paused():
            for item in tops_items:
                self._walk([item], should_stop)
        for rel, now_ns in ahead.items():
            if rel in dirs:
                dirs[rel] = dirs[rel].with_stamp(now_ns)
        after = [r for r in dirs if _under(r, tops)]
        if len(after) == len(before) and all(r in before and dirs[r].files == before[r] for r in after):
            with self.lock:  # racy directories listed again, unchanged
                self.last_refresh = time.monotonic()
            return False
        self._publish()
        return True


def stat_changes(root: str, rels: list[str]) -> list[int]:
    """st_ctime_ns of each directory `rels` under `root` ("" the root itself), -1 when it is gone."""
    found = []
    stat_path = os.stat
    join = os.path.join
    for rel in rels:
        try:
            found.append(stat_path(join(root, rel) if rel else root).st_ctime_ns)
        except OSError:
            found.append(-1)
    return found


def _under(rel: str, tops: set[str]) -> bool:
    """Whether `rel` is one of `tops` or inside one (relative paths, "" the root)."""
    if "" in tops:
        return True
    while True:
        if rel in tops:
            return True
        cut = rel.rfind("/")
        if cut < 0:
            return False
        rel = rel[:cut]


class IndexStore:
    """Indexes by root string, shared by the search workers; bounded and evicted when unused."""

    def __init__(
        self,
        max_paths: int = 2_000_000,
        idle_seconds: float = 600.0,
        refresh_seconds: float = 1.0,
        home: str | None = None,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_paths = max_paths
        self.idle_seconds = idle_seconds
        self.refresh_seconds = refresh_seconds
        self.home = home
        self.env = env if env is not None else dict(os.environ)
        self.clock = clock
        self._lock = threading.Lock()
        self._indexes: dict[str, RootIndex] = {}
        self._building: dict[str, threading.Event] = {}
        self._refreshing: set[str] = set()
        self._helpers: HelperPool | None = None
        self._closed = False

    def helper_pool(self) -> HelperPool:
        """The warm walk helper big builds borrow (see `actors.walk_sharing`); once the store is
        closed, a closed pool that keeps nothing."""
        with self._lock:
            if self._helpers is None:
                from actors.walk_sharing import HelperPool  # noqa: PLC0415 - the helper process imports this module

                self._helpers = HelperPool()
                if self._closed:
                    self._helpers.close()
            return self._helpers

    def warm_helper(self) -> None:
        """Start the walk helper before the first big build needs it."""
        if HELPER_AFTER_SECONDS is not None:
            self.helper_pool().warm()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            helpers = self._helpers
        if helpers is not None:
            helpers.close()

    def get(self, root: str, should_stop: Callable[[], bool] = lambda: False) -> RootIndex:
        """The index of `root`, built now if there is none (another worker's build is shared)."""
        while True:
            with self._lock:
                index = self._indexes.get(root)
                if index is not None:
                    index.last_used = self.clock()
                    index.last_asked = time.monotonic()
                    self._maybe_refresh(root, index)
                    return index
                pending = self._building.get(root)
                if pending is None:
                    pending = threading.Event()
                    self._building[root] = pending
                    mine = True
                else:
                    mine = False
            if not mine:
                while not pending.wait(0.05):
                    if should_stop():
                        raise Cancelled
                continue
            index = RootIndex(root, self.home, self.env)
            index.helper_pool = self.helper_pool()
            try:
                index.build()
            finally:
                with self._lock:
                    del self._building[root]
                    if index.generation:
                        index.last_used = self.clock()
                        self._indexes[root] = index
                        self._evict()
                pending.set()
            return index

    def _maybe_refresh(self, root: str, index: RootIndex) -> None:
        if root in self._refreshing or time.monotonic() - index.last_refresh < self.refresh_seconds:
            return
        self._refreshing.add(root)

        def run() -> None:
            try:
                # Wait for a pause in the keystrokes (at most QUIET_CAP_SECONDS): a refresh of a big
                # tree competes with the searches for the interpreter lock.
                cap = time.monotonic() + QUIET_CAP_SECONDS
                while True:
                    now = time.monotonic()
                    quiet_for = now - index.last_asked
                    if quiet_for >= QUIET_SECONDS or now >= cap:
                        break
                    time.sleep(min(QUIET_SECONDS - quiet_for, cap - now))
                index.refresh()
            except Exception:  # noqa: BLE001 - a failed refresh keeps the old list
                pass
            finally:
                with self._lock:
                    self._refreshing.discard(root)

        threading.Thread(target=run, name="fuzzy-refresh", daemon=True).start()

    def _evict(self) -> None:
        now = self.clock()
        for root, index in list(self._indexes.items()):
            if now - index.last_used > self.idle_seconds:
                del self._indexes[root]
        total = sum(len(i.paths) for i in self._indexes.values())
        for root, index in sorted(self._indexes.items(), key=lambda kv: kv[1].last_used):
            if total <= self.max_paths or len(self._indexes) == 1:
                break
            total -= len(index.paths)
            del self._indexes[root]

    def evict_idle(self) -> None:
        with self._lock:
            self._evict()

    def roots(self) -> list[str]:
        with self._lock:
            return list(self._indexes)
