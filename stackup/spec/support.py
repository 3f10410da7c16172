"""Which attributes of a loaded project stackup accepts in `config` but cannot run yet."""

from __future__ import annotations


def unsupported_attributes(project) -> list[str]:
    """Paths like `services.web.gpus` for every unsupported attribute the project sets.

    `up`, `create` and `run` refuse a project when this is not empty, naming each one.
    """
    from stackup.spec.models import unsupported_service_fields

    fields = set(unsupported_service_fields())
    model = project.model if hasattr(project, "model") else project
    found = []
    for name, service in sorted((model.get("services") or {}).items()):
        for key in sorted(service):
            if key in fields and service[key] not in (None, [], {}):
                found.append(f"services.{name}.{key}")
    return found


def check_supported(project) -> None:
    """Raise UnsupportedError naming every attribute stackup cannot run (for up/create/run)."""
    from stackup.errors import UnsupportedError

    found = unsupported_attributes(project)
    if found:
        lines = [f"`{path}` is not supported by stackup (remove it, or use docker compose for this stack)"
                 for path in found]
        raise UnsupportedError(lines[0], problems=lines)
