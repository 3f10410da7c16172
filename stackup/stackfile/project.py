"""`load_project`: from options and environment to a validated, normalized Project."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from stackup.errors import UserError
from stackup.stackfile import consistency, discovery, normalize, render
from stackup.stackfile.interpolation import InterpolationError, substitute
from stackup.stackfile.loader import Loader, LoadAbort
from stackup.stackfile.options import LoadOptions
from stackup.stackfile.problems import Problems
from stackup.stackfile.yamlpos import YamlError


@dataclass
class Project:
    """A loaded stack. `to_dict()` is what `stackup config --format json` prints."""

    name: str
    working_dir: Path
    config_files: list[Path]
    model: dict                                  # normalized, rendered (compose JSON shape)
    environment: dict[str, str] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    disabled_services: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    interpolated: bool = True

    yaml_model: dict | None = None               # the same, as compose's YAML output has it

    def to_dict(self, *, escape_dollars: bool = False, for_yaml: bool = False) -> dict:
        """The normalized model (a deep copy), as `config --format json` prints it.

        `escape_dollars` doubles `$` as compose prints it; `for_yaml` gives the shape of
        `config --format yaml` (service `x-*` fields and `models` kept, no `command: null`).
        """
        source = self.yaml_model if for_yaml and self.yaml_model is not None else self.model
        return _escape(source) if escape_dollars else copy.deepcopy(source)

    @cached_property
    def services(self) -> dict[str, Any]:
        from stackup.stackfile.models import ServiceModel
        return {name: ServiceModel.model_validate(s) for name, s in self._typed_source().get("services", {}).items()}

    @cached_property
    def networks(self) -> dict[str, Any]:
        from stackup.stackfile.models import NetworkModel
        return {n: NetworkModel.model_validate(v) for n, v in (self._typed_source().get("networks") or {}).items()}

    @cached_property
    def volumes(self) -> dict[str, Any]:
        from stackup.stackfile.models import VolumeModel
        return {n: VolumeModel.model_validate(v) for n, v in (self._typed_source().get("volumes") or {}).items()}

    @cached_property
    def secrets(self) -> dict[str, Any]:
        from stackup.stackfile.models import SecretModel
        return {n: SecretModel.model_validate(v) for n, v in (self._typed_source().get("secrets") or {}).items()}

    @cached_property
    def configs(self) -> dict[str, Any]:
        from stackup.stackfile.models import ConfigModel
        return {n: ConfigModel.model_validate(v) for n, v in (self._typed_source().get("configs") or {}).items()}

    def _typed_source(self) -> dict:
        # the YAML shape is the canonical one (the JSON shape has Go quirks such as blkio `Path`)
        return self.yaml_model if self.yaml_model is not None else self.model

    @property
    def service_names(self) -> list[str]:
        return sorted(self.model.get("services", {}))

    def all_profiles(self) -> list[str]:
        """Every profile named by a service (enabled or not), sorted."""
        names: set[str] = set()
        for service in list(self.model.get("services", {}).values()) + list(self.disabled_services.values()):
            names.update(service.get("profiles") or [])
        return sorted(names)


def _escape(value: Any) -> Any:
    """Every `$` doubled, in keys too: compose replaces `$` in its whole printed text."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


class NoStackFileError(UserError):
    """No stack file was named and none was found: commands that can work from the
    project name alone (`down -p NAME`) go on without one."""


def load_project(options: Any = None, environ: dict[str, str] | None = None, *,
                 cwd: Path | str | None = None) -> Project:
    """Load, validate and normalize a stack as `docker compose config` does.

    `options` is a LoadOptions or the CLI's GlobalOptions; `environ` defaults to
    os.environ. Every problem found raises one UserError listing them all.
    """
    if options is None:
        options = LoadOptions()
    elif not isinstance(options, LoadOptions):
        options = LoadOptions.from_global(options)
    environ = dict(os.environ if environ is None else environ)
    cwd = Path(cwd) if cwd else Path.cwd()
    try:
        found = discovery.discover(options.files, options.project_directory, options.env_files, environ, cwd)
    except discovery.NoFileFound as exc:
        raise NoStackFileError(str(exc)) from None
    except discovery.DiscoveryError as exc:
        raise UserError(str(exc)) from None
    problems = Problems()
    loader = Loader(found.environ, problems, interpolate=options.interpolate, stdin=options.stdin,
                    validate=_validator(), cwd=str(cwd))
    loader.warnings.extend(found.warnings)
    try:
        return _load(options, found, loader, problems)
    except LoadAbort:
        problems.raise_if_any()
        raise UserError("the stack file could not be loaded") from None


def _validator():
    from stackup.stackfile.shape import validate_file
    return validate_file


def _load(options: LoadOptions, found: discovery.Discovered, loader: Loader, problems: Problems) -> Project:
    environ = found.environ
    name = _project_name(options, found, loader, problems)
    environ["COMPOSE_PROJECT_NAME"] = name
    working_dir = str(found.working_dir)
    model = loader.load_model(found.files, working_dir, environ)
    if not model:
        loader.abort("empty compose file", file=loader.display(found.files[0]))
    model.pop("name", None)
    model["name"] = name
    model = normalize.normalize(model, environ)
    files = [Path(f) for f in found.files if f != "-"]
    if not options.interpolate:
        # as compose: without interpolation the model is printed as loaded (no typing, no checks)
        model.pop("models", None)
        return Project(name=name, working_dir=found.working_dir, config_files=files, model=model,
                       environment=environ, profiles=list(options.profiles), warnings=loader.warnings,
                       interpolated=False)
    profiles = list(options.profiles)
    if not profiles and environ.get("COMPOSE_PROFILES"):
        profiles = [p.strip() for p in environ["COMPOSE_PROFILES"].split(",") if p.strip()]
    models = model.pop("models", None)
    model.pop("include", None)
    profiles += normalize.profiles_of(model, list(options.services) + list(options.enable_services), problems)
    problems.raise_if_any()
    disabled = normalize.apply_profiles(model, profiles)
    if options.consistency:
        consistency.check(model, disabled, problems, models)
    problems.raise_if_any()
    if options.services:
        normalize.select_services(model, options.services)
    normalize.resolve_env_files(model, environ, problems)
    problems.raise_if_any()
    normalize.prune(model)
    if models:
        used = {m for s in model["services"].values() for m in (s.get("models") or {})}
        model["models"] = {k: v for k, v in models.items() if k in used}
    try:
        rendered = render.arrange(render.render(model))
        yaml_model = render.arrange(render.render(model, json_quirks=False))
    except render.RenderError as exc:
        loader.abort(str(exc), exc.path)
    return Project(name=name, working_dir=found.working_dir, config_files=files, model=rendered,
                   environment=environ, profiles=profiles, disabled_services=disabled,
                   warnings=loader.warnings, yaml_model=yaml_model)


def _project_name(options: LoadOptions, found: discovery.Discovered, loader: Loader, problems: Problems) -> str:
    # -p and COMPOSE_PROJECT_NAME are taken as given (and must be valid); `name:` is normalized
    given = options.project_name or found.environ.get("COMPOSE_PROJECT_NAME")
    if given:
        if not discovery.valid_project_name(given):
            origin = "-p" if options.project_name else "COMPOSE_PROJECT_NAME"
            raise UserError(f"invalid project name \"{given}\" ({origin}): use only lowercase letters, digits, "
                            "'-' and '_', starting with a letter or digit")
        return given
    from_files = ""
    for filename in found.files:
        try:
            documents = loader.parse(filename, keep=True)
        except YamlError:
            continue  # reported with its position when the file is loaded
        for document in documents:
            if isinstance(document.value, dict) and isinstance(document.value.get("name"), str) \
                    and document.value["name"]:
                from_files = document.value["name"]
    if from_files and options.interpolate:
        try:
            from_files = substitute(from_files, found.environ.get)
        except InterpolationError as exc:
            loader.abort(str(exc), ("name",))
    name = discovery.normalize_project_name(from_files)
    if name:
        return name
    first = found.files[0]
    folder = Path(first).parent if first != "-" else found.working_dir
    name = discovery.normalize_project_name(folder.name)
    if not name:
        raise UserError("project name must not be empty (set one with -p or `name:`)")
    return name
