"""Build small Telegram Desktop exports for tests, with whatever messages a test needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASE_TIME = 1_724_500_000


def message(
    msg_id: int,
    *,
    photo: str | None = None,
    file: str | None = None,
    text: Any = "",
    sender: str = "user1001",
    **extra: Any,
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "id": msg_id,
        "type": "message",
        "date": "2024-08-24T12:00:00",
        "date_unixtime": str(BASE_TIME + msg_id * 60),
        "from": f"Sender {sender}",
        "from_id": sender,
        "text": text,
        "text_entities": [],
    }
    if photo is not None:
        msg["photo"] = photo
    if file is not None:
        msg["file"] = file
    msg.update(extra)
    return msg


def write_export(
    root: Path,
    messages: list[dict[str, Any]],
    *,
    chat_id: int = 777,
    name: str = "Test room",
    files: dict[str, bytes] | None = None,
) -> Path:
    """A single-chat export in `root`; `files` are written relative to it. Returns result.json."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in (files or {}).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    result = root / "result.json"
    result.write_text(
        json.dumps(
            {"name": name, "type": "private_supergroup", "id": chat_id, "messages": messages},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    return result
