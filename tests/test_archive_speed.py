"""The archive's fast paths give the listing the plain walk gives: uuid parsing without error texts,
the one-loop day skip and the per-walk month memo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from actors import rollout_store as rs
from actors.rollout_index import WALK_MEMO_SECONDS, RolloutIndex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import archive as bench_archive  # noqa: E402

UUIDS = [
    "019a0000-0000-7000-8000-000000000001", "019A0000-0000-7000-8000-00000000000F", "019a000000007000800000000000000f",
    "{019a0000-0000-7000-8000-000000000001}", "urn:uuid:019a0000-0000-7000-8000-000000000001", "", "-", "0" * 31,
    "019a0000-0000-7000-8000-00000000000g", "019a0000-0000-7000-8000-0000000000001",
    "019a0000-00007000-8000-000000000001",
    "{019a0000-0000-7000-8000-000000000001", "urn:uuid:019a0000000070008000000000000001", "019a0000_0000_7000_8000_00",
    "٠١٢٣٤٥٦٧-0000-7000-8000-000000000001", "000000000001", "8000-000000000001",
]  # fmt: skip


@pytest.mark.parametrize("text", UUIDS)
def test_uuid_or_none_accepts_exactly_what_parse_uuid_accepts(text: str) -> None:
    try:
        expected: str | None = rs.parse_uuid(text)
    except rs.UuidError:
        expected = None
    assert rs.uuid_or_none(text) == expected


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 1,300 rollouts, 40 a day: 33 day directories over two months.
    return bench_archive.build_home(tmp_path_factory.mktemp("homes"), 1300)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _walk(source: Any, root: str, merge: Any = None) -> list[str]:
    providers = rs.ProviderFilter.from_params(None, "openai")
    paths: list[str] = []
    cursor = None
    while True:
        page = rs.list_page(source() if callable(source) else source, root, 25, cursor, providers)
        if merge is not None:
            merge(page)
        paths += [kept.path for kept in page.kept]
        token = page.next_cursor()
        if token is None:
            return paths
        cursor = rs.parse_cursor(token)


def test_indexed_walk_with_month_memo_lists_what_the_plain_walk_lists(history: Path) -> None:
    root = os.path.join(os.path.realpath(history), "sessions")
    plain = _walk(rs.DirectSource(), root)
    assert len(plain) == 1300
    index = RolloutIndex(os.path.realpath(history), clock=Clock())
    views: list[Any] = []

    def view() -> Any:
        views.append(index.view())
        return views[-1]

    def merge(_page: Any) -> None:
        index.merge(views[-1].updates)

    assert _walk(view, root, merge) == plain
    assert index.cleared  # later pages passed over whole months
    assert _walk(view, root, merge) == plain  # again, warm


def test_month_memo_expires(history: Path, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(history, home)
    root = os.path.join(home, "sessions")
    clock = Clock()
    index = RolloutIndex(str(home), clock=clock)
    providers = rs.ProviderFilter.from_params(None, "openai")

    def page(cursor: Any) -> rs.Page:
        view = index.view()
        result = rs.list_page(view, root, 25, cursor, providers)
        index.merge(view.updates)
        return result

    # Walk until a page passes over a whole month (the cursor is in the older one).
    cursor = None
    while not index.cleared:
        token = page(cursor).next_cursor()
        assert token is not None
        cursor = rs.parse_cursor(token)
    assert cursor is not None
    newest_month = sorted(index.cleared)[-1]
    # A file with an older name than the cursor shows up in a day of that month …
    day = sorted(os.listdir(newest_month))[-1]
    source_file = next(Path(root).rglob("rollout-*.jsonl"))
    old_name = "rollout-2001-01-01T00-00-00-019a0000-0000-7000-8000-000000000999.jsonl"
    shutil.copy(source_file, os.path.join(newest_month, day, old_name))
    # … and, once the memo has expired, the next page finds it as the plain walk does.
    clock.now += WALK_MEMO_SECONDS + 1
    expected = rs.list_page(rs.DirectSource(), root, 25, cursor, providers)
    assert [k.path for k in page(cursor).kept] == [k.path for k in expected.kept]
    assert any(k.path.endswith(old_name) for k in expected.kept)
