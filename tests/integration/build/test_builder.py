"""The builder end to end on the real kernel: stages, the cache, cache mounts, ONBUILD, config.

Each test builds on a busybox base in a private STACKUP_ROOT and runs the result in a
container of stackup's runtime where what is inside matters.
"""

import os
from pathlib import Path

import pytest

from stackup.engine.build import build
from stackup.engine.build.model import BuildOptions, StepEvent
from stackup.engine.images.store import ImageStore
from stackup.engine.runtime.container import Runtime
from stackup.errors import StackupError, UserError
from stackup.engine.runtime.spec import ContainerSpec
from stackup.testing.containers import leftovers, output
from stackup.testing.images import busybox_image

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (mounts, containers)", allow_module_level=True)

BASE = "stackup.local/busybox:latest"


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    busybox_image(ImageStore(), BASE)
    yield root
    assert nothing_left(root) == []


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def statuses(self):
        """{step title without its [n/m] prefix: last status} for the Dockerfile's steps."""
        out = {}
        for e in self.events:
            if isinstance(e, StepEvent) and e.title.startswith("[") and "[internal]" not in e.title:
                out[e.title.split("] ", 1)[1]] = e.status
        return out


def make_context(folder: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def do_build(context: Path, **kw):
    recorder = Recorder()
    image = build(BuildOptions(context=context, **kw), recorder)
    return image, recorder


def output_of(image, argv):
    rt = Runtime()
    state = rt.create(ContainerSpec(layers=[str(p) for p in image.layer_dirs()], argv=list(argv),
                                    env=image.config.env))
    try:
        rt.start(state.id)
        code = rt.wait(state.id, timeout=60)
        return code, output(rt, state.id)
    finally:
        rt.remove(state.id, force=True)


def nothing_left(root: Path) -> list[str]:
    """Containers, mounts under the root and build scratch folders left behind."""
    left = leftovers(root)
    with open("/proc/self/mountinfo") as f:
        left += [line.split()[4] for line in f if str(root) in line]
    scratch = root / "build" / "tmp"
    if scratch.is_dir():
        left += [str(p) for p in scratch.iterdir() if p.name != ".lock"]
    return left


def test_copy_and_run_then_a_rebuild_runs_nothing_and_gives_the_same_image(root, tmp_path):
    ctx = make_context(tmp_path / "ctx", f"""\
FROM {BASE}
WORKDIR /app
COPY a.txt b.txt ./
RUN cat a.txt b.txt > both.txt && rm /bin/vi
ENV GREETING=hello
CMD ["cat", "/app/both.txt"]
""", {"a.txt": "A\n", "b.txt": "B\n"})
    first, rec1 = do_build(ctx, tags=["stackup.local/t:1"])
    assert set(rec1.statuses().values()) == {"done"}
    code, out = output_of(first, ["sh", "-c", "cat /app/both.txt; test -e /bin/vi || echo gone"])
    assert (code, out) == (0, "A\nB\ngone\n")
    assert first.config.cmd == ["cat", "/app/both.txt"]
    assert "GREETING=hello" in first.config.env
    assert first.config.working_dir == "/app"

    os.utime(ctx / "a.txt", (1, 1))  # a touch is not a change
    again, rec2 = do_build(ctx, tags=["stackup.local/t:1"])
    statuses = rec2.statuses()
    assert set(s for t, s in statuses.items() if not t.startswith("FROM")) == {"cached"}, statuses
    assert again.id == first.id

    (ctx / "b.txt").write_text("B2\n")
    changed, rec3 = do_build(ctx)
    statuses = rec3.statuses()
    assert statuses["WORKDIR /app"] == "cached"
    assert statuses["COPY a.txt b.txt ./"] == "done"
    assert statuses["RUN cat a.txt b.txt > both.txt && rm /bin/vi"] == "done"
    assert output_of(changed, ["cat", "/app/both.txt"]) == (0, "A\nB2\n")

    _, rec4 = do_build(ctx, no_cache=True)
    assert "cached" not in rec4.statuses().values()


def test_multi_stage_target_builds_only_what_it_needs(root, tmp_path):
    ctx = make_context(tmp_path / "ctx", f"""\
FROM {BASE} AS base
RUN echo base > /base.txt

FROM base AS unused
RUN exit 3

FROM {BASE} AS builder
RUN mkdir /out && echo built > /out/artifact

FROM base AS final
COPY --from=builder /out/artifact /artifact
CMD ["cat", "/artifact"]

FROM final AS test
RUN cat /artifact /base.txt
""")
    image, rec = do_build(ctx, target="final")
    titles = " ".join(rec.statuses())
    assert "exit 3" not in titles and "cat /artifact /base.txt" not in titles
    assert output_of(image, ["sh", "-c", "cat /artifact /base.txt"]) == (0, "built\nbase\n")
    with pytest.raises(UserError, match="target stage 'nope' could not be found"):
        do_build(ctx, target="nope")


def test_a_failing_run_names_the_line_the_command_and_its_code_and_leaves_nothing(root, tmp_path):
    ctx = make_context(tmp_path / "ctx", f"FROM {BASE}\nRUN echo first\nRUN echo oops; exit 7\n")
    with pytest.raises(StackupError) as err:
        do_build(ctx)
    text = str(err.value)
    assert "Dockerfile:3" in text and "exit code: 7" in text and "oops" in text
    # the step that finished is reused by the next build
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo first\n")
    _, rec = do_build(ctx)
    assert rec.statuses()["RUN echo first"] == "cached"


def test_cache_mount_keeps_its_content_between_builds(root, tmp_path):
    dockerfile = f"""\
FROM {BASE}
ARG N
RUN --mount=type=cache,target=/cache echo $N >> /cache/runs && cat /cache/runs > /seen
"""
    ctx = make_context(tmp_path / "ctx", dockerfile)
    do_build(ctx, build_args={"N": "1"})
    image, _ = do_build(ctx, build_args={"N": "2"})
    assert output_of(image, ["cat", "/seen"]) == (0, "1\n2\n")
    # the cache's content is not in the image, nor the folder made only to mount it on
    assert output_of(image, ["sh", "-c", "test -e /cache || echo absent"]) == (0, "absent\n")


def test_onbuild_triggers_run_in_the_child(root, tmp_path):
    parent = make_context(tmp_path / "parent", f"FROM {BASE}\nONBUILD RUN echo triggered > /t\n")
    image, _ = do_build(parent, tags=["stackup.local/parent:1"])
    assert image.config  # the trigger is recorded, not run
    child = make_context(tmp_path / "child", "FROM stackup.local/parent:1\n")
    image, _ = do_build(child)
    assert output_of(image, ["cat", "/t"]) == (0, "triggered\n")


def test_metadata_instructions_shape_the_config(root, tmp_path):
    ctx = make_context(tmp_path / "ctx", f"""\
FROM {BASE}
ARG VERSION=1.2
LABEL org.example.version=$VERSION other="a b"
EXPOSE 80 53/udp
VOLUME ["/data"]
USER 1000:1000
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- localhost || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
""")
    image, _ = do_build(ctx, labels={"from.cli": "yes"})
    c = image.config
    assert c.labels == {"org.example.version": "1.2", "other": "a b", "from.cli": "yes"}
    assert c.exposed_ports == ["53/udp", "80/tcp"]
    assert c.volumes == ["/data"]
    assert c.user == "1000:1000" and c.stop_signal == "SIGINT"
    assert c.entrypoint == ["/bin/sh", "-c"] and c.cmd is None  # the base's CMD is dropped
    assert c.healthcheck["Test"] == ["CMD-SHELL", "wget -q -O- localhost || exit 1"]
    assert c.healthcheck["Interval"] == 5_000_000_000 and c.healthcheck["Retries"] == 2


def test_heredocs_secrets_binds_and_archives(root, tmp_path):
    import tarfile

    secret = tmp_path / "token"
    secret.write_text("s3cret")
    ctx = make_context(tmp_path / "ctx", f"""\
FROM {BASE} AS data
RUN mkdir /d && echo from-stage > /d/f

FROM {BASE}
COPY <<EOF /etc/motd
hello $HOSTNAME
EOF
RUN <<EOF
echo heredoc > /h
EOF
RUN --mount=type=secret,id=token cat /run/secrets/token > /leak && rm /leak && echo ok > /s
RUN --mount=type=secret,id=token,env=TOKEN test "${{#TOKEN}}" = 6 && echo env-ok > /se
RUN --mount=type=bind,source=sub,target=/mnt cat /mnt/in.txt > /bound
RUN --mount=type=bind,from=data,source=/d,target=/mnt cat /mnt/f > /from-stage
ADD files.tar /unpacked/
""", {"sub/in.txt": "in\n"})
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("x\n")
    with tarfile.open(ctx / "files.tar", "w") as tar:
        tar.add(src / "x.txt", arcname="x.txt")
    image, _ = do_build(ctx, secrets={"token": secret})
    code, out = output_of(image, ["sh", "-c",
                                  "cat /etc/motd /h /s /se /bound /from-stage /unpacked/x.txt;"
                                  "test -e /run/secrets/token || echo no-secret-left"])
    assert (code, out) == (0, "hello \nheredoc\nok\nenv-ok\nin\nfrom-stage\nx\nno-secret-left\n")
    assert "s3cret" not in str(ImageStore().config_document(image))


def test_output_of_a_run_is_streamed_as_step_output(root, tmp_path):
    from stackup.engine.build.model import StepOutput

    ctx = make_context(tmp_path / "ctx", f"FROM {BASE}\nRUN echo one && echo two >&2\n")
    _, rec = do_build(ctx)
    assert [e.text for e in rec.events if isinstance(e, StepOutput)] == ["one", "two"]


def test_independent_stages_both_build_and_a_network_none_step_has_no_network(root, tmp_path):
    ctx = make_context(tmp_path / "ctx", f"""\
FROM {BASE} AS a
RUN echo a > /a

FROM {BASE} AS b
RUN --network=none sh -c "ls /sys/class/net > /b"

FROM {BASE}
COPY --from=a /a /a
COPY --from=b /b /b
""")
    image, rec = do_build(ctx)
    assert output_of(image, ["cat", "/a", "/b"]) == (0, "a\nlo\n")
    assert any(e.title.startswith("[a 2/2] RUN") for e in rec.events if isinstance(e, StepEvent))
