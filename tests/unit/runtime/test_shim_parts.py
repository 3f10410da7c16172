"""The shim's pure parts: JSON without the json package, json-file lines, rotation, policy."""

import json

import pytest

from stackup.engine.runtime import minijson, shim


def test_minijson_roundtrip_matches_json():
    value = {"a": [1, 2.5, None, True], "b": "é\n\"x\"", "c": {"d": -3}}
    assert minijson.loads(json.dumps(value, indent=2)) == value
    assert json.loads(minijson.dumps(value)) == value


def test_minijson_refuses_what_json_refuses_even_without_the_json_package():
    import subprocess
    import sys

    bad = ["", "  ", "{", '{"a": [1, 2}', '{"a": "x', "garbage", '{"a": 1} {}']
    for text in bad:
        with pytest.raises(ValueError, match="not JSON"):
            minijson.loads(text)
    assert minijson.loads(' \n{"a": 1}\n ') == {"a": 1}
    # as the shim runs it: json.decoder not loaded, whose error the C scanner raises
    code = ("import sys; from stackup.engine.runtime import minijson\n"
            "for text in sys.argv[1:]:\n"
            "    try: minijson.loads(text)\n"
            "    except ValueError: print('refused')\n"
            "print('json' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-E", "-c", code, *bad], capture_output=True,
                         text=True, check=True, cwd=shim.PKG_ROOT).stdout.split()
    assert out == ["refused"] * len(bad) + ["False"]


def test_shim_records_under_the_lock_and_keeps_a_pause(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps(
        {"id": "c", "name": "x", "status": "starting", "spec": {"tty": True}}))
    state = shim.State(str(tmp_path))
    assert state.current("spec") == {"tty": True} and state.current("pid") is None
    assert state.update(status="running", pid=5)["status"] == "running"
    state.update(status="paused")
    assert state.update(status="running", pid=6)["status"] == "paused"
    assert json.loads((tmp_path / "state.json").read_text())["pid"] == 6
    (tmp_path / "state.json").unlink()
    assert state.update(status="exited") is None and state.current("spec") is None


def test_log_lines_are_json_file_format(tmp_path):
    log = shim.LogWriter(str(tmp_path / "c.log"), 0, 1)
    log.feed("stdout", b"hello\nwor")
    log.feed("stdout", b"ld\n")
    log.feed("stderr", b"no newline")
    log.flush("stderr")
    lines = [json.loads(x) for x in (tmp_path / "c.log").read_text().splitlines()]
    assert [(x["log"], x["stream"]) for x in lines] == [
        ("hello\n", "stdout"), ("world\n", "stdout"), ("no newline", "stderr")]
    assert all(x["time"].endswith("Z") and len(x["time"]) == 30 for x in lines)


def test_long_lines_are_split(tmp_path):
    log = shim.LogWriter(str(tmp_path / "c.log"), 0, 1)
    log.feed("stdout", b"x" * (shim.MAX_LINE + 10) + b"\n")
    lines = [json.loads(x) for x in (tmp_path / "c.log").read_text().splitlines()]
    assert [len(x["log"]) for x in lines] == [shim.MAX_LINE, 11]


def test_rotation_keeps_max_files(tmp_path):
    path = tmp_path / "c.log"
    log = shim.LogWriter(str(path), 300, 3)
    for i in range(40):
        log.feed("stdout", f"line {i:03d}\n".encode())
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["c.log", "c.log.1", "c.log.2"]
    assert all(p.stat().st_size <= 300 for p in tmp_path.iterdir())
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["log"] == "line 039\n"
    older = json.loads((tmp_path / "c.log.2").read_text().splitlines()[0])["log"]
    assert older < json.loads((tmp_path / "c.log.1").read_text().splitlines()[0])["log"]


def test_restart_policies():
    w = shim.restart_wanted
    assert not w("no", 0, 1, 0, False)
    assert w("always", 0, 0, 5, False) and w("unless-stopped", 0, 0, 0, False)
    assert w("on-failure", 0, 1, 100, False) and not w("on-failure", 0, 0, 0, False)
    assert w("on-failure", 2, 1, 1, False) and not w("on-failure", 2, 1, 2, False)
    assert not w("always", 0, 1, 0, True)  # stopped by the user


def test_backoff_doubles_and_resets():
    assert shim.next_backoff(0.1, 0.0) == 0.2
    assert shim.next_backoff(40, 0.0) == shim.BACKOFF_MAX
    assert shim.next_backoff(40, shim.RESET_AFTER) == shim.BACKOFF_START


def test_shim_imports_only_small_modules():
    import subprocess
    import sys

    code = ("import sys; before = set(sys.modules); import stackup.engine.runtime.shim; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-S", "-E", "-c", code], capture_output=True,
                         text=True, check=True, cwd=shim.PKG_ROOT).stdout
    loaded = set(eval(out))
    for heavy in ("json", "re", "subprocess", "ctypes", "enum", "typing", "pathlib", "signal"):
        assert heavy not in loaded, heavy
