"""Checks across the whole project, after normalization (as compose's checkConsistency)."""

from __future__ import annotations

from stackup.stackfile.problems import Problems


def check(model: dict, disabled: dict, problems: Problems, models: dict | None = None) -> None:
    """`models`: the top-level `models:` (kept apart from the model compose prints as JSON)."""
    services = model.get("services") or {}
    networks = model.get("networks") or {}
    volumes = model.get("volumes") or {}
    secrets = model.get("secrets") or {}
    configs = model.get("configs") or {}
    container_names: dict[str, str] = {}
    for name, s in services.items():
        at = ("services", name)
        build = s.get("build")
        if build is None and not s.get("image") and "provider" not in s:
            problems.add(f"service \"{name}\" has neither an image nor a build context specified "
                         "(add `image:` or `build:`)", at)
        if isinstance(build, dict):
            if build.get("dockerfile_inline") and build.get("dockerfile"):
                problems.add("dockerfile and dockerfile_inline are mutually exclusive", at + ("build",))
            platforms = build.get("platforms") or []
            if platforms and s.get("platform") and s["platform"] not in platforms:
                problems.add(f"service.build.platforms must include service.platform \"{s['platform']}\"",
                             at + ("platform",))
            for secret in build.get("secrets") or []:
                if secret.get("source") not in secrets:
                    problems.add(f"service \"{name}\" refers to undefined build secret {secret.get('source')}",
                                 at + ("build", "secrets"))
            for ctx_name, ctx in (build.get("additional_contexts") or {}).items():
                if isinstance(ctx, str) and ctx.startswith("service:"):
                    target = services.get(ctx[len("service:"):])
                    if target is None:
                        problems.add(f"service \"{name}\" declares unknown service \"{ctx[8:]}\" as additional "
                                     f"context {ctx_name}", at + ("build", "additional_contexts"))
                    elif target.get("build") is None:
                        problems.add(f"service \"{name}\" declares non-buildable service \"{ctx[8:]}\" as "
                                     f"additional context {ctx_name}", at + ("build", "additional_contexts"))
        if s.get("network_mode") and s.get("networks"):
            problems.add(f"service {name} declares mutually exclusive `network_mode` and `networks`",
                         at + ("network_mode",))
        for net in (s.get("networks") or {}):
            if net not in networks:
                problems.add(f"service \"{name}\" refers to undefined network {net} "
                             f"(declare it under the top-level `networks:`)", at + ("networks", net))
        test = (s.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            problems.add('healthcheck.test must start with "CMD", "CMD-SHELL" or "NONE"',
                         at + ("healthcheck", "test"))
        for dep, cfg in (s.get("depends_on") or {}).items():
            if dep in services:
                continue
            if dep in disabled and not (cfg or {}).get("required", True):
                continue
            if dep in disabled:
                problems.add(f"service \"{name}\" depends on service \"{dep}\" which is disabled by its "
                             f"profiles (enable them with --profile, or set `required: false`)",
                             at + ("depends_on", dep))
            else:
                problems.add(f"service \"{name}\" depends on undefined service \"{dep}\"", at + ("depends_on", dep))
        mode = s.get("network_mode")
        if isinstance(mode, str) and mode.startswith("service:") and mode[8:] not in services:
            problems.add(f"service \"{mode[8:]}\" not found for network_mode 'service:{mode[8:]}'",
                         at + ("network_mode",))
        for index, volume in enumerate(s.get("volumes") or []):
            if volume.get("type") == "volume" and volume.get("source") and volume["source"] not in volumes:
                problems.add(f"service \"{name}\" refers to undefined volume {volume['source']} "
                             f"(declare it under the top-level `volumes:`)", at + ("volumes", str(index)))
        for index, config in enumerate(s.get("configs") or []):
            if config.get("source") not in configs:
                problems.add(f"service \"{name}\" refers to undefined config {config.get('source')}",
                             at + ("configs", str(index)))
        for index, secret in enumerate(s.get("secrets") or []):
            if secret.get("source") not in secrets:
                problems.add(f"service \"{name}\" refers to undefined secret {secret.get('source')}",
                             at + ("secrets", str(index)))
        for model_name in (s.get("models") or {}):
            if model_name not in (models or {}):
                problems.add(f"service \"{name}\" refers to undefined model {model_name} "
                             f"(declare it under the top-level `models:`)", at + ("models", model_name))
        deploy = s.get("deploy") or {}
        scale = s.get("scale")
        replicas = deploy.get("replicas") if isinstance(deploy, dict) else None
        if scale is not None and replicas is not None and scale != replicas:
            problems.add("can't set distinct values on 'scale' and 'deploy.replicas'", at + ("scale",))
        elif scale is not None and isinstance(s.get("deploy"), dict):
            s["deploy"]["replicas"] = scale  # as compose: scale is the replica count
        if isinstance(scale, int) and scale < 0:
            problems.add("must be greater than or equal to 0", at + ("scale",))
        if isinstance(replicas, int) and replicas < 0:
            problems.add("must be greater than or equal to 0", at + ("deploy", "replicas"))
        _check_limits(s, deploy if isinstance(deploy, dict) else {}, at, problems)
        count = scale if scale is not None else (replicas if replicas is not None else 1)
        if s.get("container_name"):
            if count > 1:
                attr = "scale" if scale is not None else "deploy.replicas"
                problems.add(f"can't set container_name and {attr} as container name must be unique",
                             at + ("container_name",))
            other = container_names.get(s["container_name"])
            if other is not None:
                problems.add(f"services.{other} and services.{name} have the same container_name "
                             f"\"{s['container_name']}\"", at + ("container_name",))
            container_names[s["container_name"]] = name
        for watch in ((s.get("develop") or {}).get("watch") or []):
            if not watch.get("target") and watch.get("action") not in ("rebuild", "restart"):
                problems.add("target is required for non-rebuild actions", at + ("develop", "watch"))
        mounts: dict[str, str] = {}
        for index, tmpfs in enumerate(s.get("tmpfs") or []):
            target = str(tmpfs).split(":", 1)[0]
            loc = f"services.{name}.tmpfs[{index}]"
            if target in mounts:
                problems.add(f"target {target} already mounted as {mounts[target]}", at + ("tmpfs", str(index)))
            mounts[target] = loc
        for index, volume in enumerate(s.get("volumes") or []):
            target = volume.get("target")
            loc = f"services.{name}.volumes[{index}]"
            if target in mounts:
                problems.add(f"target {target} already mounted as {mounts[target]}", at + ("volumes", str(index)))
            mounts[target] = loc
    for kind in ("secrets", "configs"):
        for name, resource in (model.get(kind) or {}).items():
            if resource.get("external"):
                continue
            if kind == "secrets" and not resource.get("file") and not resource.get("environment"):
                problems.add(f"secret \"{name}\" must declare either `file` or `environment`", (kind, name))
    check_cycles(services, problems)


def _number(value, parse):
    try:
        return parse(value)
    except (TypeError, ValueError):
        return None


def _check_limits(service: dict, deploy: dict, at: tuple, problems: Problems) -> None:
    """`cpus`/`mem_limit`/`pids_limit` must agree with `deploy.resources` when both are set."""
    from stackup.units import parse_bytes

    resources = deploy.get("resources") or {}
    limits = resources.get("limits") if isinstance(resources, dict) else None
    reservations = resources.get("reservations") if isinstance(resources, dict) else None
    pairs = [("cpus", limits, "cpus", lambda v: round(float(v), 6)),
             ("mem_limit", limits, "memory", parse_bytes),
             ("mem_reservation", reservations, "memory", parse_bytes),
             ("pids_limit", limits, "pids", int)]
    for attr, section, key, parse in pairs:
        if not isinstance(section, dict) or service.get(attr) in (None, 0) or not deploy:
            continue
        mine = _number(service[attr], parse)
        theirs = _number(section.get(key, 0), parse) if section.get(key) is not None else 0
        if mine is not None and mine != theirs:
            where = "limits" if section is limits else "reservations"
            problems.add(f"can't set distinct values on '{attr}' and 'deploy.resources.{where}.{key}'",
                         at + (attr,))


def check_cycles(services: dict, problems: Problems) -> None:
    """A dependency cycle is reported once, as `a -> b -> a`."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> bool:
        state[name] = 1
        stack.append(name)
        for dep in sorted(services[name].get("depends_on") or {}):
            if dep not in services:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                problems.add(f"dependency cycle detected: {' -> '.join(cycle)}", ("services", dep, "depends_on"))
                return True
            if state.get(dep) is None and visit(dep):
                return True
        stack.pop()
        state[name] = 2
        return False

    for name in sorted(services):
        if state.get(name) is None and visit(name):
            return
