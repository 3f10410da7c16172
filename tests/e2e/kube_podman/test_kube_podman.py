"""The manifests `stackup kube generate` writes run under `podman kube play` (podman
4.3 reads Deployments and claims on one machine): the services answer, web reaches
backend by its name, and backend's named volume keeps its data when its pod is
replaced.

podman 4.3 ignores Service objects; a cluster's DNS gives each Service's name to its
pods, so each service's objects are played on a network with a DNS server (netavark's)
with the Service's name as the pod's network alias, which is what podman has for it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from stackup.testing.peers import PeerUnavailable, podman
from stackup.testing.stack import BUSYBOX_REF

pytestmark = [pytest.mark.root, pytest.mark.slow]
# podman (unlike Docker) gives a container no PATH of its own: real images have one
PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def play_files(folder: Path, out: Path) -> dict[str, Path]:
    """service -> a file with its Deployment and the ConfigMaps it uses (the claims are
    played on their own, once: podman 4.3 refuses a claim whose volume exists, where
    a cluster keeps a bound claim as it is)."""
    documents = {path.name: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))}
    files = {}
    for doc in documents.values():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        used = [f"{e['configMapRef']['name']}-configmap.yaml" for c in pod["containers"] for e in c.get("envFrom", [])]
        path = out / f"{doc['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump_all([documents[u] for u in used] + [doc]))
        files[doc["metadata"]["name"]] = path
    return files


def container_of(pod, service: str) -> str:
    names = pod.run("ps", "--format", "{{.Names}}").stdout.decode().split()
    found = [n for n in names if n.startswith(f"{service}-pod") and n.endswith(f"-{service}")]
    assert len(found) == 1, names
    return found[0]


def answer(pod, service: str, url: str, deadline: float = 60) -> str:
    """What `wget URL` prints in the service's container, retried while it starts (web's
    proxy answers empty while backend's name does not resolve yet: a new pod's name
    reaches the DNS server a moment after the pod starts)."""
    end = time.monotonic() + deadline
    while True:
        proc = pod.run("exec", container_of(pod, service), "wget", "-qO-", url, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.decode()
        if time.monotonic() > end:
            raise AssertionError(f"{service}: {url}: {proc.stderr.decode()}")
        time.sleep(0.5)


def test_generated_manifests_run_under_podman(stack, busybox_cache, tmp_path):
    stack.import_busybox(busybox_cache, changes=[PATH])
    manifests = tmp_path / "k8s"
    stack("kube", "generate", "--wait-image", BUSYBOX_REF, "-o", str(manifests))
    archive = tmp_path / "busybox.tar"
    stack("image", "save", "-o", str(archive), BUSYBOX_REF)
    files = play_files(manifests, tmp_path)
    assert set(files) == {"web", "backend"}
    try:
        peer = podman(tmp_path / "podman")
        pod = peer.__enter__()
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        assert pod.run("info", "--format", "{{.Host.NetworkBackend}}").stdout.decode().strip() == "netavark"
        assert pod.load(archive) == [BUSYBOX_REF]
        pod.run("network", "create", "kube-sample")

        def play(service: str) -> None:
            try:
                pod.run("kube", "play", "--network", f"kube-sample:alias={service}", str(files[service]),
                        timeout=120)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:  # say what the pods did
                state = pod.run("ps", "-a", "--format", "{{.Names}} {{.Status}}", check=False).stdout.decode()
                logs = [pod.run("logs", name, check=False).stderr.decode() for name in state.split()[::3]]
                raise AssertionError(f"kube play {service}: {exc}\n{state}\n{logs}") from None

        for claim in sorted(manifests.glob("*-persistentvolumeclaim.yaml")):
            pod.run("kube", "play", str(claim))
        assert pod.run("volume", "ls", "--format", "{{.Name}}").stdout.decode().split() == ["data"]
        play("backend")  # first: web's init container waits until backend's name resolves
        play("web")
        first = answer(pod, "backend", "http://localhost:9000/")
        assert first.startswith("backend ")
        assert answer(pod, "web", "http://localhost:8080/cgi-bin/proxy") == first  # by name, through web
        assert answer(pod, "web", "http://backend:9000/") == first
        pod.run("kube", "down", str(files["backend"]), timeout=300)
        assert pod.run("volume", "ls", "--format", "{{.Name}}").stdout.decode().split() == ["data"]
        play("backend")
        assert answer(pod, "backend", "http://localhost:9000/") == first  # the claim's data kept
        assert answer(pod, "web", "http://localhost:8080/cgi-bin/proxy") == first
    finally:
        peer.__exit__(None, None, None)
