"""How the app's HTML writer spells things: escapes, text entities, dates, sizes, durations, preview boxes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Final

Message = Mapping[str, Any]

_SERIALIZED: Final = {"\n": "<br>", '"': "&quot;", "&": "&amp;", "'": "&apos;", "<": "&lt;", ">": "&gt;"}
_SEPARATORS: Final = {"\u2028": "<br>", "\u2029": "<br>"}  # Unicode line and paragraph separators
_ESCAPES: Final = {i: f"&#x{i:02X};" for i in range(32)} | str.maketrans(_SERIALIZED | _SEPARATORS)
# Text entities: links (href prefix; a mention drops its "@"), script links, and plain wrapping tags.
_LINKS: Final = {"link": "", "url": "", "email": "mailto:", "phone": "tel:", "mention": "https://t.me/"}
_ONCLICK: Final = {"hashtag": "ShowHashtag", "cashtag": "ShowCashtag", "bot_command": "ShowBotCommand"}
_WRAPS: Final = {"bold": "strong", "italic": "em", "code": "code", "pre": "pre", "underline": "u"}
_WRAPS_TOO: Final = {"strikethrough": "s", "blockquote": "blockquote"}
_SPOILER: Final = '<span class="spoiler hidden" onclick="ShowSpoiler(this)"><span aria-hidden="true">'


def esc(value: object) -> str:
    """The app's SerializeString: HTML-escaped, newlines as <br>, control characters as &#xNN;."""
    return str(value).translate(_ESCAPES)


def when(msg: Message, tz: tzinfo) -> datetime:
    """The message's instant in the exporting machine's zone; old exports give only the local time."""
    unix = str(msg.get("date_unixtime", ""))
    if unix.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(unix), tz)
    local = datetime.fromisoformat(msg["date"]) if isinstance(msg.get("date"), str) else datetime(1970, 1, 1)
    return local.replace(tzinfo=tz)


def title(when: datetime, with_offset: bool) -> str:
    """dd.MM.yyyy HH:mm:ss, then " UTC+09:00" (old app versions wrote no zone)."""
    offset = when.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset else 0
    zone = f" UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"
    return when.strftime("%d.%m.%Y %H:%M:%S") + (zone if with_offset else "")


def size(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def duration(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    hours, rest = divmod(value, 3600)
    return (f"{hours}:" if hours else "") + f"{rest // 60:02}:{rest % 60:02}"


def dims(msg: Message) -> tuple[int, int] | None:
    w, h = msg.get("width"), msg.get("height")
    return (w, h) if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0 else None


def style(size: tuple[int, int] | None, box: int) -> str:
    """Scaled down (never up) to fit a `box` square, as the app sizes its previews."""
    w, h = size or (box, box)
    scale = min(1.0, box / max(w, h))
    return f"width: {max(1, round(w * scale))}px; height: {max(1, round(h * scale))}px"


def exported(raw: object) -> str | None:
    """The path as written, or None for the "(File not included…)" kind of placeholder."""
    return raw if isinstance(raw, str) and raw and not (raw.startswith("(") and raw.endswith(")")) else None


def text(msg: Message) -> str:
    """The app's FormatText: each part of the message text as its HTML."""
    parts = msg.get("text_entities")
    if not isinstance(parts, list) or not parts:  # as the JSON reader does: text when entities are empty
        text = msg.get("text", "")
        parts = [text] if isinstance(text, str) else text if isinstance(text, list) else []
    out = []
    for part in parts:
        entity = part if isinstance(part, dict) else {"type": "plain", "text": part}
        kind, raw = str(entity.get("type")), str(entity.get("text") or "")
        text, wrap = esc(raw), _WRAPS.get(kind) or _WRAPS_TOO.get(kind)
        if kind == "text_link":
            out.append(f'<a href="{esc(entity.get("href") or "")}">{text}</a>')
        elif kind in _LINKS:
            out.append(f'<a href="{_LINKS[kind]}{text[1:] if kind == "mention" else text}">{text}</a>')
        elif kind in _ONCLICK:  # the tag without its "#", "$" or "/" as a quoted script argument
            argument = esc('"' + raw[1:] + '"')
            out.append(f'<a href="" onclick="return {_ONCLICK[kind]}({argument})">{text}</a>')
        elif kind == "mention_name":
            out.append(f'<a href="" onclick="return ShowMentionName()">{text}</a>')
        elif wrap:
            out.append(f"<{wrap}>{text}</{wrap}>")
        else:
            out.append(f"{_SPOILER}{text}</span></span>" if kind == "spoiler" else text)
    return "".join(out)
