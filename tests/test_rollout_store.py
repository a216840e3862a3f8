"""Rollout file rules (PROTOCOL.md §5.1–5.3, §6.3): names, uuids, cursors, heads, preview, timestamps.
Expected values were observed on the 0.58.0 binary."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from actors.rollout_store import (
    HEAD_RECORD_LIMIT,
    RolloutReadError,
    UuidError,
    format_cursor,
    io_error_text,
    open_binary,
    parse_cursor,
    parse_dir_number,
    parse_rollout_name,
    parse_uuid,
    preview_from_text,
    read_head,
    rfc3339_epoch_seconds,
    user_message_text,
    valid_response_item,
)

ID = "01a20b1c-0008-73b2-ae01-f7dbb2f749aa"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid length: expected length 32 for simple format, found 3"),
        ("", "invalid length: expected length 32 for simple format, found 0"),
        ("a-b", "invalid group count: expected 5, found 2"),
        ("{abc}", "invalid group count: expected 5, found 1"),
        ("-----", "invalid group count: expected 5, found 6"),
        ("00000000-0000-4000-8000-00000000000", "invalid group length in group 4: expected 12, found 11"),
        ("00000000-000-4000-8000-0000000000001", "invalid group length in group 1: expected 4, found 3"),
        ("0000000-0000-4000-8000-0000000000001", "invalid group length in group 0: expected 8, found 7"),
        (
            "é",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `é` at 1",
        ),
        (
            "urn:uuid:xyz",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `x` at 10",
        ),
        (
            "{00000000-0000-4000-8000-00000000000g}",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `g` at 36",
        ),
    ],
)
def test_uuid_errors_are_the_crates(text: str, message: str) -> None:
    with pytest.raises(UuidError) as error:
        parse_uuid(text)
    assert str(error.value) == message


def test_uuid_forms_canonicalise() -> None:
    for form in (ID.upper(), "{" + ID + "}", "urn:uuid:" + ID, ID.replace("-", "")):
        assert parse_uuid(form) == ID


def test_rollout_names() -> None:
    ref = parse_rollout_name(f"rollout-2025-01-12T08-00-02-{ID.upper()}.jsonl")
    assert ref is not None and (ref.ts, ref.uuid) == ((2025, 1, 12, 8, 0, 2), ID)
    assert parse_rollout_name(f"rollout-2025-02-30T08-00-02-{ID}.jsonl") is None  # no such date
    assert parse_rollout_name(f"rollout-2025-01-12T08-00-60-{ID}.jsonl") is None
    assert parse_rollout_name(f"rollout-2025-01-12T08-00-02-{ID}.json") is None
    assert parse_rollout_name(f"session-2025-01-12T08-00-02-{ID}.jsonl") is None
    simple = parse_rollout_name(f"rollout-2025-01-12T08-00-02-{ID.replace('-', '')}.jsonl")
    assert simple is not None and simple.uuid == ID


def test_cursor_round_trip_and_rejects() -> None:
    cursor = parse_cursor(f"2025-01-12T08-00-02|{ID.upper()}")
    assert cursor is not None and cursor.uuid == ID
    ref = parse_rollout_name(f"rollout-2025-01-12T08-00-02-{ID.upper()}.jsonl")
    assert ref is not None and format_cursor(ref) == f"2025-01-12T08-00-02|{ID}"
    for bad in (None, "", "x", "|", f"2025-01-12T08-00-02|{ID}|", f"2025-01-12 08-00-02|{ID}", "2025-01-12T08-00-02|x"):
        assert parse_cursor(bad) is None


def test_directory_numbers_parse_like_rust() -> None:
    assert parse_dir_number("01", 255) == 1
    assert parse_dir_number("+7", 255) == 7
    assert parse_dir_number("256", 255) is None
    assert parse_dir_number(" 1", 255) is None
    assert parse_dir_number("1_0", 255) is None
    assert parse_dir_number("-1", 255) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2025-02-03 01:02:03Z", 1738544523),
        ("2025-02-03t01:02:03z", 1738544523),
        ("2025-12-31T23:59:60Z", 1767225599),
        ("1969-12-31T23:59:59.5Z", -1),
        ("2025-02-03T01:02:03.123456789123Z", 1738544523),
        ("2025-02-03T01:02:03-00:30", 1738546323),
        ("0000-01-01T00:00:00Z", -62167219200),
        ("2024-02-29T00:00:00Z", 1709164800),
        ("2025-02-03T01:02:03+24:00", 0),
        ("2025-02-03T01:02:03+0900", 0),
        ("2025-02-03T01:02Z", 0),
        ("2025-02-29T00:00:00Z", 0),
        ("2025-02-03T01:02:03.Z", 0),
        ("2025-02-03T24:00:00Z", 0),
        (" 2025-02-03T01:02:03Z", 0),
        ("2025-02-03 01:02:03", 0),
        ("", 0),
    ],
)
def test_created_at_parses_rfc3339_as_0_58(text: str, seconds: int) -> None:
    assert rfc3339_epoch_seconds(text) == seconds


def message(*parts: dict) -> dict:
    return {"type": "message", "role": "user", "content": list(parts)}


def text(value: str) -> dict:
    return {"type": "input_text", "text": value}


def test_preview_rule() -> None:
    assert user_message_text(message(text("# AGENTS.md instructions for x"))) is None
    assert user_message_text(message(text("<user_instructions>"))) is None
    assert user_message_text(message(text(" <user_instructions>"))) == " <user_instructions>"
    image = {"type": "input_image", "image_url": "u"}
    assert user_message_text(message(image, text("<user_instructions>"))) == "<user_instructions>"
    assert user_message_text(message(text("a"), text("# AGENTS.md instructions for x"))) == (
        "a# AGENTS.md instructions for x"
    )
    assert user_message_text(message(text("\u00a0<ENVIRONMENT_CONTEXT>"))) is None
    assert user_message_text(message(text("hi"), text("  <USER_SHELL_COMMAND>"))) is None
    output = {"type": "output_text", "text": "<environment_context>"}
    assert user_message_text(message(output, text("x"))) is None
    shell_output = {"type": "output_text", "text": "<user_shell_command>"}
    assert user_message_text(message(shell_output, text("x"))) == "x"
    assert user_message_text(message(image)) == ""
    assert user_message_text({"type": "message", "role": "developer", "content": [text("d")]}) is None
    assert preview_from_text("pre ## My request for Codex:  hello ## My request for Codex: again ") == (
        "hello ## My request for Codex: again"
    )
    assert preview_from_text("  raw  ") == "  raw  "


def test_response_item_validation_follows_the_typed_decoder() -> None:
    assert valid_response_item({"type": "zzz"})  # unknown types decode as Other
    assert not valid_response_item({"type": "message", "content": []})
    assert not valid_response_item({"type": "message", "role": "user", "content": "str"})
    assert not valid_response_item(message({"type": "weird", "text": "a"}))
    assert not valid_response_item({**message(text("x")), "id": 5})
    assert not valid_response_item({"type": "function_call", "name": "x"})
    assert valid_response_item({"type": "function_call", "name": "x", "arguments": "{}", "call_id": "c"})
    assert valid_response_item({"type": "function_call_output", "call_id": "c", "output": "done"})
    assert not valid_response_item({"type": "message"})
    assert not valid_response_item([])


def line(kind: str, payload: dict, ts: object = "2025-01-12T08:00:00.000Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode() + b"\n"


META = {
    "id": ID,
    "timestamp": "2025-01-12T08:00:00.000Z",
    "cwd": "/w",
    "originator": "codex_cli_rs",
    "cli_version": "0.58.0",
    "instructions": None,
    "source": "cli",
}
EVENT = {"type": "user_message", "message": "m", "images": []}


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(data)
    return str(path)


def test_head_window_counts_only_meta_and_items(tmp_path: Path) -> None:
    items = b"".join(line("response_item", message(text(f"u{i}"))) for i in range(HEAD_RECORD_LIMIT - 1))
    late = read_head(write(tmp_path, line("session_meta", META) + items + line("event_msg", EVENT)), open_binary)
    assert (late.count, late.saw_user_event, late.preview) == (HEAD_RECORD_LIMIT, False, "u0")
    early = read_head(write(tmp_path, line("session_meta", META) + line("event_msg", EVENT) + items), open_binary)
    assert early.saw_user_event and early.first_is_meta and early.meta is not None and early.meta.source == "cli"


def test_head_skips_what_0_58_cannot_decode(tmp_path: Path) -> None:
    bad_metas = [
        {**META, "id": "not-a-uuid"},
        {k: v for k, v in META.items() if k != "cwd"},
        {**META, "cwd": 5},
        {**META, "source": 5},
        {**META, "source": {"subagent": "zzz"}},
        {**META, "instructions": 5},
        {**META, "git": {"commit_hash": 5}},
    ]
    for meta in bad_metas:
        head = read_head(write(tmp_path, line("session_meta", meta) + line("event_msg", EVENT)), open_binary)
        assert head.meta is None and head.count == 0, meta
    no_ts = read_head(write(tmp_path, line("session_meta", META, ts=5)), open_binary)
    assert no_ts.count == 0
    weird = read_head(write(tmp_path, line("session_meta", {**META, "source": "weird"})), open_binary)
    assert weird.meta is not None and weird.meta.source == "unknown"
    lone = read_head(
        write(tmp_path, line("session_meta", META) + b'{"timestamp":"t","type":"x","payload":"\\ud800"}\n'), open_binary
    )
    assert lone.count == 1


def test_head_line_handling(tmp_path: Path) -> None:
    body = line("session_meta", META) + line("response_item", message(text("hello"))) + line("event_msg", EVENT)
    assert read_head(write(tmp_path, b"\xc2\xa0\x0b" + body), open_binary).first_is_meta  # Rust trim
    assert not read_head(write(tmp_path, b"\x1c" + body), open_binary).first_is_meta  # not whitespace to Rust
    assert not read_head(write(tmp_path, b"\xef\xbb\xbf" + body), open_binary).first_is_meta
    assert read_head(write(tmp_path, body.replace(b"\n", b"\r\n")), open_binary).preview == "hello"
    assert read_head(write(tmp_path, body + b'{"timestamp":"x","ty'), open_binary).saw_user_event
    with pytest.raises(RolloutReadError) as invalid:
        read_head(write(tmp_path, line("session_meta", META) + b"\xff\n" + body), open_binary)
    assert str(invalid.value) == "stream did not contain valid UTF-8"
    with pytest.raises(RolloutReadError) as directory:
        read_head(str(tmp_path), open_binary)
    assert str(directory.value) == "Is a directory (os error 21)"


def test_io_errors_read_like_rust_on_musl() -> None:
    assert io_error_text(FileNotFoundError(errno.ENOENT, "x")) == "No such file or directory (os error 2)"
    assert io_error_text(OSError(errno.EXDEV, "x")) == "Cross-device link (os error 18)"
