"""`kube play`'s reading of manifests: generated manifests come back as a stack that
loads, with the services' images, commands, ports, volumes and healthchecks."""

from __future__ import annotations


import pytest
import yaml

from stackup.cli.kube import dump
from stackup.errors import UserError
from stackup.kube.play import to_compose
from stackup.stackfile import LoadOptions, load_project
from tests.unit.kube.test_kube_generate import E2E, manifests_of


def load(model: dict, name: str = "played") -> dict:
    text = yaml.safe_dump({"name": name, **model})
    return load_project(LoadOptions(files=["-"], stdin=text), environ={}).to_dict()


def test_generated_manifests_come_back():
    generated = manifests_of(E2E / "kube_podman", service_type="NodePort")
    documents = list(yaml.safe_load_all(dump(generated.documents)))
    played = to_compose(documents, "sample.yaml")
    model = load(played.model)
    web, backend = model["services"]["web"], model["services"]["backend"]
    assert web["image"] == backend["image"] == "stackup.local/busybox:latest"
    assert web["ports"] == [{"mode": "ingress", "target": 8080, "published": "31080", "protocol": "tcp"}]
    assert backend["expose"] == ["9000/tcp"]
    assert backend["volumes"][0]["source"] == "data" and backend["volumes"][0]["target"] == "/data"
    assert backend["healthcheck"]["test"] == ["CMD", "wget", "-qO-", "http://localhost:9000/"]
    assert backend["healthcheck"]["interval"] == "2s"
    assert web["command"][:2] == ["sh", "-c"]
    assert set(model["volumes"]) == {"data"}
    assert played.warnings == ["sample.yaml: Deployment web: init containers left out (services start in the "
                               "file's order)"]


def test_environment_files_and_other_kinds():
    documents = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"}, "data": {"A": "1"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"token": "czNjcjN0"}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "p"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "envFrom": [{"configMapRef": {"name": "env"}}],
                            "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}],
                            "volumeMounts": [{"name": "sv", "mountPath": "/run/secrets/token", "subPath": "token"}],
                            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}],
            "volumes": [{"name": "sv", "secret": {"secretName": "s"}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias"},
         "spec": {"selector": {"app": "p"}, "ports": [{"port": 80}]}},
    ]
    played = to_compose(documents, "f.yaml")
    model = load(played.model)
    pod = model["services"]["p"]
    assert pod["environment"] == {"A": "1", "T": "s3cr3t"}
    assert pod["configs"] == [{"source": "secret-s-token", "target": "/run/secrets/token"}]
    assert model["configs"]["secret-s-token"]["content"] == "s3cr3t"
    assert pod["deploy"]["resources"]["limits"] == {"cpus": 0.5, "memory": "268435456"}
    assert pod["networks"] == {"default": {"aliases": ["alias"]}}
    assert played.warnings == ["f.yaml: Job j is not something kube play runs (left out)"]


@pytest.mark.parametrize("documents, message", [
    ([{"kind": "Service", "metadata": {"name": "s"}}], "no Pod, Deployment or StatefulSet to run"),
    (["text"], "document 1 is not a Kubernetes object"),
    ([{"kind": "Pod", "metadata": {}}], "document 1 \\(Pod\\) has no metadata.name"),
    ([{"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "missing"}}]}]}}],
     "Pod p: uses ConfigMap missing, which the file does not define"),
])
def test_refused(documents, message):
    with pytest.raises(UserError, match=message):
        to_compose(documents, "f.yaml")




def test_malformed_workload_is_one_line():
    documents = [{"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c"}]}}}}]
    with pytest.raises(UserError, match=r"f.yaml: Deployment d: not a valid Deployment \(missing field 'image'\)"):
        to_compose(documents, "f.yaml")
