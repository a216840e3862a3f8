"""Feedback bundles: written under CODEX_HOME/feedback/ (0600) and posted only where config says."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POST_TIMEOUT_S = 30


def write_bundle(codex_home: Path, thread_id: str, classification: str, reason: str | None,
                 log_lines: list[str] | None, rollout: Path | None) -> Path:
    directory = codex_home / "feedback"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    bundle: dict[str, Any] = {
        "threadId": thread_id,
        "classification": classification,
        "reason": reason,
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "logs": log_lines,
        "rollout": None,
    }
    if rollout is not None:
        try:
            bundle["rollout"] = {"path": str(rollout), "content": rollout.read_text(encoding="utf-8", errors="replace")}
        except OSError as error:
            bundle["rollout"] = {"path": str(rollout), "error": str(error)}
    path = directory / f"feedback-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.json"
    # Written aside and renamed, so a reader never sees half a bundle.
    temp = directory / f".{path.name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(bundle, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    return path


def post_bundle(url: str, path: Path) -> None:
    import requests

    with open(path, "rb") as handle:
        response = requests.post(url, data=handle, headers={"Content-Type": "application/json"},
                                 timeout=POST_TIMEOUT_S)
    response.raise_for_status()
