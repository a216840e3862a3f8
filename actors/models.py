"""The model presets 0.58 offers through `model/list`, and its paging rules."""

from __future__ import annotations

import re
from typing import Any

from messages.jsonrpc import invalid_request

_FAST = "Fastest responses with limited reasoning"
_DYNAMIC = "Dynamically adjusts reasoning based on the task"
_DEEP = "Maximizes reasoning depth for complex or ambiguous problems"


def _preset(name: str, description: str, efforts: list[tuple[str, str]], is_default: bool) -> dict[str, Any]:
    return {
        "id": name,
        "model": name,
        "displayName": name,
        "description": description,
        "supportedReasoningEfforts": [{"reasoningEffort": e, "description": d} for e, d in efforts],
        "defaultReasoningEffort": "medium",
        "isDefault": is_default,
    }


PRESETS: tuple[dict[str, Any], ...] = (
    _preset("gpt-5.1-codex", "Optimized for codex.", [("low", _FAST), ("medium", _DYNAMIC), ("high", _DEEP)], True),
    _preset(
        "gpt-5.1-codex-mini",
        "Optimized for codex. Cheaper, faster, but less capable.",
        [("medium", _DYNAMIC), ("high", _DEEP)],
        False,
    ),
    _preset(
        "gpt-5.1",
        "Broad world knowledge with strong general reasoning.",
        [
            ("low", "Balances speed with some reasoning; useful for straightforward queries and short explanations"),
            ("medium", "Provides a solid balance of reasoning depth and latency for general-purpose tasks"),
            ("high", _DEEP),
        ],
        False,
    ),
)

# Rust's usize parser: an optional '+', then ASCII digits only.
_USIZE = re.compile(r"\+?[0-9]+")


def list_models(limit: int | None, cursor: str | None) -> dict[str, Any]:
    total = len(PRESETS)
    start = 0
    if cursor is not None:
        if not _USIZE.fullmatch(cursor) or int(cursor) >= 2**64:
            raise invalid_request(f"invalid cursor: {cursor}")
        start = int(cursor)
        if start > total:
            raise invalid_request(f"cursor {start} exceeds total models {total}")
    size = min(max(limit if limit is not None else total, 1), total)
    end = min(start + size, total)
    return {"data": list(PRESETS[start:end]), "nextCursor": str(end) if end < total else None}
