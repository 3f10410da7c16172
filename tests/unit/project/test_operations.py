"""The compose operations of the project layer (`up`, `down`, `logs`, `run`'s and
`exec`'s option handling, `control`) over the in-memory engine: what they do and
which events they report, with nothing printed. And the CLI's renderer of those
events, which must print exactly what the commands always printed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _project_stacks as st  # noqa: E402
from _fake_engine import FakeEngine  # noqa: E402

from stackup.errors import NotFoundError, UserError  # noqa: E402
from stackup.project import control, events  # noqa: E402
from stackup.project.down import down  # noqa: E402
from stackup.project.exec import environment  # noqa: E402
from stackup.project.logs import LogsOptions, logs  # noqa: E402
from stackup.project.progress import Event as Progress  # noqa: E402
from stackup.project.reconcile import DownOptions, UpOptions  # noqa: E402
from stackup.project.run import OneOffOptions, overrides  # noqa: E402
from stackup.project.session import Session, open_session  # noqa: E402
from stackup.project.up import AttachOptions, up  # noqa: E402


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))   # nothing lands in the real root


def session(engine: FakeEngine, desired=None) -> Session:
    desired = st.webdemo() if desired is None else desired
    return Session(name=desired["name"], desired=desired, engine=engine)  # type: ignore[arg-type]


def fresh_engine() -> FakeEngine:
    return FakeEngine(images=dict(st.IMAGE_IDS))


def test_up_reports_the_plan_as_events_and_a_second_up_reports_none():
    engine = fresh_engine()
    seen: list[object] = []
    assert up(session(engine), UpOptions(), seen.append) == 0
    assert isinstance(seen[0], events.PlanStarted) and isinstance(seen[-1], events.PlanFinished)
    assert all(isinstance(e, Progress) for e in seen[1:-1])
    assert ("Container webdemo-web-1", "Started") in {(e.resource, e.status) for e in seen[1:-1]}
    assert engine.status() == {"webdemo-backend-1": "running", "webdemo-web-1": "running"}
    again: list[object] = []
    assert up(session(engine), UpOptions(), again.append) == 0
    assert again == []


def test_an_up_with_nothing_to_change_still_repairs_the_helpers_and_says_so():
    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    engine.broken_helpers = ["network webdemo_default: its DNS server was restarted"]
    seen: list[object] = []
    assert up(session(engine), UpOptions(), seen.append) == 0
    assert seen == [events.Repaired("network webdemo_default: its DNS server was restarted")]


def test_up_dry_run_reports_the_plan_as_text_and_changes_nothing():
    engine = fresh_engine()
    seen: list[object] = []
    up(session(engine), UpOptions(), seen.append, dry_run=True)
    assert len(seen) == 1 and isinstance(seen[0], events.PlanPreview)
    assert seen[0].text.splitlines()[0] == "#1 create-network webdemo_default: not found"
    assert engine.calls == []
    up(session(engine), UpOptions(), lambda e: None)
    seen.clear()
    up(session(engine), UpOptions(), seen.append, dry_run=True)
    assert seen == [events.PlanPreview("nothing to do: the stack is up to date\n")]


def test_up_checks_the_services_it_is_asked_for_before_anything_is_made():
    engine = fresh_engine()
    with pytest.raises(NotFoundError, match="no such service: nope"):
        up(session(engine), UpOptions(services=("nope",)), lambda e: None)
    with pytest.raises(UserError, match="--exit-code-from: no such service: nope"):
        up(session(engine), UpOptions(), lambda e: None, attach=AttachOptions(exit_code_from="nope"))
    assert engine.calls == []


def test_down_removes_what_up_made():
    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    seen: list[object] = []
    assert down(session(engine), DownOptions(), seen.append) == 0
    assert engine.names() == [] and engine.networks == {}
    assert isinstance(seen[0], events.PlanStarted)
    seen.clear()
    down(session(engine), DownOptions(), seen.append, dry_run=True)
    assert seen == [events.PlanPreview("nothing to do\n")]


def test_logs_merge_the_containers_lines_in_the_order_they_were_written():
    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    engine.log_records = {"webdemo-web-1": [{"log": "w1\n", "time": "2"}, {"log": "w2\n", "time": "4"}],
                          "webdemo-backend-1": [{"log": "b1\n", "time": "1"}, {"log": "b2\n", "time": "3"}]}
    seen: list[object] = []
    assert logs(session(engine), LogsOptions(), seen.append) == 0
    # named as compose's logs names them: without the project
    assert seen[0] == events.LogSources(("backend-1", "web-1"))
    assert [(e.container, e.text) for e in seen[1:]] == [
        ("backend-1", "b1\n"), ("web-1", "w1\n"), ("backend-1", "b2\n"), ("web-1", "w2\n")]
    seen.clear()
    logs(session(engine), LogsOptions(services=("web",), tail=1, until="3"), seen.append)
    assert seen == [events.LogSources(("web-1",))]   # its last line came after --until


def test_pause_and_kill_report_each_container_and_skip_those_in_another_state():
    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    seen: list[object] = []
    control.each(session(engine), ["web"], control.Action.PAUSE, seen.append)
    assert seen == [events.ContainerChanged("webdemo-web-1", "Paused")]
    seen.clear()
    control.each(session(engine), [], control.Action.UNPAUSE, seen.append)   # the fake's unpause
    control.each(session(engine), [], control.Action.KILL, seen.append)
    assert seen[-2:] == [events.ContainerChanged("webdemo-backend-1", "Killed"),
                         events.ContainerChanged("webdemo-web-1", "Killed")]


def test_wait_reports_each_exit_and_returns_the_first_code():
    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    engine.exit_codes = {"webdemo-backend-1": 3, "webdemo-web-1": 0}
    seen: list[object] = []
    assert control.wait(session(engine), [], seen.append) == 3
    assert seen == [events.Waited("webdemo-backend-1", 3), events.Waited("webdemo-web-1", 0)]
    with pytest.raises(UserError, match="no containers to wait for"):
        control.wait(session(FakeEngine()), [], seen.append)


def test_run_overrides_replace_the_services_settings_and_extend_its_lists():
    config = {"environment": {"A": "1", "B": "2"}, "labels": {"x": "1"},
              "volumes": [{"type": "volume", "source": "data", "target": "/data"}]}
    options = OneOffOptions(service="app", command=("sh",), env={"B": "3", "C": None},
                            volumes=({"type": "bind", "source": "/tmp", "target": "/t"},),
                            labels={"y": "2"}, workdir="/w", user="1000", tty=True)
    assert overrides(config, options) == {
        "tty": True, "stdin_open": False, "command": ["sh"],
        "environment": {"A": "1", "B": "3", "C": None}, "labels": {"x": "1", "y": "2"},
        "volumes": [{"type": "volume", "source": "data", "target": "/data"},
                    {"type": "bind", "source": "/tmp", "target": "/t"}],
        "working_dir": "/w", "user": "1000"}
    # an entrypoint given without a command drops the service's command too, as compose does
    assert overrides({}, OneOffOptions(service="app", entrypoint=[])) == {
        "tty": False, "stdin_open": False, "entrypoint": [], "command": None}


def test_exec_environment_takes_bare_names_from_the_callers_environment():
    assert environment(["A=1", "HOME", "UNSET", "B=x=y"], {"HOME": "/root"}) == ["A=1", "HOME=/root", "B=x=y"]


def test_open_session_without_a_file_needs_a_project_name(tmp_path, monkeypatch):
    from stackup.stackfile import LoadOptions
    from stackup.stackfile.project import NoStackFileError

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    sess = open_session(LoadOptions(project_name="ghost"), need_file=False)
    assert (sess.name, sess.desired, sess.services) == ("ghost", None, {})
    with pytest.raises(NoStackFileError, match="no configuration file provided"):
        open_session(LoadOptions(project_name="ghost"))
    with pytest.raises(NoStackFileError):
        open_session(LoadOptions(), need_file=False)


def test_open_session_hands_the_loaders_warnings_back_unprinted(tmp_path, monkeypatch, capsys):
    from stackup.stackfile import LoadOptions

    (tmp_path / "compose.yaml").write_text("version: '3'\nservices:\n  app:\n    image: busybox\n")
    monkeypatch.chdir(tmp_path)
    sess = open_session(LoadOptions())
    assert sess.warnings and "version" in sess.warnings[0]
    assert capsys.readouterr() == ("", "")


def test_pull_reports_each_image_and_gathers_the_failures():
    from stackup.errors import StackupError
    from stackup.project.pull import pull

    desired = st.webdemo()
    desired["services"]["web"]["image"] = st.NGINX     # not in the registry
    engine = FakeEngine(registry={st.BUSYBOX: st.BUSYBOX_ID})
    seen: list[object] = []
    with pytest.raises(StackupError) as failed:
        pull(session(engine, desired), [], seen.append)
    assert failed.value.problems == [f"service web: pull {st.NGINX}: {st.NGINX}: not found in the registry"]
    assert engine.images == {st.BUSYBOX: st.BUSYBOX_ID}   # the other service's image came anyway
    seen.clear()
    pull(session(engine, desired), [], seen.append, ignore_failures=True)
    assert seen == [events.ImageChanged(st.BUSYBOX, "Pulling"), events.ImageChanged(st.BUSYBOX, "Pulled"),
                    events.ImageChanged(st.NGINX, "Pulling"),
                    events.PlanWarning(f"service web: pull {st.NGINX}: {st.NGINX}: not found in the registry")]


def test_list_projects_counts_each_projects_containers_by_status():
    from stackup.project.projects import list_projects

    engine = fresh_engine()
    up(session(engine), UpOptions(), lambda e: None)
    control.each(session(engine), ["web"], control.Action.KILL, lambda e: None)
    [summary] = list_projects(engine)  # type: ignore[arg-type]
    assert (summary.name, summary.status(), summary.running) == ("webdemo", "exited(1), running(1)", True)


def test_container_events_are_the_changes_between_two_looks():
    from stackup.project.container_events import changes

    from stackup.engine.runtime.containerstate import ContainerState

    def state(cid, status):   # "removing" is Docker's, not ours: shown as it is
        return ContainerState(id=cid, name=f"p-app-{cid}", status=status)

    before = {"1": state("1", "running"), "2": state("2", "paused"), "3": state("3", "exited")}
    after = {"1": state("1", "exited"), "2": state("2", "running"), "4": state("4", "running"),
             "3": state("3", "removing")}
    assert [(s.id, action) for s, action in changes(before, after)] == [
        ("1", "die"), ("2", "unpause"), ("4", "create"), ("4", "start"), ("3", "removing")]
    assert [(s.id, a) for s, a in changes(after, {})] == [("1", "destroy"), ("2", "destroy"),
                                                             ("4", "destroy"), ("3", "destroy")]
