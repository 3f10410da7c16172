"""The normalized stack model -> Kubernetes documents, plus warnings."""

from __future__ import annotations

from typing import Any

from stackup.kube import config as configs
from stackup.kube import coverage, services, volumes, workloads
from stackup.kube.model import Context, KubeOptions, Manifests
from stackup.kube.names import object_name

# The order `kubectl apply -f` of one stream wants: what pods use first.
KIND_ORDER = ("Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment",
              "StatefulSet")


def generate(model: dict[str, Any], options: KubeOptions | None = None) -> Manifests:
    """Documents for every service of the model (what `stackup config --format json`
    prints): a workload, a Service, its environment's ConfigMap, the claims, ConfigMaps
    and Secrets it uses."""
    ctx = Context(project=str(model.get("name") or "default"), model=model, options=options or KubeOptions())
    all_services = model.get("services") or {}
    unknown = sorted(ctx.options.statefulsets - set(all_services))
    if unknown:
        from stackup.errors import UserError

        raise UserError(f"--statefulset {unknown[0]}: no such service")
    names = {service: object_name(service, "service") for service in all_services}
    _check_unique(names)
    for service, name in names.items():
        if name != service:
            ctx.warn(f"service {service}", f"is named {name} on the cluster (its DNS name there)")
    users = volumes.users(model)
    owned = {key for key, using in users.items()
             if len(using) == 1 and using[0] in ctx.options.statefulsets
             and not ((model.get("volumes") or {}).get(key) or {}).get("external")}
    documents = []
    for service in sorted(all_services):
        config = all_services[service] or {}
        name = names[service]
        env = configs.env_configmap(ctx, service, name, config)
        if env is not None:
            documents.append(env)
        documents.append(services.service(ctx, service, name, config))
        documents.append(workloads.workload(ctx, service, name, config, owned))
        coverage.unmapped(ctx, service, config)
    documents += configs.file_resources(ctx) + volumes.claims(ctx, owned)
    coverage.networks(ctx)
    documents.sort(key=lambda d: KIND_ORDER.index(d["kind"]))  # stable: by name within a kind
    return Manifests(documents=documents, warnings=ctx.warnings)


def _check_unique(names: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for service, name in sorted(names.items()):
        if name in seen:
            from stackup.errors import UserError

            raise UserError(f"services {seen[name]} and {service} would both be named {name} on a cluster")
        seen[name] = service
