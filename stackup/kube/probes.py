"""A healthcheck as exec probes.

Docker runs the test every `interval`, fails it after `timeout`, marks the container
unhealthy after `retries` failures, and ignores failures during `start_period`. The
same test becomes a readinessProbe (a dependent's traffic waits for it, as
`service_healthy` does) and a livenessProbe (the kubelet restarts a container that
fails it, which Docker does not do for an unhealthy one), each with `periodSeconds`,
`timeoutSeconds`, `failureThreshold` and `initialDelaySeconds` from those fields.
"""

from __future__ import annotations

import copy
from typing import Any

from stackup.kube import quantities
from stackup.kube.model import Context

DOCKER_INTERVAL, DOCKER_TIMEOUT, DOCKER_RETRIES = 30, 30, 3


def probes(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    """readinessProbe and livenessProbe for the container (empty without a healthcheck)."""
    check = config.get("healthcheck") or {}
    where = f"service {service}: healthcheck"
    test = check.get("test")
    if check.get("disable") or not test or test == ["NONE"]:
        return {}
    command = exec_command(test)
    if command is None:
        ctx.warn(where, f"test {test!r} is not CMD or CMD-SHELL (left out)")
        return {}
    period = quantities.seconds(check.get("interval") or DOCKER_INTERVAL, where, minimum=1)
    probe: dict[str, Any] = {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": quantities.seconds(check.get("timeout") or DOCKER_TIMEOUT, where, minimum=1),
        "failureThreshold": int(check.get("retries") or DOCKER_RETRIES),
    }
    if check.get("start_period"):
        probe["initialDelaySeconds"] = quantities.seconds(check["start_period"], where)
    if check.get("start_interval"):
        ctx.warn(where, "start_interval has no probe equivalent (periodSeconds is the interval)")
    return {"readinessProbe": copy.deepcopy(probe), "livenessProbe": copy.deepcopy(probe)}


def exec_command(test: Any) -> list[str] | None:
    """The argv a probe execs for a compose test (`CMD-SHELL` runs `/bin/sh -c`)."""
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if test and test[0] == "CMD":
        return [str(a) for a in test[1:]]
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(str(a) for a in test[1:])]
    return None
