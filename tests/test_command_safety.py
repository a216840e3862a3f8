"""Known-safe commands (no approval under `untrusted`) and `parsedCmd` summaries, checked against a table
measured on the 0.58 binary: each command was sent as a scripted `shell` call (approval policy `untrusted`,
sandbox `danger-full-access`, every approval denied); "asked" = an `execCommandApproval` arrived, and the
summaries are its `parsedCmd` (or the `exec_command_begin` event's `parsed_cmd` when it did not ask)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from actors.command_safety import (
    NUL_PLACEHOLDER,
    is_known_safe_command,
    parse_command,
    shell_join,
    shell_quote,
    shlex_split,
    split_plain_script,
)

SAFE, ASK = True, False
REFERENCE = Path("/work/ref058/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex")


def R(cmd: str, name: str, path: str) -> dict[str, Any]:  # noqa: N802 - short table constructors
    return {"type": "read", "cmd": cmd, "name": name, "path": path}


def L(cmd: str, path: str | None = None) -> dict[str, Any]:  # noqa: N802
    return {"type": "list_files", "cmd": cmd, "path": path}


def S(cmd: str, query: str | None, path: str | None) -> dict[str, Any]:  # noqa: N802
    return {"type": "search", "cmd": cmd, "query": query, "path": path}


def U(cmd: str) -> dict[str, Any]:  # noqa: N802
    return {"type": "unknown", "cmd": cmd}


# (argv, 0.58 runs it without asking, 0.58's parsedCmd)
TABLE_058: list[tuple[list[str], bool, list[dict[str, Any]]]] = [
    (["cd", "src"], SAFE, []),
    (["false"], SAFE, [U("false")]),
    (["ls"], SAFE, [L("ls")]),
    (["nl", "-ba", "x"], SAFE, [R("nl -ba x", "x", "x")]),
    (["true"], SAFE, [U("true")]),
    (["cut", "-d,", "-f1", "x"], ASK, [U("cut '-d,' -f1 x")]),
    (["expr", "1", "+", "1"], ASK, [U("expr 1 + 1")]),
    (["id"], ASK, [U("id")]),
    (["paste", "x"], ASK, [U("paste x")]),
    (["rev", "x"], ASK, [U("rev x")]),
    (["seq", "3"], ASK, [U("seq 3")]),
    (["stat", "x"], ASK, [U("stat x")]),
    (["tr", "a", "b"], ASK, [U("tr a b")]),
    (["uname", "-a"], ASK, [U("uname -a")]),
    (["uniq", "x"], ASK, [U("uniq x")]),
    (["whoami"], ASK, [U("whoami")]),
    (["numfmt", "1"], ASK, [U("numfmt 1")]),
    (["tac", "x"], ASK, [U("tac x")]),
    (["base64", "x"], ASK, [U("base64 x")]),
    (["base64", "-d", "x"], ASK, [U("base64 -d x")]),
    (["printf", "hi"], ASK, [U("printf hi")]),
    (["awk", "{print}", "x"], ASK, [U("awk '{print}' x")]),
    (["file", "x"], ASK, [U("file x")]),
    (["touch", "zz"], ASK, [U("touch zz")]),
    (["date"], ASK, [U("date")]),
    (["less", "x"], ASK, [U("less x")]),
    (["find", ".", "-type", "f"], SAFE, [S("find . -type f", None, ".")]),
    (["find", "src"], SAFE, [S("find src", None, "src")]),
    (["find", "-name", "x"], SAFE, [S("find -name x", "x", "x")]),
    (["find", ".", "-path", "*/src/*"], SAFE, [S("find . -path '*/src/*'", "*/src/*", ".")]),
    (["find", ".", "-delete"], ASK, [S("find . -delete", None, ".")]),
    (["find", ".", "-exec", "echo", "{}", ";"], ASK, [S("find . -exec echo '{}'", None, ".")]),
    (["find", ".", "-execdir", "echo", "{}", ";"], ASK, [S("find . -execdir echo '{}'", None, ".")]),
    (["find", ".", "-ok", "echo", "{}", ";"], ASK, [S("find . -ok echo '{}'", None, ".")]),
    (["find", ".", "-fls", "zz"], ASK, [S("find . -fls zz", None, ".")]),
    (["find", ".", "-fprint", "zz"], ASK, [S("find . -fprint zz", None, ".")]),
    (["find", ".", "-fprintf", "zz", "%p"], ASK, [S("find . -fprintf zz '%p'", None, ".")]),
    (["find", "!", "-name", "x"], SAFE, [S("find '!' -name x", "x", "x")]),
    (["rg", "-n", "foo", "src"], SAFE, [S("rg -n foo src", "foo", "src")]),
    (["rg", "--files"], SAFE, [S("rg --files", None, None)]),
    (["rg", "--files", "src"], SAFE, [S("rg --files src", None, "src")]),
    (["rg", "--pre=cat", "foo"], ASK, [S("rg '--pre=cat' foo", "foo", None)]),
    (["rg", "--search-zip", "foo"], ASK, [S("rg --search-zip foo", "foo", None)]),
    (["rg", "-g", "*.py", "foo"], SAFE, [S("rg -g '*.py' foo", "*.py", "foo")]),
    (["git", "status"], SAFE, [U("git status")]),
    (["git", "show", "HEAD"], SAFE, [U("git show HEAD")]),
    (["git", "branch", "-D", "zz"], SAFE, [U("git branch -D zz")]),
    (["git", "branch", "-d", "zz"], SAFE, [U("git branch -d zz")]),
    (["git", "branch", "zz"], SAFE, [U("git branch zz")]),
    (["git", "fetch"], ASK, [U("git fetch")]),
    (["git", "-C", ".", "status"], ASK, [U("git -C . status")]),
    (["git", "-c", "x=y", "status"], ASK, [U("git -c 'x=y' status")]),
    (["git", "-ccore.pager=cat", "status"], ASK, [U("git '-ccore.pager=cat' status")]),
    (["git", "diff", "--output=zz"], SAFE, [U("git diff '--output=zz'")]),
    (["git", "log", "--output", "zz"], SAFE, [U("git log --output zz")]),
    (["git", "diff", "--ext-diff"], SAFE, [U("git diff --ext-diff")]),
    (["git", "--no-pager", "log"], ASK, [U("git --no-pager log")]),
    (["git", "log", "--exec=zz"], SAFE, [U("git log '--exec=zz'")]),
    (["sed", "-n", "1,5p", "x"], SAFE, [R("sed -n '1,5p' x", "x", "x")]),
    (["sed", "-n", "5p", "x"], SAFE, [R("sed -n 5p x", "x", "x")]),
    (["sed", "-n", "1,5p", "x", "y"], ASK, [R("sed -n '1,5p' x y", "x", "x")]),
    (["sed", "-n", "1,5p"], SAFE, [U("sed -n '1,5p'")]),
    (["sed", "s/a/b/", "x"], ASK, [U("sed s/a/b/ x")]),
    (["head", "x"], SAFE, [U("head x")]),
    (["head", "-3", "x"], SAFE, [U("head -3 x")]),
    (["head", "-c", "10", "x"], SAFE, [U("head -c 10 x")]),
    (["tail", "x"], SAFE, [U("tail x")]),
    (["tail", "-f", "x"], SAFE, [U("tail -f x")]),
    (["tail", "-n+5", "x"], SAFE, [R("tail -n+5 x", "x", "x")]),
    (["cat", "-n", "x"], SAFE, [U("cat -n x")]),
    (["cat"], SAFE, [U("cat")]),
    (["cat", "foo/src"], SAFE, [R("cat foo/src", "foo", "foo/src")]),
    (["nl"], SAFE, [U("nl")]),
    (["ls", "a", "b"], SAFE, [L("ls a b", "a")]),
    (["ls", "--color=auto"], SAFE, [L("ls '--color=auto'")]),
    (["/bin/cat", "x"], SAFE, [U("/bin/cat x")]),
    (["/usr/bin/head", "-n", "3", "x"], SAFE, [U("/usr/bin/head -n 3 x")]),
    (["/bin/ls", "src"], SAFE, [U("/bin/ls src")]),
    (["grep", "foo"], SAFE, [S("grep foo", "foo", None)]),
    (["grep", "-e", "foo", "x"], SAFE, [S("grep -e foo x", "foo", "x")]),
    (["fd", "."], ASK, [S("fd .", None, ".")]),
    (["fd", "-t", "f", "foo"], ASK, [S("fd -t f foo", "foo", None)]),
    (["echo", "a=b"], SAFE, [U("echo 'a=b'")]),
    (["echo", "a,b"], SAFE, [U("echo 'a,b'")]),
    (["echo", "a%b"], SAFE, [U("echo 'a%b'")]),
    (["echo", "a:b"], SAFE, [U("echo a:b")]),
    (["echo", "a]b"], SAFE, [U("echo a]b")]),
    (["echo", "a}b"], SAFE, [U("echo 'a}b'")]),
    (["echo", "a^b"], SAFE, [U("echo a'^b'")]),
    (["echo", "a~b"], SAFE, [U("echo 'a~b'")]),
    (["echo", ""], SAFE, [U("echo ''")]),
    (["echo", "a\"b"], SAFE, [U("echo 'a\"b'")]),
    (["echo", "a\\b"], SAFE, [U("echo \"a\\\\b\"")]),
    (["echo", "\\"], SAFE, [U("echo \"\\\\\"")]),
    (["echo", "a#b"], SAFE, [U("echo 'a#b'")]),
    (["echo", "'\""], SAFE, [U("echo \"'\\\"\"")]),
    (["echo", "a$b'c"], SAFE, [U("echo 'a$b'\"'c\"")]),
    (["echo", "a\nb"], SAFE, [U("echo 'a\nb'")]),
    (["echo", "a|b"], SAFE, [U("echo 'a|b'")]),
    (["echo", "a(b"], SAFE, [U("echo 'a(b'")]),
    (["echo", "x^"], SAFE, [U("echo x'^'")]),
    (["echo", "a!b'c"], SAFE, [U("echo 'a!b'\"'c\"")]),
    (["bash", "-c", "ls"], SAFE, [L("ls")]),
    (["sh", "-c", "ls"], ASK, [U("sh -c ls")]),
    (["sh", "-lc", "ls"], ASK, [U("sh -lc ls")]),
    (["/bin/bash", "-lc", "ls"], SAFE, [L("ls")]),
    (["bash", "-lc", "ls", "extra"], ASK, [U("bash -lc ls extra")]),
    (["bash", "-lc", "ls; pwd"], SAFE, [L("ls"), U("pwd")]),
    (["bash", "-lc", "ls && pwd"], SAFE, [L("ls"), U("pwd")]),
    (["bash", "-lc", "FOO=1 ls"], ASK, [U("FOO=1 ls")]),
    (["bash", "-lc", "echo $HOME"], ASK, [U("echo $HOME")]),
    (["bash", "-lc", "ls `pwd`"], ASK, [U("ls `pwd`")]),
    (["bash", "-lc", "ls;"], SAFE, [L("'ls;'")]),
    (["bash", "-lc", "ls\npwd"], SAFE, [L("ls"), U("pwd")]),
    (["bash", "-lc", "echo a'b'"], ASK, [U("echo a'b'")]),
    (["bash", "-lc", "echo \"\""], ASK, [U("echo \"\"")]),
    (["bash", "-lc", "echo a\\ b"], SAFE, [U("echo \"a\\\\ b\"")]),
    (["bash", "-lc", "ls *.py"], SAFE, [L("ls '*.py'", "*.py")]),
    (["bash", "-lc", "ls ~"], SAFE, [L("ls '~'", "~")]),
    (["bash", "-lc", "if true; then ls; fi"], ASK, [U("if true; then ls; fi")]),
    (["bash", "-lc", "cd src && cat x"], SAFE, [R("cat x", "x", "src/x")]),
    (["bash", "-lc", "cd src; cd sub && cat x"], SAFE, [R("cat x", "x", "src/sub/x")]),
    (["bash", "-lc", "ls && ls"], SAFE, [L("ls")]),
    (["bash", "-lc", "nl -ba x | sed -n 1,5p"], SAFE, [R("nl -ba x | sed -n 1,5p", "x", "x")]),
    (["bash", "-lc", "sed -n 1,5p x"], SAFE, [R("sed -n '1,5p' x", "x", "x")]),
    (["bash", "-lc", "cat x | head -n 5"], SAFE, [R("cat x", "x", "x"), U("head -n 5")]),
    (["bash", "-lc", "cat 'a b'"], SAFE, [R("cat 'a b'", "a b", "a b")]),
    (["bash", "-lc", "rg --files | head -n 5"], SAFE, [S("rg --files", None, None), U("head -n 5")]),
    (["bash", "-lc", "find . -name '*.py' | wc -l"], SAFE, [S("find . -name '*.py'", "*.py", ".")]),
    (["bash", "-lc", "true"], SAFE, [U("true")]),
    (["bash", "-lc", "python3 -c 'print(1)'"], ASK, [U("python3 -c 'print(1)'")]),
    (["bash", "-lc", "tail -n 5 x"], SAFE, [R("tail -n 5 x", "x", "x")]),
    (["bash", "-lc", "head x"], SAFE, [U("head x")]),
    (["bash", "-lc", "ls src | sort"], ASK, [L("ls src", "src")]),
    (["bash", "-lc", "yes | head -n 1"], ASK, [U("head -n 1")]),
    (["bash", "-lc", "base64 x"], ASK, [U("base64 x")]),
    (["bash", "-lc", "git -c a=b status"], ASK, [U("git -c 'a=b' status")]),
    (["bash", "-lc", "cd /tmp"], SAFE, []),
    (["bash", "-lc", "echo 1 2"], SAFE, [U("echo 1 2")]),
    (["ls", "&&", "pwd"], SAFE, [L("ls"), U("pwd")]),
    (["ls", "|", "wc", "-l"], SAFE, [L("ls"), U("wc -l")]),
    (["cd", "src", "&&", "cat", "x"], SAFE, [R("cat x", "x", "src/x")]),
    (["bash", "-lc", "echo \"a\\\"b\""], SAFE, [U("echo \"a\\\\\\\"b\"")]),
    (["bash", "-lc", "echo \"a\\\\b\""], SAFE, [U("echo \"a\\\\\\\\b\"")]),
    (["bash", "-lc", "echo \"a\\nb\""], SAFE, [U("echo \"a\\\\nb\"")]),
    (["bash", "-lc", "echo a}b"], ASK, [U("echo a}b")]),
    (["bash", "-lc", "echo a!b"], SAFE, [U("echo 'a!b'")]),
    (["bash", "-lc", "echo hi!"], SAFE, [U("echo 'hi!'")]),
    (["bash", "-lc", "echo !"], SAFE, [U("echo '!'")]),
    (["bash", "-lc", "echo a[b"], ASK, [U("echo a[b")]),
    (["bash", "-lc", "ls [ab]*"], ASK, [U("ls [ab]*")]),
    (["bash", "-lc", "echo a=b"], SAFE, [U("echo 'a=b'")]),
    (["bash", "-lc", "echo =a"], SAFE, [U("echo '=a'")]),
    (["bash", "-lc", "\"ls\" -la"], ASK, [U("\"ls\" -la")]),
    (["bash", "-lc", "'ls' -la"], ASK, [U("'ls' -la")]),
    (["bash", "-lc", "echo \"a b\"c"], ASK, [U("echo \"a b\"c")]),
    (["bash", "-lc", "echo 'a''b'"], ASK, [U("echo 'a''b'")]),
    (["bash", "-lc", "ls;pwd"], SAFE, [L("ls"), U("pwd")]),
    (["bash", "-lc", "ls;;pwd"], ASK, [U("ls;;pwd")]),
    (["bash", "-lc", "echo $'a'"], ASK, [U("echo $'a'")]),
    (["bash", "-lc", "echo \"\\$x\""], SAFE, [U("echo \"\\\\\"'$x'")]),
    (["bash", "-lc", "! ls"], ASK, [U("! ls")]),
    (["bash", "-lc", "ls -- -x"], SAFE, [L("ls -- -x")]),
    (["bash", "-lc", "echo a%b"], SAFE, [U("echo 'a%b'")]),
    (["bash", "-lc", "echo a^b"], SAFE, [U("echo a'^b'")]),
    (["bash", "-lc", "echo a:b@c+d,e"], SAFE, [U("echo 'a:b@c+d,e'")]),
    (["bash", "-lc", "echo -1 +2"], SAFE, [U("echo -1 +2")]),
    (["bash", "-lc", "ls\\\n-la"], SAFE, [L("ls-la")]),
    (["bash", "-lc", "echo \"\t\""], ASK, [U("echo \"\t\"")]),
    (["bash", "-lc", "for f in x; do cat $f; done"], ASK, [U("for f in x; do cat $f; done")]),
    (["bash", "-lc", "[ -f x ]"], ASK, [U("[ -f x ]")]),
    (["bash", "-lc", "echo #b"], ASK, [U("echo #b")]),
    (["bash", "-lc", "ls && (pwd)"], ASK, [U("ls && (pwd)")]),
    (["bash", "-lc", "echo a\\b"], SAFE, [U("echo \"a\\\\b\"")]),
    (["bash", "-lc", "echo \\$HOME"], SAFE, [U("echo \"\\\\\"'$HOME'")]),
    (["bash", "-lc", "cat x && cat x"], SAFE, [R("cat x", "x", "x")]),
    (["bash", "-lc", "nl -ba | ls"], SAFE, [L("ls")]),
    (["bash", "-lc", "cd src && cd .. && cat x"], SAFE, [R("cat x", "x", "src/../x")]),
    (["bash", "-lc", "cd /abs && cat x"], SAFE, [R("cat x", "x", "/abs/x")]),
    (["bash", "-lc", "cd src && cat /etc/x"], SAFE, [R("cat /etc/x", "x", "/etc/x")]),
    (["bash", "-lc", "cd src && head -n 3 x"], SAFE, [R("head -n 3 x", "x", "src/x")]),
    (["bash", "-lc", "cd src && nl x"], SAFE, [R("nl x", "x", "src/x")]),
    (["bash", "-lc", "cd src && sed -n 1p x"], SAFE, [R("sed -n 1p x", "x", "src/x")]),
    (["bash", "-lc", "cd src && rg foo"], SAFE, [S("rg foo", "foo", None)]),
    (["bash", "-lc", "echo a; ls; echo b"], SAFE, [L("ls"), U("echo b")]),
    (["bash", "-lc", "sort x | uniq"], ASK, [U("sort x | uniq")]),
    (["bash", "-lc", "head -n 3 x | tail -n 1"], SAFE, [R("head -n 3 x", "x", "x"), U("tail -n 1")]),
    (["bash", "-lc", "cat x | sed -n 2p"], SAFE, [R("cat x | sed -n 2p", "x", "x")]),
    (["bash", "-lc", "sed -n 2p x | cat"], SAFE, [R("sed -n 2p x", "x", "x"), U("cat")]),
    (["bash", "-lc", "rg foo src | head"], SAFE, [S("rg foo src", "foo", "src")]),
    (["bash", "-lc", "ls pkg/app/node_modules/"], SAFE, [L("ls pkg/app/node_modules/", "app")]),
    (["bash", "-lc", "cat dist/build/"], SAFE, [R("cat dist/build/", "dist/build", "dist/build/")]),
    (["bash", "-lc", "ls /"], SAFE, [L("ls /", "")]),
    (["bash", "-lc", "grep -n foo src/a.py | head -n 2"], SAFE, [
        S("grep -n foo src/a.py", "foo", "a.py"),
        U("head -n 2"),
    ]),
    (["bash", "-lc", "git log --oneline | head -n 5"], SAFE, [U("git log --oneline"), U("head -n 5")]),
    (["bash", "-lc", "cat 'it'\"'\"'s'"], ASK, [U("cat 'it'\"'\"'s'")]),
    (["bash", "-lc", "yes | ls"], ASK, [L("ls")]),
    (["bash", "-lc", "echo hi; true"], SAFE, [U("echo hi")]),
    (["bash", "-lc", "true; true"], SAFE, []),
    (["bash", "-lc", "ls && cd src"], SAFE, [L("ls")]),
    (["bash", "-lc", "cat x && cd src"], SAFE, [R("cat x", "x", "x")]),
    (["bash", "-lc", "sed -n 1,5p x y"], ASK, [R("sed -n '1,5p' x y", "x", "x")]),
    (["bash", "-c", "cat x | wc -l"], SAFE, [R("cat x", "x", "x")]),
    (["/bin/bash", "-lc", "cat x"], SAFE, [R("cat x", "x", "x")]),
    (["sh", "-c", "cat x"], ASK, [U("sh -c 'cat x'")]),
    (["git"], ASK, [U("git")]),
    (["git", "show", "--stat"], SAFE, [U("git show --stat")]),
    (["git", "-p", "log"], ASK, [U("git -p log")]),
    (["grep"], SAFE, [S("grep", None, None)]),
    (["head", "-n", "x", "y"], SAFE, [U("head -n x y")]),
    (["head", "-n", "3", "-v", "x"], SAFE, [R("head -n 3 -v x", "x", "x")]),
    (["head", "-v", "-n", "3", "x"], SAFE, [U("head -v -n 3 x")]),
    (["tail", "-c", "3", "x"], SAFE, [U("tail -c 3 x")]),
    (["head", "-n", "3", "x", "y"], SAFE, [R("head -n 3 x y", "x", "x")]),
    (["head", "--lines", "3", "x"], SAFE, [U("head --lines 3 x")]),
    (["nl", "-w", "3", "x"], SAFE, [R("nl -w 3 x", "x", "x")]),
    (["cat", "-"], SAFE, [R("cat -", "-", "-")]),
    (["ls", "--", "-x"], SAFE, [L("ls -- -x")]),
    (["ls", "--format", "long", "src"], SAFE, [L("ls --format long src", "src")]),
    (["rg", "--files", "-g", "*.py"], SAFE, [S("rg --files -g '*.py'", None, "*.py")]),
    (["rg", "foo", "src", "lib"], SAFE, [S("rg foo src lib", "foo", "src")]),
    (["rg", "--", "-x"], SAFE, [S("rg -- -x", None, None)]),
    (["find"], SAFE, [S("find", None, None)]),
    (["find", "."], SAFE, [S("find .", None, ".")]),
    (["find", "-type", "f"], SAFE, [S("find -type f", None, "f")]),
    (["find", ".", "-name"], SAFE, [S("find . -name", None, ".")]),
    (["find", "(", "-name", "x", ")"], SAFE, [S("find '(' -name x ')'", "x", "x")]),
    (["grep", "--", "-x", "y"], SAFE, [S("grep -- -x y", "y", None)]),
    (["grep", "-A", "3", "foo", "x"], SAFE, [S("grep -A 3 foo x", "3", "foo")]),
    (["fd", "-e", "py"], ASK, [S("fd -e py", None, None)]),
    (["fd", "src/"], ASK, [S("fd src/", None, "src")]),
    (["sed", "-n", "1,5p", "--", "x"], ASK, [R("sed -n '1,5p' -- x", "--", "--")]),
    (["sed", "-n", "01,5p", "x"], SAFE, [R("sed -n '01,5p' x", "x", "x")]),
    (["sed", "-n", "1,p", "x"], ASK, [U("sed -n '1,p' x")]),
    (["sed", "-n", "p", "x"], ASK, [U("sed -n p x")]),
    (["sed", "-n", "1,2,3p", "x"], ASK, [U("sed -n '1,2,3p' x")]),
    (["ls", "&&"], SAFE, [L("ls")]),
    (["ls", ";", "pwd"], SAFE, [L("ls"), U("pwd")]),
    (["ls", "||", "true"], SAFE, [L("ls")]),
    (["echo", "hi", "&&", "ls"], SAFE, [L("ls")]),
    (["n", "|", "ls"], ASK, [L("ls")]),
    (["cat", "x", "|", "wc"], SAFE, [R("cat x", "x", "x"), U("wc")]),
    (["bash", "-lc"], ASK, [U("bash -lc")]),
    (["true", "x"], SAFE, [U("true x")]),
    (["base64"], ASK, [U("base64")]),
    (["echo", "a\u0000b"], SAFE, [U("<command included NUL byte>")]),
    (["bash", "-lc", "echo \" a\""], SAFE, [U("echo ' a'")]),
    (["bash", "-lc", "echo \" \""], ASK, [U("echo \" \"")]),
    (["bash", "-lc", "echo \"a\nb\""], ASK, [U("echo \"a\nb\"")]),
    (["bash", "-lc", "echo \"\na\""], SAFE, [U("echo a")]),
    (["bash", "-lc", "echo a]b"], ASK, [U("echo a]b")]),
    (["bash", "-lc", "echo ]"], SAFE, [U("echo ]")]),
    (["bash", "-lc", "echo \"a$\""], ASK, [U("echo \"a$\"")]),
    (["bash", "-lc", "echo \"a{b\""], SAFE, [U("echo 'a{b'")]),
    (["bash", "-lc", "ls a\\ b"], SAFE, [L("ls 'a b'", " b")]),
    (["bash", "-lc", "echo \"a'b\""], SAFE, [U("echo \"a'b\"")]),
    (["bash", "-lc", "ls && \\\n pwd"], SAFE, [L("ls"), U("pwd")]),
    (["bash", "-lc", "echo if"], SAFE, [U("echo if")]),
    (["bash", "-lc", "ls\r"], SAFE, [L("'ls\r'")]),
    (["bash", "-lc", "echo ?"], SAFE, [U("echo '?'")]),
    (["bash", "-lc", "echo a=b=c"], SAFE, [U("echo 'a=b=c'")]),
    (["bash", "-lc", "ls -la=x"], SAFE, [L("ls '-la=x'")]),
    (["bash", "-lc", "echo \"a\\$b\""], SAFE, [U("echo \"a\\\\\"'$b'")]),
    (["bash", "-lc", "echo \"a\\`b\""], SAFE, [U("echo \"a\\\\\"'`b'")]),
    (["bash", "-lc", "echo a\\'b"], SAFE, [U("echo \"a\\\\'b\"")]),
    (["bash", "-lc", "echo \\'"], SAFE, [U("echo \"\\\\'\"")]),
    (["bash", "-lc", "echo %"], SAFE, [U("echo '%'")]),
    (["bash", "-lc", "echo a,b"], SAFE, [U("echo 'a,b'")]),
    (["bash", "-lc", "echo -"], SAFE, [U("echo -")]),
    (["bash", "-lc", "echo .."], SAFE, [U("echo ..")]),
    (["bash", "-lc", "echo 'a\\b'"], SAFE, [U("echo \"a\\\\b\"")]),
    (["bash", "-lc", "ls  "], SAFE, [L("ls")]),
    (["bash", "-lc", "echo '' x"], SAFE, [U("echo '' x")]),
    (["bash", "-lc", "echo \"  \""], ASK, [U("echo \"  \"")]),
    (["bash", "-lc", "echo \"a  b\""], SAFE, [U("echo 'a  b'")]),
    (["bash", "-lc", "echo \"é\""], SAFE, [U("echo 'é'")]),
    (["bash", "-lc", "echo a\\"], ASK, [U("echo a\\")]),
    (["bash", "-lc", "echo a\\\\"], SAFE, [U("echo \"a\\\\\\\\\"")]),
    (["bash", "-lc", "grep -rn foo . | head -n 20"], SAFE, [S("grep -rn foo .", "foo", "."), U("head -n 20")]),
    (["bash", "-lc", "ls | head -n 3"], SAFE, [L("ls"), U("head -n 3")]),
    (["bash", "-lc", "ls | tail -n 3"], SAFE, [L("ls"), U("tail -n 3")]),
    (["bash", "-lc", "ls | head -3"], SAFE, [L("ls")]),
    (["bash", "-lc", "ls | tail -n +3"], SAFE, [L("ls"), U("tail -n +3")]),
    (["bash", "-lc", "cat x | head -c 5"], SAFE, [R("cat x", "x", "x"), U("head -c 5")]),
    (["bash", "-lc", "cat x | tail -c 5"], SAFE, [R("cat x", "x", "x"), U("tail -c 5")]),
    (["bash", "-lc", "cat x | wc"], SAFE, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cat x | cut -c1"], ASK, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cat x | tr a b"], ASK, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cat x | tee y"], ASK, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cat x | printf a"], ASK, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cat x | uniq"], ASK, [R("cat x", "x", "x")]),
    (["bash", "-lc", "nl -ba x | sed -n '1,5p'"], SAFE, [R("nl -ba x | sed -n '1,5p'", "x", "x")]),
    (["bash", "-lc", "cat x | sed -n 1,5p y"], SAFE, [R("cat x", "x", "x"), R("sed -n '1,5p' y", "y", "y")]),
    (["bash", "-lc", "sed -n 1,5p x | head"], SAFE, [R("sed -n 1,5p x | head", "x", "x")]),
    (["bash", "-lc", "cat x && sed -n 1,5p y"], SAFE, [R("cat x", "x", "x"), R("sed -n '1,5p' y", "y", "y")]),
    (["bash", "-lc", "ls; sed -n 1p"], SAFE, [L("ls")]),
    (["bash", "-lc", "cd a && cd /b && cat x"], SAFE, [R("cat x", "x", "/b/x")]),
    (["bash", "-lc", "cd a/ && cat x"], SAFE, [R("cat x", "x", "a/x")]),
    (["bash", "-lc", "cd a && cat ../x"], SAFE, [R("cat ../x", "x", "a/../x")]),
    (["bash", "-lc", "echo x | cat"], SAFE, [U("cat")]),
    (["bash", "-lc", "cd x; echo y"], SAFE, [U("echo y")]),
    (["bash", "-lc", "nl -ba; true"], SAFE, [U("nl -ba")]),
    (["ls", "|", "head", "-n", "3"], SAFE, [L("ls"), U("head -n 3")]),
    (["cat", "x", "|", "sed", "-n", "1p"], SAFE, [R("cat x", "x", "x"), U("sed -n 1p")]),
    (["true", "&&", "true"], SAFE, [U("true")]),
    (["echo", "a", "&&", "echo", "b"], SAFE, [U("echo b")]),
    (["nl", "-ba", "&&", "ls"], SAFE, [L("ls")]),
    (["cd", "a", "&&", "cd", "b", "&&", "cat", "x"], SAFE, [R("cat x", "x", "a/b/x")]),
    (["cd", "&&", "ls"], SAFE, [L("ls")]),
    (["ls", "&&", "cd", "x"], SAFE, [L("ls")]),
    (["echo", "a", ";", "cd", "x"], SAFE, [U("echo a")]),
    (["yes", "|"], ASK, [U("")]),
    (["bash", "-c", "ls", "&&", "pwd"], ASK, [U("bash -c ls"), U("pwd")]),
    (["cat", "x;"], SAFE, [R("cat 'x;'", "x;", "x;")]),
    (["pwsh", "-Command", "Get-ChildItem"], ASK, [U("pwsh -Command Get-ChildItem")]),
    (["git", "status", "-c", "x=y"], SAFE, [U("git status -c 'x=y'")]),
    (["git", "log", "--output=/tmp/zz"], SAFE, [U("git log '--output=/tmp/zz'")]),
    (["bash", "-lc", "declare x"], ASK, [U("declare x")]),
    (["bash", "-lc", "local a"], ASK, [U("local a")]),
    (["bash", "-lc", "echo ]a"], ASK, [U("echo ]a")]),
    (["bash", "-lc", "echo x]"], ASK, [U("echo x]")]),
    (["bash", "-lc", "./x=1"], ASK, [U("'./x=1'")]),
    (["bash", "-lc", "echo \"a\n\""], SAFE, [U("echo a")]),
    (["bash", "-lc", "echo \"\n\na\""], SAFE, [U("echo a")]),
    (["bash", "-lc", "echo \" \na\""], SAFE, [U("echo a")]),
    (["bash", "-lc", "echo 'a\nb'"], SAFE, [U("echo 'a\nb'")]),
    (["bash", "-lc", "ls\n;pwd"], ASK, [U("ls\n;pwd")]),
    (["bash", "-lc", "echo \\#a"], SAFE, [U("echo \"\\\\#a\"")]),
    (["bash", "-lc", "echo a \\\n b"], SAFE, [U("echo a b")]),
    (["bash", "-lc", "cat x\n"], SAFE, [R("cat x", "x", "x")]),
    (["bash", "-lc", "ls | \\\nwc -l"], SAFE, [L("ls")]),
    (["bash", "-lc", "cat \"x\""], SAFE, [R("cat x", "x", "x")]),
    (["bash", "-lc", "cd 'a b' && cat x"], SAFE, [R("cat x", "x", "a b/x")]),
    (["bash", "-lc", "grep -r \"a\" ."], SAFE, [S("grep -r a .", "a", ".")]),
    (["bash", "-lc", "rg 'foo' src"], SAFE, [S("rg foo src", "foo", "src")]),
    (["/usr/bin/zsh", "-c", "echo hi"], SAFE, [U("echo hi")]),
    (["-bash", "-lc", "ls"], ASK, [U("-bash -lc ls")]),
    (["bash", "-lc", "wc ~ --files %\nhead"], SAFE, [U("wc ~ --files %\nhead")]),
    (["bash", "-lc", "wc \"q\" && python3 +2 a=b -r; cd branch branch"], ASK, [U("python3 +2 'a=b' -r")]),
    (["bash", "-lc", "tr -ba"], ASK, [U("tr -ba")]),
    (["bash", "-lc", "xargs é --"], ASK, [U("xargs é --")]),
    (["bash", "-lc", "wc && which a\\ b"], SAFE, [U("which \"a\\\\ b\"")]),
    (["bash", "-lc", "cd -ba"], SAFE, []),
    (["bash", "-lc", "wc -D *.py"], SAFE, [U("wc -D *.py")]),
    (["bash", "-lc", "rg --files -n3 a=b | sed *.py | true"], ASK, [S("rg --files -n3 'a=b'", None, "a=b")]),
    (["bash", "-lc", "tail ~ -r || ls 3 x^ -s"], SAFE, [U("tail '~' -r"), L("ls 3 x'^' -s", "3")]),
    (["bash", "-lc", "cat a=b; head ~ *.py"], SAFE, [R("cat 'a=b'", "a=b", "a=b"), U("head '~' '*.py'")]),
    (["bash", "-lc", "uniq +2 && find"], ASK, [S("find", None, None)]),
    (["bash", "-lc", "grep *.py .. | uniq || pwd dist/"], ASK, [S("grep '*.py' ..", "*.py", ".."), U("pwd dist/")]),
    (["bash", "-lc", "rg a\\ b status 1,5p | pwd"], SAFE, [
        S("rg \"a\\\\ b\" status '1,5p'", "a\\ b", "status"),
        U("pwd"),
    ]),
    (["bash", "-lc", "find"], SAFE, [S("find", None, None)]),
    (["bash", "-lc", "cut --"], ASK, [U("cut --")]),
    (["bash", "-lc", "uniq src/a.py --files --files || find *.py status || find -name 'a b' ~"], ASK, [
        S("find '*.py' status", None, "*.py"),
        S("find -name 'a b' '~'", "a b", "a b"),
    ]),
    (["bash", "-lc", "tail -e -r || nl -s y é"], SAFE, [U("tail -e -r"), R("nl -s y 'é'", "é", "é")]),
    (["bash", "-lc", "base64 y ^x || tr x^; rg branch ^x"], ASK, [
        U("base64 y '^x'"),
        S("rg branch '^x'", "branch", "^x"),
    ]),
    (["bash", "-lc", "uniq a=b foo || pwd src x"], ASK, [U("pwd src x")]),
    (["bash", "-lc", "sed src/a.py | uniq +2 x^"], ASK, [U("sed src/a.py | uniq +2 x^")]),
    (["bash", "-lc", "sort +2 && nl 1,5p ^x"], ASK, [R("nl '1,5p' '^x'", "1,5p", "1,5p")]),
    (["bash", "-lc", "cut y é && true 1,5p"], ASK, [U("true '1,5p'")]),
    (["bash", "-lc", "uniq x^ --files -c"], ASK, [U("uniq x^ --files -c")]),
    (["bash", "-lc", "tail . /etc/x src | cd y a\\ b || base64"], ASK, [U("tail . /etc/x src"), U("base64")]),
    (["bash", "-lc", "find src | base64"], ASK, [S("find src", None, "src"), U("base64")]),
    (["bash", "-lc", "tail a=b -s | grep -c \"q\" 3"], SAFE, [U("tail 'a=b' -s"), S("grep -c q 3", "q", "3")]),
    (["bash", "-lc", "which -D a=b --files; uniq é -la"], ASK, [U("which -D 'a=b' --files")]),
    (["ls", "a=b", "--", "it"], SAFE, [L("ls 'a=b' -- it", "a=b")]),
    (["git", "..", ";", "echo", ".."], ASK, [U("git .."), U("echo ..")]),
    (["which", "x^", "foo", "src"], SAFE, [U("which x'^' foo src")]),
    (["awk", "a=b", "-e", "-name"], ASK, [U("awk 'a=b' -e -name")]),
    (["python3", "node_modules", "a\\ b"], ASK, [U("python3 node_modules \"a\\\\ b\"")]),
    (["which", "a=b", "c d", "-name"], SAFE, [U("which 'a=b' 'c d' -name")]),
    (["bash", "-lc", "echo \\ x"], SAFE, [U("echo x")]),
]


@pytest.mark.parametrize(("argv", "safe", "parsed"), TABLE_058, ids=[json.dumps(row[0]) for row in TABLE_058])
def test_matches_058(argv: list[str], safe: bool, parsed: list[dict[str, Any]]) -> None:
    assert is_known_safe_command(argv) is safe
    assert parse_command(argv) == parsed


def test_table_covers_both_answers_and_every_summary_type() -> None:
    assert len(TABLE_058) >= 60
    assert {safe for _, safe, _ in TABLE_058} == {SAFE, ASK}
    kinds = {summary["type"] for _, _, parsed in TABLE_058 for summary in parsed}
    assert kinds == {"read", "list_files", "search", "unknown"}


@pytest.mark.parametrize(("token", "quoted"), [
    ("plain-word_1.2/x:y@z+]", "plain-word_1.2/x:y@z+]"), ("", "''"), ("a b", "'a b'"), ("a=b", "'a=b'"),
    ("a,b", "'a,b'"), ("a%b", "'a%b'"), ("a^b", "a'^b'"), ("^a", "'^a'"), ("it's", "\"it's\""),
    ("a\\b", '"a\\\\b"'), ("a$b'c", "'a$b'\"'c\""), ("'\"", "\"'\\\"\""), ("é", "'é'"), ("a!b'c", "'a!b'\"'c\""),
])
def test_shell_quote_follows_rust_shlex(token: str, quoted: str) -> None:
    assert shell_quote(token) == quoted
    assert shlex_split(quoted) == [token]


def test_shell_join_refuses_nul() -> None:
    assert shell_join(["echo", "a\x00b"]) == NUL_PLACEHOLDER
    assert shell_join([]) == ""


def test_shlex_split() -> None:
    assert shlex_split("a 'b c' \"d\\\"e\" f\\ g # tail") == ["a", "b c", 'd"e', "f g"]
    assert shlex_split("ls\\\n-la") == ["ls-la"]
    assert shlex_split("ls;") == ["ls;"]
    for bad in ("'open", '"open', "trailing\\"):
        assert shlex_split(bad) is None, bad


def test_split_plain_script() -> None:
    assert split_plain_script("ls -1") == [["ls", "-1"]]
    assert split_plain_script("ls && pwd; echo 'hi there' | wc -l") == [
        ["ls"], ["pwd"], ["echo", "hi there"], ["wc", "-l"]]
    assert split_plain_script('echo "hello world" 123') == [["echo", "hello world", "123"]]
    assert split_plain_script("ls\npwd\n") == [["ls"], ["pwd"]]
    assert split_plain_script("ls &&\n pwd") == [["ls"], ["pwd"]]
    assert split_plain_script("cat a\\ b") == [["cat", "a\\ b"]]  # escapes stay as written
    assert split_plain_script("") == []
    for bad in ("(ls)", "ls || (pwd && echo hi)", "ls > x", "cat < x", "ls |& wc", "echo ${X}", "ls; ; pwd",
                "echo a'b'", 'echo ""', "echo {a,b}", "ls [ab]", "ls # c", "FOO=1 ls", "! ls", "'ls'", "ls &",
                "ls &&", ";ls", "if true; then ls; fi", "echo \"$(pwd)\"", "echo `pwd`", "echo a\\"):
        assert split_plain_script(bad) is None, bad


def _measure_058(commands: list[list[str]], work: Path) -> list[tuple[bool, Any]]:
    from pytest_codex_app_server import AppServerClient

    from codex_mock_model import MockModel

    model = MockModel().start()
    home = Path(tempfile.mkdtemp(prefix="home", dir=work))
    cwd = work / "cwd"
    cwd.mkdir()
    (home / "config.toml").write_text(
        f'model = "mock-model"\nmodel_provider = "mock"\n\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{model.base_url}"\nwire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n'
    )
    steps: list[dict[str, Any]] = [
        {"type": "shell", "command": argv, "call_id": f"c{i}", "timeout_ms": 3000} for i, argv in enumerate(commands)
    ]
    model.enqueue(*steps, {"type": "text", "text": "done"})
    client = AppServerClient([str(REFERENCE), "app-server"], home, cwd=cwd)
    asked: dict[str, Any] = {}
    begun: dict[str, Any] = {}
    try:
        client.initialize()
        conversation = client.new_conversation(cwd=str(cwd), approvalPolicy="untrusted", sandbox="danger-full-access")

        def deny(request: Any) -> str:
            asked[request.params["callId"]] = request.params["parsedCmd"]
            return "denied"

        turn = conversation.send("go").wait(approve=deny, timeout=60)
        for msg in turn.of("exec_command_begin"):
            begun[msg["call_id"]] = msg["parsed_cmd"]
    finally:
        client.close()
        model.stop()
    return [(f"c{i}" not in asked, asked.get(f"c{i}", begun.get(f"c{i}"))) for i in range(len(commands))]


@pytest.mark.skipif(not REFERENCE.exists(), reason="the codex 0.58.0 reference binary is not installed here")
def test_table_rows_still_match_the_reference_binary(tmp_path: Path) -> None:
    # A sample keeps this quick; the whole table was measured the same way.
    sample = TABLE_058[::6]
    started = time.monotonic()
    measured = _measure_058([argv for argv, _, _ in sample], tmp_path)
    assert measured == [(safe, parsed) for _, safe, parsed in sample], time.monotonic() - started
