"""`kube generate`'s mapping: golden manifests for sample stacks, every manifest valid
against the official Kubernetes schemas of several versions, and the refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from stackup.cli.kube import dump
from stackup.errors import UserError
from stackup.kube import KubeOptions, Manifests, generate
from stackup.stackfile import LoadOptions, load_project

CASES = Path(__file__).parent / "cases"
E2E = Path(__file__).parents[2] / "e2e"
# three recent Kubernetes versions whose schemas kubernetes-validate ships
VERSIONS = ("1.32", "1.34", "1.36")
# per case: the options `kube generate` gets, and the environment the stack loads with
OPTIONS = {
    "full": dict(allow_host_path=False),
    "stateful": dict(statefulsets=frozenset({"db"}), service_type="LoadBalancer", namespace="data"),
}
ENVIRON = {"stateful": {"DB_PASSWORD": "hunter2"}}


def manifests_of(folder: Path, **options) -> Manifests:
    environ = {"PATH": "/usr/bin", **ENVIRON.get(folder.name, {})}
    project = load_project(LoadOptions(files=[str(folder / "compose.yaml")]), environ=environ, cwd=folder)
    return generate(project.to_dict(), KubeOptions(environ=project.environment, **options))


def golden_text(result: Manifests) -> str:
    warnings = "".join(f"# warning: {w}\n" for w in result.warnings)
    return warnings + dump(result.documents)


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_golden(case):
    folder = CASES / case
    text = golden_text(manifests_of(folder, **OPTIONS[case]))
    golden = folder / "expected.yaml"
    if os.environ.get("STACKUP_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text()


def all_samples() -> list[tuple[str, Manifests]]:
    samples = [(case, manifests_of(CASES / case, **OPTIONS[case])) for case in sorted(OPTIONS)]
    for folder in sorted(E2E.glob("kube_*")):
        for service_type in ("ClusterIP", "NodePort"):
            samples.append((f"{folder.name}/{service_type}", manifests_of(folder, service_type=service_type)))
    return samples


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates(version):
    import kubernetes_validate

    checked = 0
    for name, result in all_samples():
        for document in result.documents:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {document['kind']} {document['metadata']['name']} ({version}): "
                            f"{'.'.join(map(str, exc.path))}: {exc.message}")
            checked += 1
    assert checked > 20


def test_the_validator_refuses_what_a_cluster_would():
    """The check above can fail: a wrong field type and an unknown field are caught."""
    import kubernetes_validate

    _, result = all_samples()[0]
    deployment = next(d for d in result.documents if d["kind"] == "Deployment")
    bad = yaml.safe_load(dump([deployment]))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[0], strict=True)
    bad = yaml.safe_load(dump([deployment]))
    bad["spec"]["template"]["spec"]["containers"][0]["cmd"] = ["sh"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[0], strict=True)


def test_bind_mount_refused_without_the_flag(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    volumes: ['./src:/src']\n")
    with pytest.raises(UserError, match=r"service a: bind mount .*/src:/src .*--allow-host-path"):
        manifests_of(tmp_path)
    result = manifests_of(tmp_path, allow_host_path=True)
    pod = next(d for d in result.documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "host-0", "hostPath": {"path": str(tmp_path / "src"),
                                                               "type": "DirectoryOrCreate"}}]
    assert any("hostPath" in w for w in result.warnings)


def test_names_that_cannot_be_kubernetes_names(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  Web_1:\n    image: x\n  web-1:\n    image: x\n")
    with pytest.raises(UserError, match="services Web_1 and web-1 would both be named web-1"):
        manifests_of(tmp_path)
    (tmp_path / "compose.yaml").write_text("services:\n  1web:\n    image: x\n")
    with pytest.raises(UserError, match="service '1web': cannot be a Kubernetes name"):
        manifests_of(tmp_path)


def test_scale_and_service_type_label(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    scale: 3\n    ports: ['8080:80']\n"
        "    labels: {io.stackup.kube.service-type: LoadBalancer}\n")
    result = manifests_of(tmp_path)
    by_kind = {d["kind"]: d for d in result.documents}
    assert by_kind["Deployment"]["spec"]["replicas"] == 3
    assert by_kind["Service"]["spec"]["type"] == "LoadBalancer"
    assert any("serves it on 80, not on the published 8080" in w for w in result.warnings)


def test_quantities():
    from stackup.kube import quantities

    assert quantities.cpu("0.5", "") == "500m"
    assert quantities.cpu(2, "") == "2"
    assert quantities.cpu("1.25", "") == "1250m"
    assert quantities.memory("268435456", "") == "256Mi"
    assert quantities.memory("1g", "") == "1Gi"
    assert quantities.memory("1000000", "") == "1000000"
    assert quantities.memory("1536k", "") == "1536Ki"
    assert quantities.seconds("1m30s", "") == 90
    assert quantities.seconds("500ms", "", minimum=1) == 1
