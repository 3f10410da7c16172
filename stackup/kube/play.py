"""Kubernetes manifests -> a compose model stackup runs on its own engine (`kube play`).

The kinds understood: Pod, Deployment, StatefulSet (a service each, named after the
object), Service (its ports: ClusterIP ones are `expose`d, a NodePort is published
on its node port, a LoadBalancer on its port; a Service of another name than its
workload is a network alias), ConfigMap and Secret (environment and files),
PersistentVolumeClaim (a named volume of the claim's name). Anything else is named in
a warning. Files from ConfigMaps and Secrets become `configs` with inline content.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from stackup.errors import UserError
from stackup.kube.model import Document

WORKLOADS = ("Pod", "Deployment", "StatefulSet")
UNDERSTOOD = (*WORKLOADS, "Service", "ConfigMap", "Secret", "PersistentVolumeClaim")
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}


@dataclass
class Played:
    model: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def to_compose(documents: list[Any], where: str) -> Played:
    """The compose model of the documents (`where` names the file in messages)."""
    played = Played({"services": {}, "volumes": {}, "configs": {}})
    objects: dict[str, dict[str, Document]] = {kind: {} for kind in UNDERSTOOD}
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise UserError(f"{where}: document {index + 1} is not a Kubernetes object (no kind)")
        name = (doc.get("metadata") or {}).get("name")
        if not name:
            raise UserError(f"{where}: document {index + 1} ({doc['kind']}) has no metadata.name")
        if doc["kind"] not in UNDERSTOOD:
            played.warnings.append(f"{where}: {doc['kind']} {name} is not something kube play runs (left out)")
            continue
        objects[doc["kind"]][name] = doc
    for kind in WORKLOADS:
        for name, doc in objects[kind].items():
            try:
                _workload(played, objects, kind, name, doc, where)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # a field missing or of the wrong shape: the file is not what its kind says
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise UserError(f"{where}: {kind} {name}: not a valid {kind} ({detail})") from None
    for name in objects["PersistentVolumeClaim"]:
        played.model["volumes"].setdefault(name, {})
    if not played.model["services"]:
        raise UserError(f"{where}: no Pod, Deployment or StatefulSet to run")
    return played


def _workload(played: Played, objects: dict[str, dict[str, Document]], kind: str, name: str, doc: Document,
              where: str) -> None:
    spec = doc.get("spec") or {}
    if kind == "Pod":
        pod, labels, replicas = spec, (doc.get("metadata") or {}).get("labels") or {}, 1
    else:
        template = spec.get("template") or {}
        pod, labels = template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}
        replicas = int(spec.get("replicas", 1))
    containers = pod.get("containers") or []
    if not containers:
        raise UserError(f"{where}: {kind} {name} has no containers")
    here = f"{where}: {kind} {name}"
    if len(containers) > 1:
        played.warnings.append(f"{here}: only its first container runs (a service is one container)")
    if pod.get("initContainers"):
        played.warnings.append(f"{here}: init containers left out (services start in the file's order)")
    for claim in spec.get("volumeClaimTemplates") or []:
        played.model["volumes"].setdefault(claim["metadata"]["name"], {})
    service = _container(played, objects, here, containers[0], pod)
    if replicas != 1:
        service["deploy"] = {**service.get("deploy", {}), "replicas": replicas}
    if pod.get("hostname"):
        service["hostname"] = pod["hostname"]
    restart = RESTART.get(pod.get("restartPolicy", "Always"))
    if restart:
        service["restart"] = restart
    _ports(played, objects, service, name, labels)
    played.model["services"][name] = service


def _container(played: Played, objects: dict[str, dict[str, Document]], here: str, container: Document,
               pod: Document) -> dict[str, Any]:
    service: dict[str, Any] = {"image": container["image"]}
    if container.get("command"):
        service["entrypoint"] = list(container["command"])
    if container.get("args"):
        service["command"] = list(container["args"])
    if container.get("workingDir"):
        service["working_dir"] = container["workingDir"]
    environment = _environment(objects, here, container)
    if environment:
        service["environment"] = environment
    probe = container.get("livenessProbe") or container.get("readinessProbe")
    if probe:
        if "exec" in probe:
            service["healthcheck"] = {"test": ["CMD", *probe["exec"]["command"]],
                                      "interval": f"{probe.get('periodSeconds', 10)}s",
                                      "timeout": f"{probe.get('timeoutSeconds', 1)}s",
                                      "retries": probe.get("failureThreshold", 3)}
            if probe.get("initialDelaySeconds"):
                service["healthcheck"]["start_period"] = f"{probe['initialDelaySeconds']}s"
        else:
            played.warnings.append(f"{here}: only exec probes become healthchecks (left out)")
    _security(service, container.get("securityContext") or {})
    limits = (container.get("resources") or {})
    deploy_resources = {}
    for key, compose_key in (("limits", "limits"), ("requests", "reservations")):
        values = limits.get(key) or {}
        mapped = {}
        if "cpu" in values:
            mapped["cpus"] = _cpus(values["cpu"])
        if "memory" in values:
            mapped["memory"] = _memory(values["memory"])
        if mapped:
            deploy_resources[compose_key] = mapped
    if deploy_resources:
        service["deploy"] = {"resources": deploy_resources}
    _mounts(played, objects, here, service, container, pod)
    if container.get("tty"):
        service["tty"] = True
    if container.get("stdin"):
        service["stdin_open"] = True
    return service


def _environment(objects: dict[str, dict[str, Document]], here: str, container: Document) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        for ref_key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if ref_key in source:
                prefix = source.get("prefix", "")
                data = _data(objects, here, kind, source[ref_key]["name"])
                env.update({prefix + k: v.decode() for k, v in data.items()})
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        ref = (var.get("valueFrom") or {})
        for ref_key, kind, name_key in (("configMapKeyRef", "ConfigMap", "name"),
                                        ("secretKeyRef", "Secret", "name")):
            if ref_key in ref:
                data = _data(objects, here, kind, ref[ref_key][name_key])
                if ref[ref_key]["key"] not in data:
                    raise UserError(f"{here}: {kind} {ref[ref_key][name_key]} has no key {ref[ref_key]['key']}")
                env[var["name"]] = data[ref[ref_key]["key"]].decode()
    return env


def _data(objects: dict[str, dict[str, Document]], here: str, kind: str, name: str) -> dict[str, bytes]:
    """A ConfigMap's or a Secret's keys and contents (from this file: there is no cluster to ask)."""
    doc = objects[kind].get(name)
    if doc is None:
        raise UserError(f"{here}: uses {kind} {name}, which the file does not define")
    data = {k: str(v).encode() for k, v in (doc.get("stringData") or {}).items()}
    if kind == "Secret":
        data.update({k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()})
    else:
        data.update({k: str(v).encode() for k, v in (doc.get("data") or {}).items()})
        data.update({k: base64.b64decode(v) for k, v in (doc.get("binaryData") or {}).items()})
    return data


def _mounts(played: Played, objects: dict[str, dict[str, Document]], here: str, service: Document, container: Document,
            pod: Document) -> None:
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounts: list[dict[str, Any]] = []
    service_configs: list[dict[str, Any]] = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"], {"persistentVolumeClaim": {"claimName": mount["name"]}})
        target, read_only = mount["mountPath"], bool(mount.get("readOnly"))
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            played.model["volumes"].setdefault(claim, {})
            entry: dict[str, Any] = {"type": "volume", "source": claim, "target": target, "read_only": read_only}
            if mount.get("subPath"):
                entry["volume"] = {"subpath": mount["subPath"]}
            mounts.append(entry)
        elif "emptyDir" in volume:
            if (volume["emptyDir"] or {}).get("medium") == "Memory":
                mounts.append({"type": "tmpfs", "target": target})
            else:
                mounts.append({"type": "volume", "target": target})
        elif "hostPath" in volume:
            mounts.append({"type": "bind", "source": volume["hostPath"]["path"], "target": target,
                           "read_only": read_only})
        elif "configMap" in volume or "secret" in volume:
            kind, ref = ("ConfigMap", volume["configMap"]["name"]) if "configMap" in volume else \
                ("Secret", volume["secret"]["secretName"])
            data = _data(objects, here, kind, ref)
            files = {mount["subPath"]: target} if mount.get("subPath") else \
                {key: f"{target.rstrip('/')}/{key}" for key in data}
            for key, path in files.items():
                config_name = f"{kind.lower()}-{ref}-{key}".replace(".", "-")
                played.model["configs"][config_name] = {"content": data[key].decode()}
                service_configs.append({"source": config_name, "target": path})
        else:
            played.warnings.append(f"{here}: volume {mount['name']} of an unsupported type (left out)")
    if mounts:
        service["volumes"] = mounts
    if service_configs:
        service["configs"] = service_configs


def _ports(played: Played, objects: dict[str, dict[str, Document]], service: Document, name: str,
           labels: dict[str, str]) -> None:
    expose: list[str] = []
    ports: list[dict[str, Any]] = []
    aliases: list[str] = []
    for svc_name, doc in objects["Service"].items():
        spec = doc.get("spec") or {}
        chosen = spec.get("selector") or {}
        if not chosen or any(labels.get(k) != v for k, v in chosen.items()):
            continue
        if svc_name != name:
            aliases.append(svc_name)
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port["port"])
            protocol = str(port.get("protocol", "TCP")).lower()
            kind = spec.get("type", "ClusterIP")
            published = port.get("nodePort") if kind == "NodePort" else port["port"] if kind == "LoadBalancer" \
                else None
            if published is None:
                if kind == "NodePort":
                    played.warnings.append(f"Service {svc_name}: port {port['port']} has no nodePort (not published)")
                expose.append(f"{target}/{protocol}")
            else:
                ports.append({"target": int(target), "published": str(published), "protocol": protocol})
    if expose:
        service["expose"] = expose
    if ports:
        service["ports"] = ports
    if aliases:
        service["networks"] = {"default": {"aliases": aliases}}


def _security(service: Document, context: Document) -> None:
    capabilities = context.get("capabilities") or {}
    if capabilities.get("add"):
        service["cap_add"] = list(capabilities["add"])
    if capabilities.get("drop"):
        service["cap_drop"] = list(capabilities["drop"])
    if context.get("privileged"):
        service["privileged"] = True
    if context.get("readOnlyRootFilesystem"):
        service["read_only"] = True
    if "runAsUser" in context:
        group = f":{context['runAsGroup']}" if "runAsGroup" in context else ""
        service["user"] = f"{context['runAsUser']}{group}"


def _cpus(value: Any) -> float:
    text = str(value)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


_SUFFIX = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "K": 1000, "k": 1000, "M": 1000 ** 2,
           "G": 1000 ** 3, "T": 1000 ** 4}


def _memory(value: Any) -> int:
    text = str(value)
    for suffix, unit in sorted(_SUFFIX.items(), key=lambda s: -len(s[0])):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * unit)
    return int(float(text))
