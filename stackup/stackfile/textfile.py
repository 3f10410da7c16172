"""The text files a stack names (stack files, `.env`, env_file, label_file), read as UTF-8.

Compose reads them as UTF-8; a file that is not (a binary, a Latin-1 `.env`) is refused with the
place of its first bad byte instead of surfacing as a decoding failure somewhere later. Line
breaks are read as `open()` reads them (`\\r\\n` and `\\r` become `\\n`), as the files always were.
"""

from __future__ import annotations

from pathlib import Path


class NotText(ValueError):
    """The file is not UTF-8 text; the message names file:line:column of the first bad byte."""

    def __init__(self, name: str, line: int, column: int, byte: int):
        self.line, self.column = line, column
        self.problem = f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
        super().__init__(f"{name}:{line}:{column}: {self.problem}")


def read_text(path: str | Path, name: str | None = None) -> str:
    """The text of the file at `path` (OSError when it cannot be read, NotText when not UTF-8)."""
    return decode(Path(path).read_bytes(), name or str(path))


def decode(data: bytes, name: str) -> str:
    """`data` as text, or NotText naming where in `name` the first invalid byte is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8")) + 1  # valid: the first bad byte is later
        raise NotText(name, data.count(b"\n", 0, exc.start) + 1, column, data[exc.start]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
