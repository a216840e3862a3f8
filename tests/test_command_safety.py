"""Known-safe commands (no approval under `untrusted`) and `parsedCmd` summaries."""

from __future__ import annotations

import pytest

from actors.command_safety import is_known_safe_command, parse_command, shell_join, split_plain_script


@pytest.mark.parametrize("argv", [
    ["ls"], ["ls", "-la"], ["/bin/cat", "README.md"], ["git", "status"], ["git", "-C", ".", "log", "-n", "1"],
    ["git", "branch"], ["git", "branch", "--show-current"], ["sed", "-n", "1,5p", "file.txt"],
    ["find", ".", "-name", "*.py"], ["rg", "foo", "-n"], ["base64"], ["nl", "-ba", "x"],
    ["bash", "-lc", "ls && pwd; echo 'hi there' | wc -l"], ["zsh", "-lc", "ls"], ["bash", "-c", "grep -n foo *.py"],
])
def test_known_safe(argv: list[str]) -> None:
    assert is_known_safe_command(argv)


@pytest.mark.parametrize("argv", [
    ["python3", "-c", "print(42)"], ["rm", "-rf", "x"], ["cargo", "check"], ["git", "fetch"],
    ["git", "checkout", "status"], ["git", "branch", "-d", "feature"], ["git", "branch", "new-branch"],
    ["git", "-c", "core.pager=cat", "log"], ["git", "-ccore.pager=cat", "status"], ["git", "log", "--output=/tmp/x"],
    ["git", "diff", "--ext-diff"], ["find", ".", "-delete"], ["find", ".", "-exec", "rm", "{}", ";"],
    ["rg", "--pre", "pwned", "x"], ["rg", "--pre=pwned", "x"], ["rg", "-z", "x"], ["base64", "-o", "out"],
    ["base64", "-oout"], ["base64", "--output=x"], ["sed", "-n", "xp", "f"], ["sed", "-i", "s/a/b/", "f"],
    ["bash", "-lc", "ls > out.txt"], ["bash", "-lc", "ls && rm -rf x"], ["bash", "-lc", "(ls)"],
    ["bash", "-lc", "echo $HOME"], ["bash", "-lc", "echo \"$(rm x)\""], ["bash", "-lc", "ls &"],
    ["bash", "-lc", "FOO=1 ls"], ["bash", "-lc", "ls `rm x`"], ["bash", "-lc", "ls &&"], ["bash", "-lc", ""],
    ["apply_patch", "*** Begin Patch\n*** End Patch"],
])
def test_not_known_safe(argv: list[str]) -> None:
    assert not is_known_safe_command(argv)


def test_split_plain_script() -> None:
    assert split_plain_script("ls -1") == [["ls", "-1"]]
    assert split_plain_script("ls && pwd; echo 'hi there' | wc -l") == [["ls"], ["pwd"], ["echo", "hi there"],
                                                                          ["wc", "-l"]]
    assert split_plain_script('echo "hello world" 123') == [["echo", "hello world", "123"]]
    assert split_plain_script("ls\npwd") == [["ls"], ["pwd"]]
    for bad in ("(ls)", "ls || (pwd && echo hi)", "ls > x", "cat < x", "ls | & wc", "echo ${X}", "ls; ; pwd"):
        assert split_plain_script(bad) is None, bad


def test_shell_join_quotes_like_058() -> None:
    assert shell_join(["python3", "-c", "print(42)"]) == "python3 -c 'print(42)'"
    assert shell_join(["echo", ""]) == "echo ''"
    assert shell_join(["echo", "it's"]) == 'echo "it\'s"'


def test_parse_command_variants() -> None:
    assert parse_command(["python3", "-c", "print(42)"]) == [{"type": "unknown", "cmd": "python3 -c 'print(42)'"}]
    assert parse_command(["cat", "src/main.rs"]) == [
        {"type": "read", "cmd": "cat src/main.rs", "name": "main.rs", "path": "src/main.rs"}]
    assert parse_command(["bash", "-lc", "sed -n 1,20p README.md"]) == [
        {"type": "read", "cmd": "sed -n 1,20p README.md", "name": "README.md", "path": "README.md"}]
    assert parse_command(["ls", "-la", "docs"]) == [{"type": "list_files", "cmd": "ls -la docs", "path": "docs"}]
    assert parse_command(["rg", "--files"]) == [{"type": "list_files", "cmd": "rg --files", "path": None}]
    assert parse_command(["rg", "-n", "TODO", "webview/src"]) == [
        {"type": "search", "cmd": "rg -n TODO webview/src", "query": "TODO", "path": "webview"}]
    assert parse_command(["grep", "-R", "foo", "."]) == [
        {"type": "search", "cmd": "grep -R foo .", "query": "foo", "path": "."}]
    assert parse_command(["find", ".", "-name", "*.rs"]) == [
        {"type": "search", "cmd": "find . -name '*.rs'", "query": "*.rs", "path": "."}]


def test_parse_command_scripts_simplify() -> None:
    assert parse_command(["bash", "-lc", "cd foo && cat a.txt | head -n 5"]) == [
        {"type": "read", "cmd": "cat a.txt", "name": "a.txt", "path": "a.txt"}]
    assert parse_command(["bash", "-lc", "rg -n foo || true"]) == [
        {"type": "search", "cmd": "rg -n foo", "query": "foo", "path": None}]
    assert parse_command(["bash", "-lc", "echo hi > x"]) == [{"type": "unknown", "cmd": "echo hi > x"}]
    assert parse_command(["bash", "-lc", "ls && ls"]) == [{"type": "list_files", "cmd": "ls", "path": None}]
