"""apply_patch: the grammar, 0.58's error texts, FileChange dicts for approval, and all-or-nothing application."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.apply_patch import (
    IMPLICIT_INVOCATION,
    PatchError,
    PatchParseError,
    apply_action,
    apply_patch_text,
    parse_invocation,
    parse_patch,
    unified_diff,
    verification_failed,
    verify_invocation,
    verify_patch,
)


def wrap(body: str) -> str:
    return f"*** Begin Patch\n{body}\n*** End Patch\n"


def test_parse_all_hunk_kinds() -> None:
    hunks, text = parse_patch(wrap(
        "*** Add File: path/add.py\n+abc\n+def\n*** Delete File: path/delete.py\n"
        "*** Update File: path/update.py\n*** Move to: path/update2.py\n@@ def f():\n-    pass\n+    return 123"))
    assert [(h.kind, h.path) for h in hunks] == [("add", "path/add.py"), ("delete", "path/delete.py"),
                                                  ("update", "path/update.py")]
    assert hunks[0].contents == "abc\ndef\n"
    assert hunks[2].move_path == "path/update2.py"
    chunk = hunks[2].chunks[0]
    assert (chunk.change_context, chunk.old_lines, chunk.new_lines) == ("def f():", ["    pass"], ["    return 123"])
    assert text.startswith("*** Begin Patch\n") and text.endswith("*** End Patch")


@pytest.mark.parametrize(("patch", "text"), [
    ("bad", "invalid patch: The first line of the patch must be '*** Begin Patch'"),
    ("*** Begin Patch\nbad", "invalid patch: The last line of the patch must be '*** End Patch'"),
    ("*** Begin Patch\n*** Update File: test.py\n*** End Patch",
     "invalid hunk at line 2, Update file hunk for path 'test.py' is empty"),
    ("*** Begin Patch\n*** Frobnicate File: x\n*** End Patch",
     "invalid hunk at line 2, '*** Frobnicate File: x' is not a valid hunk header. Valid hunk headers: "
     "'*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'"),
    ("*** Begin Patch\n*** Update File: a\n@@\nzzz\n*** End Patch",
     "invalid hunk at line 4, Unexpected line found in update hunk: 'zzz'. Every line should start with ' ' "
     "(context line), '+' (added line), or '-' (removed line)"),
])
def test_parse_errors_have_058_texts(patch: str, text: str) -> None:
    with pytest.raises(PatchParseError) as info:
        parse_patch(patch)
    assert str(info.value) == text


def test_lenient_markers_and_heredoc_argument() -> None:
    hunks, _ = parse_patch("  *** Begin Patch \n*** Add File: foo\n+hi\n *** End Patch")
    assert hunks[0].contents == "hi\n"
    hunks, text = parse_patch("<<'EOF'\n*** Begin Patch\n*** Add File: foo\n+hi\n*** End Patch\nEOF\n")
    assert hunks[0].path == "foo" and text == "*** Begin Patch\n*** Add File: foo\n+hi\n*** End Patch"


def test_first_chunk_may_omit_the_context_marker() -> None:
    hunks, _ = parse_patch("*** Begin Patch\n*** Update File: f.py\n import foo\n+bar\n*** End Patch")
    assert hunks[0].chunks[0].old_lines == ["import foo"]
    assert hunks[0].chunks[0].new_lines == ["import foo", "bar"]


@pytest.mark.parametrize("argv", [
    ["apply_patch", wrap("*** Add File: foo\n+hi")],
    ["applypatch", wrap("*** Add File: foo\n+hi")],
    ["bash", "-lc", "apply_patch <<'PATCH'\n" + wrap("*** Add File: foo\n+hi") + "PATCH"],
    ["/bin/bash", "-c", "applypatch <<EOF\n" + wrap("*** Add File: foo\n+hi") + "EOF\n"],
])
def test_invocation_forms(argv: list[str]) -> None:
    parsed = parse_invocation(argv)
    assert parsed is not None
    hunks, _, workdir = parsed
    assert [(h.kind, h.path, h.contents) for h in hunks] == [("add", "foo", "hi\n")]
    assert workdir is None


def test_cd_prefix_sets_workdir_and_other_scripts_are_not_patches() -> None:
    body = wrap("*** Add File: foo\n+hi") + "PATCH"
    assert parse_invocation(["bash", "-lc", "cd 'foo bar' && apply_patch <<'PATCH'\n" + body])[2] == "foo bar"
    assert parse_invocation(["bash", "-lc", "cd sub && apply_patch <<'PATCH'\n" + body])[2] == "sub"
    for prefix in ("cd foo; ", "cd foo || ", "echo x && ", "cd a b && "):
        assert parse_invocation(["bash", "-lc", prefix + "apply_patch <<'PATCH'\n" + body]) is None
    assert parse_invocation(["bash", "-lc", "apply_patch <<'PATCH'\n" + body + "\necho done"]) is None
    assert parse_invocation(["ls", "-la"]) is None


def test_implicit_invocation_is_an_error(tmp_path: Path) -> None:
    patch = wrap("*** Add File: foo\n+hi")
    for argv in ([patch], ["bash", "-lc", patch]):
        with pytest.raises(PatchError) as info:
            verify_invocation(argv, str(tmp_path))
        assert str(info.value) == IMPLICIT_INVOCATION
    assert verify_invocation(["echo", "hi"], str(tmp_path)) is None


def test_verify_gives_file_changes_with_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\nworld\n")
    (tmp_path / "gone.txt").write_text("bye\n")
    action = verify_invocation(["apply_patch", wrap(
        "*** Update File: hello.txt\n*** Move to: moved.txt\n@@\n hello\n-world\n+there\n"
        "*** Add File: new.txt\n+brand new\n*** Delete File: gone.txt")], str(tmp_path))
    assert action is not None
    assert action.changes == {
        f"{tmp_path}/hello.txt": {"update": {"unified_diff": "@@ -1,2 +1,2 @@\n hello\n-world\n+there\n",
                                             "move_path": f"{tmp_path}/moved.txt"}},
        f"{tmp_path}/new.txt": {"add": {"content": "brand new\n"}},
        f"{tmp_path}/gone.txt": {"delete": {"content": "bye\n"}},
    }
    assert (tmp_path / "hello.txt").read_text() == "hello\nworld\n"  # verification changes nothing


def test_verify_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    with pytest.raises(PatchError) as info:
        verify_patch(wrap("*** Update File: a.txt\n@@\n-three\n+four"), str(tmp_path))
    assert verification_failed(info.value) == (
        f"apply_patch verification failed: Failed to find expected lines in {tmp_path}/a.txt:\nthree")
    with pytest.raises(PatchError) as info:
        verify_patch(wrap("*** Update File: missing.txt\n@@\n-a\n+b"), str(tmp_path))
    assert str(info.value) == (f"Failed to read file to update {tmp_path}/missing.txt: No such file or directory "
                               "(os error 2)")
    with pytest.raises(PatchError) as info:
        verify_patch(wrap("*** Delete File: nope.txt"), str(tmp_path))
    assert str(info.value) == f"Failed to read {tmp_path}/nope.txt: No such file or directory (os error 2)"
    with pytest.raises(PatchError) as info:
        verify_patch(wrap("*** Update File: a.txt\n@@ class Missing\n-one\n+1"), str(tmp_path))
    assert str(info.value) == f"Failed to find context 'class Missing' in {tmp_path}/a.txt"


def test_apply_add_delete_update_move(tmp_path: Path) -> None:
    (tmp_path / "modify.txt").write_text("line1\nline2\nline3\n")
    (tmp_path / "delete.txt").write_text("x\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "name.txt").write_text("from\n")
    result = apply_patch_text(wrap(
        "*** Add File: nested/new.txt\n+created\n*** Delete File: delete.txt\n"
        "*** Update File: modify.txt\n@@\n line1\n-line2\n+changed\n"
        "*** Update File: old/name.txt\n*** Move to: renamed/dir/name.txt\n@@\n-from\n+to"), str(tmp_path))
    assert result.success, result.stderr
    assert result.stdout == ("Success. Updated the following files:\nA nested/new.txt\nM modify.txt\n"
                             "M renamed/dir/name.txt\nD delete.txt\n")
    assert (tmp_path / "nested" / "new.txt").read_text() == "created\n"
    assert not (tmp_path / "delete.txt").exists()
    assert (tmp_path / "modify.txt").read_text() == "line1\nchanged\nline3\n"
    assert not (tmp_path / "old" / "name.txt").exists()
    assert (tmp_path / "renamed" / "dir" / "name.txt").read_text() == "to\n"


def test_failure_leaves_every_file_untouched(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("keep\n")
    result = apply_patch_text(wrap(
        "*** Add File: created.txt\n+hello\n*** Update File: a.txt\n@@\n-keep\n+changed\n"
        "*** Update File: a.txt\n@@\n-not there\n+x"), str(tmp_path))
    assert not result.success
    assert result.stderr == "Failed to find expected lines in a.txt:\nnot there\n"
    assert not (tmp_path / "created.txt").exists()
    assert (tmp_path / "a.txt").read_text() == "keep\n"


def test_write_failure_rolls_back_earlier_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "blocker").write_text("a file where a directory is needed\n")
    result = apply_patch_text(wrap("*** Update File: a.txt\n@@\n-one\n+two\n*** Add File: blocker/x.txt\n+x"),
                              str(tmp_path))
    assert not result.success
    assert "Failed to create parent directories" in result.stderr
    assert (tmp_path / "a.txt").read_text() == "one\n"


def test_parse_error_and_empty_patch_texts(tmp_path: Path) -> None:
    assert apply_patch_text("nonsense", str(tmp_path)).stderr == (
        "Invalid patch: The first line of the patch must be '*** Begin Patch'\n")
    assert apply_patch_text("*** Begin Patch\n*** End Patch", str(tmp_path)).stderr == "No files were modified.\n"


def test_matching_is_lenient_about_whitespace_and_punctuation(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("  indented   \nsay \u201chi\u201d \u2014 ok\nend\n")
    result = apply_patch_text(wrap("*** Update File: f.txt\n@@\n-indented\n+fixed\n-say \"hi\" - ok\n+said"),
                              str(tmp_path))
    assert result.success, result.stderr
    assert (tmp_path / "f.txt").read_text() == "fixed\nsaid\nend\n"


def test_end_of_file_anchor_and_pure_addition(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("x\ny\nx\ny")
    result = apply_patch_text(wrap("*** Update File: t.txt\n@@\n x\n-y\n+z\n*** End of File"), str(tmp_path))
    assert result.success, result.stderr
    assert (tmp_path / "t.txt").read_text() == "x\ny\nx\nz\n"
    result = apply_patch_text(wrap("*** Update File: t.txt\n@@\n+appended"), str(tmp_path))
    assert (tmp_path / "t.txt").read_text() == "x\ny\nx\nz\nappended\n"


def test_apply_action_after_verification_and_mode_kept(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo a\n")
    os.chmod(script, 0o755)
    action = verify_patch(wrap("*** Update File: run.sh\n@@\n-echo a\n+echo b"), str(tmp_path))
    result = apply_action(action)
    assert result.success and result.modified == ["run.sh"]
    assert script.read_text() == "echo b\n"
    assert os.stat(script).st_mode & 0o777 == 0o755


def test_unified_diff_marks_missing_final_newline() -> None:
    assert unified_diff("a\nb", "a\nc\n") == "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
    assert unified_diff("same\n", "same\n") == ""
    assert unified_diff("", "new\n") == "@@ -0,0 +1 @@\n+new\n"
