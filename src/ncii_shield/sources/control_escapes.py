"""Telegram Desktop's invalid `\\xNN` escapes repaired into JSON, as a byte stream any JSON reader can take.

Apart from the export reader because the demo's HTML writer and the benchmarks read result.json too.
"""

from __future__ import annotations

import re
from typing import BinaryIO, Final

READ_CHUNK: Final = 64 * 1024


class ControlEscapeFilter:
    """A read-only byte stream that turns Telegram's invalid `\\xNN` escapes into JSON's `\\u00NN`.

    Telegram Desktop writes control characters as `\\xNN`, which no JSON parser accepts. Only a
    backslash that starts an escape counts: in `\\\\x41` the backslash is itself escaped and the bytes
    stay as they are. The one piece of state carried from chunk to chunk is whether the previous chunk
    ended in an odd run of backslashes, so an escape split across two reads is rewritten too.
    """

    _BACKSLASHES_THEN_X: Final = re.compile(rb"\\+x")

    def __init__(self, raw: BinaryIO, chunk_size: int = READ_CHUNK) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._escape_open = False
        self._pending = b""
        self._eof = False
        self.bytes_read = 0
        """Raw bytes consumed from the underlying file so far: locates a parse error."""

    def read(self, size: int = -1) -> bytes:
        """Return up to `size` filtered bytes (all that is left if `size` < 0); b"" at the end."""
        if size == 0:
            return b""
        while not self._eof and (size < 0 or len(self._pending) < size):
            chunk = self._raw.read(self._chunk_size)
            if not chunk:
                self._eof = True
                break
            self.bytes_read += len(chunk)
            self._pending += self._rewrite(chunk)
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _rewrite(self, chunk: bytes) -> bytes:
        # A backslash left open by the previous chunk is replayed in front so runs are counted whole.
        carried = self._escape_open
        text = b"\\" + chunk if carried else chunk
        if b"\\x" in text:
            text = self._BACKSLASHES_THEN_X.sub(_rewrite_escape, text)
        trailing = len(text) - len(text.rstrip(b"\\"))
        self._escape_open = trailing % 2 == 1
        return text[1:] if carried else text


def _rewrite_escape(match: re.Match[bytes]) -> bytes:
    """`\\x` after an odd run of backslashes is an escape; after an even run the x is plain text."""
    run = match.group()
    backslashes = len(run) - 1
    return run[:-1] + b"u00" if backslashes % 2 == 1 else run
