"""What `generate` takes and gives, and the context its mapping modules share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")

Document = dict[str, Any]


def read_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


@dataclass(frozen=True)
class KubeOptions:
    """The choices `stackup kube generate` leaves to its user."""

    service_type: str = "ClusterIP"          # for Services of published ports (a label may override)
    allow_host_path: bool = False            # bind mounts become hostPath volumes (else refused)
    statefulsets: frozenset[str] = frozenset()  # services to run as StatefulSets
    namespace: str | None = None             # metadata.namespace of every object
    images: dict[str, str] = field(default_factory=dict)  # image reference -> reference to use (by digest)
    wait_image: str = "busybox:1.36"         # the image of the init containers that wait for dependencies
    environ: dict[str, str] = field(default_factory=dict)  # for secrets taken from the environment
    read_file: Callable[[str], bytes] = read_bytes       # contents of secret and config files


@dataclass
class Manifests:
    """The documents, in the order `kubectl apply` wants them (claims and config
    before the workloads that use them), and what could not be mapped."""

    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Context:
    """One generation: the project, the options, and the warnings gathered so far."""

    project: str
    model: dict[str, Any]
    options: KubeOptions
    warnings: list[str] = field(default_factory=list)

    def warn(self, where: str, text: str) -> None:
        line = f"{where}: {text}"
        if line not in self.warnings:
            self.warnings.append(line)

    def metadata(self, name: str, component: str | None = None,
                 extra: dict[str, str] | None = None) -> dict[str, Any]:
        from stackup.kube.names import common_labels

        meta: dict[str, Any] = {"name": name}
        if self.options.namespace:
            meta["namespace"] = self.options.namespace
        meta["labels"] = {**(extra or {}), **common_labels(self.project, component)}
        return meta
