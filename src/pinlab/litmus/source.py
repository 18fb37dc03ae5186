"""Read a litmus file: bounded in size, UTF-8 text without NUL bytes.

At most :data:`~pinlab.litmus.bounds.MAX_FILE_BYTES` + 1 bytes are read, so
``/dev/zero`` or a huge file is refused at once instead of filling memory.
Every refusal is a :class:`LitmusError`: for the file as a whole (it cannot
be read, it is too large) without a position, for a bad byte at its line
and column.
"""

from __future__ import annotations

from pathlib import Path

from pinlab.litmus.bounds import MAX_FILE_BYTES
from pinlab.litmus.errors import LitmusError

__all__ = ["decode_source", "read_source"]


def _read_bytes(path: str | Path) -> bytes:
    """At most ``MAX_FILE_BYTES + 1`` bytes of ``path``."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise LitmusError(str(path), 0, 0, f"cannot read: {err.strerror or err}") from None


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based (line, column) of byte ``offset``; columns count characters."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def decode_source(path: str, data: bytes) -> str:
    """``data`` as text, or a :class:`LitmusError` saying why it is not a litmus file."""
    if len(data) > MAX_FILE_BYTES:
        raise LitmusError(
            path, 0, 0,
            f"file too large: more than {MAX_FILE_BYTES} bytes; "
            f"expected a litmus test of at most {MAX_FILE_BYTES // 1024} KiB",
        )  # fmt: skip
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(data, nul)
        raise LitmusError(path, line, col, "NUL byte; expected a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, col = _byte_position(data, err.start)
        bad = data[err.start : err.start + 1].hex()
        raise LitmusError(
            path, line, col, f"invalid UTF-8 (byte 0x{bad}); expected a UTF-8 text file"
        ) from None


def read_source(path: str | Path) -> str:
    """The text of the litmus file ``path`` (see the module doc for what is refused)."""
    return decode_source(str(path), _read_bytes(path))
