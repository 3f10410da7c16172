"""`depends_on` as init containers that wait, an approximation.

Kubernetes starts a pod's containers when its init containers have finished, and
has no order between pods. Each dependency becomes an init container that waits
until the dependency's Service name resolves (the Kubernetes documentation's own
pattern), so a service starts after the Services it needs exist. It does not wait
for the dependency to be healthy (`service_healthy`): the dependency's readiness
probe keeps traffic away from it until it is, which is the cluster's way.
`service_completed_successfully` has no equivalent between pods (warned).
"""

from __future__ import annotations

from typing import Any

from stackup.kube.model import Context
from stackup.kube.names import object_name


def init_containers(ctx: Context, service: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    containers = []
    for dependency, entry in sorted((config.get("depends_on") or {}).items()):
        condition = (entry or {}).get("condition", "service_started")
        if condition == "service_completed_successfully":
            ctx.warn(f"service {service}", f"depends_on {dependency}: service_completed_successfully has no "
                     "equivalent between pods (left out; a Job or an init container of its own is the "
                     "Kubernetes way)")
            continue
        if dependency not in ctx.model.get("services", {}):
            continue  # an optional dependency (required: false) that is not in the stack
        name = object_name(dependency, "service")
        containers.append({
            "name": f"wait-for-{name}",
            "image": ctx.options.wait_image,
            "command": ["sh", "-c", f"until nslookup {name} >/dev/null 2>&1; do sleep 2; done"],
        })
    return containers
