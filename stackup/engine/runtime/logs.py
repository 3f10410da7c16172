"""Reading a container's json-file log: tail, since, timestamps, follow."""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypedDict

from stackup.errors import UserError
from stackup.units import UnitError, parse_seconds


class LogEntry(TypedDict, total=False):
    """One line of the json-file log, as Docker's: `{"log": ..., "stream": ..., "time": ...}`
    (read from the file: a key may be missing)."""

    log: str
    stream: str   # stdout or stderr
    time: str     # RFC 3339 with nanoseconds, comparable as text

def parse_since(value: str, now: datetime | None = None) -> str:
    """'10m', '1h30m' (a Go duration ago), a unix timestamp or an RFC 3339 time -> the
    log's time format, as Docker reads `--since`."""
    now = now or datetime.now(timezone.utc)
    ago = _duration(value)
    if ago is not None:
        moment = now - timedelta(seconds=ago)
    elif re.fullmatch(r"\d+(\.\d+)?", value):
        moment = datetime.fromtimestamp(float(value), timezone.utc)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UserError(f"invalid --since {value!r}: use a duration such as 10m, "
                            "a unix timestamp or an RFC 3339 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _duration(value: str) -> float | None:
    """Seconds of a Go duration; None for anything else (a bare number is a timestamp)."""
    if value.strip() in ("0", "+0", "-0"):
        return None
    try:
        return parse_seconds(value)
    except UnitError:
        return None


def log_files(path: Path, max_files: int = 10) -> list[Path]:
    """The rotated files oldest first, then the current one."""
    rotated = [path.with_name(f"{path.name}.{i}") for i in range(max_files, 0, -1)]
    return [p for p in rotated if p.exists()] + ([path] if path.exists() else [])


def entries(path: Path) -> Iterator[LogEntry]:
    for file in log_files(path):
        with open(file, "rb") as f:
            for line in f:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a line being written right now


def select(path: Path, tail: int | None = None, since: str | None = None) -> list[LogEntry]:
    items: Iterator[LogEntry] = entries(path)
    if since:
        items = (e for e in items if e.get("time", "") >= since)
    if tail is not None:
        return list(deque(items, maxlen=tail)) if tail > 0 else []
    return list(items)


def format_entry(entry: LogEntry, timestamps: bool) -> str:
    text = entry.get("log", "")
    return f"{entry.get('time', '')} {text}" if timestamps else text


def follow(path: Path, running: Callable[[], bool], emit: Callable[[LogEntry], None],
           since: str | None = None, poll: float = 0.05, from_start: bool = False) -> None:
    """Emit entries appended after now (or all, from_start) until the container stops."""
    f = open(path, "rb") if path.exists() else None
    ino = os.fstat(f.fileno()).st_ino if f else 0
    if f and not from_start:
        f.seek(0, os.SEEK_END)
    buf = b""
    last_pass = False
    # Short naps at first, then `poll`: a command that ends at once (`run --rm IMAGE true`)
    # is noticed within a millisecond or two, a long-running one costs no more wake-ups.
    nap = min(0.001, poll)
    try:
        while True:
            data = f.read() if f else b""
            if data:
                nap = min(0.001, poll)
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if not since or entry.get("time", "") >= since:
                        emit(entry)
                continue
            try:
                rotated = os.stat(path).st_ino != ino
            except FileNotFoundError:
                rotated = False
            if rotated:
                if f:
                    f.close()
                f = open(path, "rb")
                ino = os.fstat(f.fileno()).st_ino
                continue
            if last_pass:
                break
            if not running():
                last_pass = True  # read once more: the shim may have written just before
                continue
            time.sleep(nap)
            nap = min(nap * 2, poll)
    finally:
        if f:
            f.close()
