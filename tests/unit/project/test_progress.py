from __future__ import annotations

import io
import re

import pytest

from stackup.errors import UserError
from stackup.project.progress import (
    DONE,
    ERROR,
    WORKING,
    Event,
    PlainProgress,
    QuietProgress,
    TtyProgress,
    make_progress,
)

EVENTS = [
    Event("Network webdemo_default", "Creating", WORKING),
    Event("Network webdemo_default", "Created", DONE),
    Event("Container webdemo-backend-1", "Starting", WORKING),
    Event("Container webdemo-backend-1", "Started", DONE),
    Event("Container webdemo-backend-1", "Healthy", DONE),
    Event("Container webdemo-web-1", "Error", ERROR, "exec: no such file"),
]


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_plain_prints_one_line_per_event():
    out = io.StringIO()
    progress = PlainProgress(out)
    for event in EVENTS:
        progress(event)
    progress.close()
    assert out.getvalue().splitlines() == [
        " Network webdemo_default  Creating",
        " Network webdemo_default  Created",
        " Container webdemo-backend-1  Starting",
        " Container webdemo-backend-1  Started",
        " Container webdemo-backend-1  Healthy",
        " Container webdemo-web-1  Error exec: no such file",
    ]


def test_tty_keeps_one_line_per_resource_with_its_last_status():
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    progress = TtyProgress(console=console)
    for event in EVENTS:
        progress(event)
    progress.close()
    # the last frame drawn: one line per resource, in first-seen order
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).split("\r")[-1]
    lines = [line.strip() for line in last.strip().splitlines()[-3:]]
    assert re.fullmatch(r"✔ Network webdemo_default +Created +\d+\.\ds", lines[0])
    assert re.fullmatch(r"✔ Container webdemo-backend-1 +Healthy +\d+\.\ds", lines[1])
    assert re.fullmatch(r"✘ Container webdemo-web-1 +Error exec: no such file +\d+\.\ds", lines[2])


def test_make_progress_modes():
    assert isinstance(make_progress("plain", io.StringIO()), PlainProgress)
    assert isinstance(make_progress("quiet", io.StringIO()), QuietProgress)
    assert isinstance(make_progress("auto", io.StringIO()), PlainProgress)
    tty = make_progress("auto", FakeTty())
    try:
        assert isinstance(tty, TtyProgress)
    finally:
        tty.close()
    with pytest.raises(UserError, match="--progress 'loud'"):
        make_progress("loud")


def test_quiet_prints_nothing(capsys):
    progress = make_progress("quiet")
    for event in EVENTS:
        progress(event)
    progress.close()
    assert capsys.readouterr() == ("", "")
