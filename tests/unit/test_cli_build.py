"""The build commands' flags and output, where nothing is built: `--build-arg`,
`image build`'s options, `--progress`, BuildKit's plain format, `builder du/prune`'s
rendering, and `up`/`run`/`build` flags through `--dry-run`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from stackup.cli.build import parse_build_args, progress_mode
from stackup.cli.build_progress import PlainBuildView, TtyBuildView, make_view, resolve_mode
from stackup.cli.image_build import build_options
from stackup.engine.build.model import StepEvent, StepOutput
from stackup.errors import UnsupportedError, UserError


def test_build_args_with_and_without_values():
    assert parse_build_args(["A=1", "B", "C=", "D=x=y"]) == {"A": "1", "B": None, "C": "", "D": "x=y"}
    for bad in ("=1", " A=1", "A B=1"):
        with pytest.raises(UserError, match="--build-arg"):
            parse_build_args([bad])


def test_progress_mode_quiet_wins_then_the_commands_then_the_global():
    ctx = SimpleNamespace(obj=SimpleNamespace(progress="tty"))
    assert progress_mode(ctx, True, "plain") == "quiet"
    assert progress_mode(ctx, False, "plain") == "plain"
    assert progress_mode(ctx, False, None) == "tty"
    assert resolve_mode("auto", io.StringIO()) == "plain"
    with pytest.raises(UserError, match="--progress 'fancy'"):
        make_view("fancy")


def test_image_build_options_like_docker_build(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ctx").mkdir()
    (tmp_path / "Dockerfile.x").write_text("FROM scratch\n")
    (tmp_path / "tok").write_text("t")
    o = build_options("ctx", tags=["web:1", "reg.example/web:2", "web:1"], file="Dockerfile.x", target="run",
                      args={"A": "1", "HOME_DIR": None, "UNSET": None}, no_cache=True, pull=True,
                      labels=["a=b", "c"], network="none", add_hosts=["db:10.0.0.2", "x=10.0.0.3"],
                      secrets=["id=tok,src=tok"], environ={"HOME_DIR": "/home/u"})
    assert o.context == tmp_path / "ctx"
    assert o.dockerfile == tmp_path / "Dockerfile.x"   # -f is relative to the current folder, as docker's
    assert (o.target, o.no_cache, o.pull, o.network) == ("run", True, True, "none")
    assert o.tags == ["web:1", "reg.example/web:2"]
    assert o.build_args == {"A": "1", "HOME_DIR": "/home/u"}
    assert o.labels == {"a": "b", "c": ""}
    assert o.extra_hosts == ["db=10.0.0.2", "x=10.0.0.3"]
    assert o.secrets == {"tok": tmp_path / "tok"}
    inline = build_options("ctx", file="-", stdin_text="FROM scratch\n")
    assert (inline.dockerfile, inline.dockerfile_inline) == (None, "FROM scratch\n")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"context": "missing"}, UserError, "context 'missing' is not a folder"),
    ({"context": "-"}, UnsupportedError, "a context from stdin"),
    ({"context": "https://github.com/x/y.git"}, UnsupportedError, "git or archive URL"),
    ({"context": ".", "tags": ["Bad:Tag:x"]}, UserError, "-t 'Bad:Tag:x'"),
    ({"context": ".", "network": "backend"}, UnsupportedError, "--network 'backend'"),
    ({"context": ".", "add_hosts": ["nohost"]}, UserError, "--add-host 'nohost'"),
    ({"context": ".", "secrets": ["id=x"]}, UserError, "--secret 'id=x'"),
    ({"context": ".", "secrets": ["id=x,env=Y"]}, UserError, "--secret"),
    ({"context": ".", "platform": "linux/s390x" if os.uname().machine != "s390x" else "linux/amd64"},
     UnsupportedError, "--platform"),
])
def test_image_build_bad_input_names_the_flag(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        build_options(**kwargs)


def test_plain_progress_is_buildkits_format_with_one_numbering_for_parallel_builds():
    out = io.StringIO()
    view = PlainBuildView(out)
    view("web", StepEvent(1, "[web 1/3] FROM busybox", "started"))
    view("web", StepEvent(1, "[web 1/3] FROM busybox", "done", elapsed=0.04))
    view("api", StepEvent(1, "[api 1/2] FROM busybox", "cached"))
    view("web", StepEvent(2, "[web 2/3] RUN make", "started"))
    view("web", StepOutput(2, "cc -o app app.c", 0.5123))
    view("api", StepEvent(2, "[api 2/2] COPY . /app", "started"))
    view("web", StepOutput(2, "make: *** [app] Error 2", 0.7))
    view("web", StepEvent(2, "[web 2/3] RUN make", "error", elapsed=0.8,
                          error='process "/bin/sh -c make" did not complete successfully: exit code: 2'))
    view("api", StepEvent(2, "[api 2/2] COPY . /app", "done", elapsed=0.25))
    assert out.getvalue() == (
        "#1 [web 1/3] FROM busybox\n"
        "#1 DONE 0.0s\n"
        "\n"
        "#2 [api 1/2] FROM busybox\n"
        "#2 CACHED\n"
        "\n"
        "#3 [web 2/3] RUN make\n"
        "#3 0.512 cc -o app app.c\n"
        "\n"
        "#4 [api 2/2] COPY . /app\n"
        "\n"
        "#3 [web 2/3] RUN make\n"
        "#3 0.700 make: *** [app] Error 2\n"
        '#3 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2\n'
        "\n"
        "#4 [api 2/2] COPY . /app\n"
        "#4 DONE 0.2s\n")


def test_tty_progress_folds_a_finished_steps_output_and_keeps_a_failed_ones():
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    view = TtyBuildView(console=console)
    try:
        view("", StepEvent(1, "[1/3] RUN echo one", "started"))
        view("", StepOutput(1, "one", 0.1))
        view("", StepEvent(1, "[1/3] RUN echo one", "done", elapsed=0.1))
        view("", StepEvent(2, "[2/3] RUN false", "started"))
        view("", StepOutput(2, "about to fail", 0.1))
        view("", StepEvent(2, "[2/3] RUN false", "error", error="exit code: 1"))
        view("", StepEvent(3, "[3/3] RUN sleep 9", "started"))
        view("", StepOutput(3, "still going", 0.1))
        with console.capture() as capture:
            console.print(view._render())
    finally:
        view.close()
    text = capture.get()
    assert "(2/3)" in text
    assert "#1 [1/3] RUN echo one" in text and "=> => one" not in text        # folded
    assert "#2 [2/3] RUN false ERROR" in text and "=> => about to fail" in text and "ERROR: exit code: 1" in text
    assert "=> => still going" in text                                       # running: shown


def test_builder_du_and_prune_show_and_empty_a_real_cache(tmp_path, monkeypatch, capsys):
    from stackup.cli import builder
    from stackup.engine.build.cache import BuildCache
    from stackup.engine.images.store import ImageStore

    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path))
    cache = BuildCache(ImageStore())
    cache.put("sha256:" + "a" * 64, None, "RUN make", "2026-01-01T00:00:00Z")
    (cache.mount_dir("/root/.cache") / "pkg").write_bytes(b"x" * 40_000)
    builder.du(verbose=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "SIZE", "LAST", "USED", "DESCRIPTION"]
    assert lines[1].split()[1:3] == ["exec.cachemount", "41kB"] and "/root/.cache" in lines[1]
    assert lines[2].split()[:3] == ["a" * 12, "regular", "0B"] and "RUN make" in lines[2]
    assert lines[-1].startswith("Total:")
    builder.prune(all_=True, force=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Deleted build cache objects: 2"
    assert cache.usage() == []


STACK = """\
services:
  app:
    build: ./app
  api:
    image: reg.example/api:1
    build:
      context: ./api
      additional_contexts:
        base: service:app
"""


def stackup(tmp_path, *args):
    env = dict(os.environ, STACKUP_ROOT=str(tmp_path / "root"))
    env.pop("COMPOSE_PROJECT_NAME", None)
    return subprocess.run([sys.executable, "-m", "stackup", *args], env=env, capture_output=True, text=True,
                          cwd=tmp_path)


def test_up_build_flags_through_dry_run(tmp_path):
    (tmp_path / "compose.yaml").write_text(STACK)
    fresh = stackup(tmp_path, "-p", "demo", "up", "--dry-run")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.splitlines()[1:3] == [
        "#2 build demo-app: image not present",
        "#3 pull reg.example/api:1: image not present; built if the pull fails [after #2]"]
    forced = stackup(tmp_path, "-p", "demo", "up", "--dry-run", "--build")
    assert "#3 build reg.example/api:1: --build [after #2]" in forced.stdout.splitlines()
    no_build = stackup(tmp_path, "-p", "demo", "up", "--dry-run", "--no-build")
    assert no_build.returncode == 2
    assert no_build.stderr.splitlines() == [
        "stackup: services.app: image demo-app is not present and --no-build forbids building it"]
    both = stackup(tmp_path, "up", "--dry-run", "--build", "--no-build")
    assert (both.returncode, both.stderr) == (2, "stackup: --build and --no-build cannot be used together\n")


def test_build_flags_through_dry_run(tmp_path):
    (tmp_path / "compose.yaml").write_text(STACK)
    proc = stackup(tmp_path, "-p", "demo", "build", "--dry-run", "api", "--no-cache", "--build-arg", "A=1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("#1 build demo-app: api builds from its image\n"
                           "#2 build reg.example/api:1: stackup build [after #1]\n")
    bad = stackup(tmp_path, "build", "--build-arg", "=x")
    assert (bad.returncode, bad.stderr) == (2, "stackup: --build-arg '=x': expected NAME=VALUE or NAME\n")
    (tmp_path / "compose.yaml").write_text(STACK + "      ssh: [default]\n")
    refused = stackup(tmp_path, "build", "--dry-run")
    assert refused.returncode == 2 and "services.api.build.ssh is not supported by stackup" in refused.stderr


def test_image_build_bad_context_exits_2(tmp_path):
    proc = stackup(tmp_path, "image", "build", "-t", "x", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
