"""Media paths inside an export are hostile until proven otherwise."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


def safe_relative_path(raw: str) -> str | None:
    """Return `raw` as a clean relative POSIX path, or None if it could escape the source root.

    Refuses absolute paths (POSIX or Windows, drive letters, UNC), any `..` component, NUL bytes and
    empty paths. Backslashes are treated as separators, since exports made on Windows use them.
    """
    if not raw or "\x00" in raw:
        return None
    text = raw.replace("\\", "/")
    if text.startswith("/") or PureWindowsPath(raw).drive or PureWindowsPath(raw).root:
        return None
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    clean = "/".join(parts)
    # Dropping "./" can expose a drive: "./C:x" is relative, "C:x" is not (on Windows, root / "C:x" is "C:x").
    return None if PureWindowsPath(clean).drive else clean


def resolve_inside(root: Path, relative: str) -> Path | None:
    """Join `relative` to `root` and return it only if the real path stays inside the real root.

    Catches symlinks that point outside the export as well as `..` that slipped through.
    """
    clean = safe_relative_path(relative)
    if clean is None:
        return None
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root / clean))
    if candidate != real_root and real_root not in candidate.parents:
        return None
    return candidate
