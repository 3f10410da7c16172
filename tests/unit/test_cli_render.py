"""The CLI's rendering of the project layer's events: the exact text compose's
commands always printed, on the stream each belongs to."""

from __future__ import annotations

from stackup.cli.compose_common import Renderer
from stackup.project import events
from stackup.project.progress import Event as Progress


def test_a_plan_a_warning_and_a_preview(capsys):
    render = Renderer("plain")
    render(events.PlanWarning("services.app: cannot scale"))
    render(events.PlanStarted())
    render(Progress("Container p-app-1", "Started"))
    render(events.PlanFinished())
    render(events.PlanPreview("#1 create p-app-1: no existing container\n"))
    out, err = capsys.readouterr()
    assert out == "#1 create p-app-1: no existing container\n"
    assert err == "stackup: warning: services.app: cannot scale\n Container p-app-1  Started\n"


def test_a_quiet_plan_shows_no_progress(capsys):
    render = Renderer("quiet")
    render(events.PlanStarted())
    render(Progress("Container p-app-1", "Started"))
    render(events.PlanFinished())
    assert capsys.readouterr() == ("", "")


def test_following_containers_as_up_does(capsys):
    render = Renderer("plain", colour=False)
    render(events.LogSources(("p-web-1", "p-database-1")))
    render(events.Attaching(("p-web-1", "p-database-1")))
    render(events.LogLine("p-web-1", "hello\n", "T"))
    render(events.ContainerExited("p-database-1", 3))
    render(events.Stopping())
    out, err = capsys.readouterr()
    assert out == "p-web-1       | hello\np-database-1  | exited with code 3\n"
    assert err == ("Attaching to p-web-1, p-database-1\n"
                   "Gracefully stopping... (press Ctrl+C again to force)\n")


def test_logs_with_timestamps_and_without_prefixes(capsys):
    render = Renderer("plain", colour=False, prefix=False, timestamps=True)
    render(events.LogSources(("a",)))
    render(events.LogLine("a", "x\n", "T"))
    assert capsys.readouterr().out == "T x\n"


def test_one_container_actions_and_waits(capsys):
    render = Renderer("plain")
    render(events.ContainerChanged("p-web-1", "Paused"))
    render(events.Waited("p-web-1", 0))
    assert capsys.readouterr() == ("0\n", " Container p-web-1  Paused\n")


def test_images_pulled_and_pushed(capsys):
    render = Renderer("plain")
    render(events.ImageChanged("busybox:latest", "Pulling"))
    render(events.ImageChanged("busybox:latest", "Pulled"))
    assert capsys.readouterr() == ("", " Image busybox:latest  Pulling\n Image busybox:latest  Pulled\n")
