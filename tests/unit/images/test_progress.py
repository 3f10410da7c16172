"""Transfer progress: plain lines off a terminal, bars on one, nothing when quiet."""

import io

from stackup.engine.images import progress


def test_plain_progress_prints_one_line_per_event():
    out = io.StringIO()
    p = progress.PlainProgress(out)
    p.start("abc", "Downloading", 10)
    p.advance("abc", 5)
    p.finish("abc", "Pull complete")
    p.message("Digest: sha256:x")
    assert out.getvalue().splitlines() == ["abc: Downloading (10 bytes)", "abc: Pull complete", "Digest: sha256:x"]


def test_tty_progress_draws_a_bar_per_layer():
    out = io.StringIO()
    with progress.TtyProgress(out) as p:
        p.start("aaa", "Downloading", 100)
        p.start("bbb", "Downloading", 100)
        p.advance("aaa", 100)
        p.finish("aaa", "Pull complete")
        p.finish("bbb", "Already exists")
    text = out.getvalue()
    assert "aaa: Pull complete" in text and "bbb: Already exists" in text


def test_modes():
    assert type(progress.for_mode("plain")) is progress.PlainProgress
    assert type(progress.for_mode("quiet")) is progress.Progress
    assert type(progress.for_mode("auto")) is progress.PlainProgress  # stderr is not a terminal under pytest
