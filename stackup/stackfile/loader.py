"""From stack files to one merged, canonical model (a plain dict), as compose loads it.

Per file: parse (with positions) -> interpolate -> check the structure -> extends ->
`!reset` paths -> include -> merge over the files before -> one item per name ->
short syntaxes to long form. Then defaults, relative paths made absolute, and
environment entries resolved.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from stackup.stackfile import canonical as canon
from stackup.stackfile import envfile, merge, pathmatch, paths, textfile, validation
from stackup.stackfile.interpolation import interpolate
from stackup.stackfile.problems import Problems
from stackup.stackfile.yamlpos import YamlError, load_documents


class LoadAbort(Exception):
    """Raised after problems were recorded, to stop the load."""


@dataclass
class Loader:
    """Reads, parses, interpolates and merges the stack files of one load, collecting problems."""

    environ: dict[str, str]
    problems: Problems
    interpolate: bool = True
    stdin: str | None = None
    validate: Callable[[Any, str, Problems], None] | None = None
    warnings: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    # documents parsed early (to find the project name), used once by the load itself
    parsed: dict[str, list] = field(default_factory=dict)

    # -- reading ------------------------------------------------------------------

    def read(self, filename: str) -> str:
        if filename in self.texts:
            return self.texts[filename]
        if filename == "-":
            text = self.stdin if self.stdin is not None else self.read_stdin()
        else:
            try:
                text = textfile.read_text(filename, self.display(filename))
            except textfile.NotText as exc:
                self.abort(str(exc))
            except FileNotFoundError:
                self.abort(f"file not found: {filename}")
            except IsADirectoryError:
                self.abort(f"{filename} is a directory, not a stack file")
            except OSError as exc:
                self.abort(f"cannot read {filename}: {exc.strerror}")
        self.texts[filename] = text
        return text

    def read_stdin(self) -> str:
        if not hasattr(sys.stdin, "buffer"):  # already text (replaced by a caller)
            return sys.stdin.read()
        try:
            return textfile.decode(sys.stdin.buffer.read(), "<stdin>")
        except textfile.NotText as exc:
            self.abort(str(exc))

    def parse(self, filename: str, *, keep: bool = False) -> list:
        """The YAML documents of a file; `keep` lets the next load_file reuse them."""
        if filename in self.parsed:
            documents = self.parsed[filename]
            if not keep:
                del self.parsed[filename]
            return documents
        documents = load_documents(self.read(filename), self.display(filename))
        if keep:
            self.parsed[filename] = documents
        return documents

    def abort(self, message: str, path: tuple = (), **kw) -> NoReturn:
        self.problems.add(message, path, **kw)
        raise LoadAbort()

    def display(self, filename: str) -> str:
        if filename == "-":
            return "<stdin>"
        try:
            relative = os.path.relpath(filename, self.cwd or os.getcwd())
        except ValueError:
            return filename
        return filename if relative.startswith("..") else relative

    # -- one file -------------------------------------------------------------------

    def load_file(self, filename: str, working_dir: str, environ: dict[str, str], model: dict,
                  *, included: list[str], resource_dir: str, extends: bool = True, include: bool = True,
                  validate: bool = True, tracker: list | None = None):
        name = self.display(filename)
        try:
            documents = self.parse(filename)
        except YamlError as exc:
            self.abort(str(exc))
        resets: list[tuple[str, ...]] = []
        for document in documents:
            cfg = document.value
            if cfg is None:
                continue
            if not isinstance(cfg, dict):
                self.abort("top-level object must be a mapping", file=name)
            self.problems.remember(name, cfg)
            if self.interpolate:
                lookup = environ.get
                unset: list[str] = []
                interpolate(cfg, lookup, lambda path, msg: self.problems.add(msg, path, tree=cfg), unset=unset)  # noqa: B023 - called before the loop moves on
                if self.problems:
                    raise LoadAbort()
                for variable in dict.fromkeys(unset):
                    warning = f"the \"{variable}\" variable is not set, defaulting to a blank string"
                    if warning not in self.warnings:
                        self.warnings.append(warning)
            if validate and self.validate is not None:
                self.validate(cfg, name, self.problems)
                if self.problems:
                    raise LoadAbort()
            resets = document.reset_paths + document.override_paths
            if extends:
                self.apply_extends(cfg, filename, resource_dir, tracker or [], resets)
            apply_resets(model, resets)
            if include:
                self.apply_include(cfg, working_dir, environ, resource_dir, included + [filename])
            try:
                model = merge.merge(model, cfg)
                model = merge.enforce_unicity(model)
            except merge.MergeError as exc:
                self.abort(str(exc), exc.path)
            if validate and self.validate is not None:
                from stackup.stackfile.shape import check_merged_lists
                for issue in check_merged_lists(model):
                    self.problems.add(issue.message, issue.path)
                if self.problems:
                    raise LoadAbort()
            if "version" in model:
                self.warnings.append(f"{name}: the attribute `version` is obsolete, it will be ignored, "
                                     "please remove it to avoid potential confusion")
                del model["version"]
            model = self.canonical(model, name)
            canon.omit_empty_dns(model)
            try:
                model = merge.enforce_unicity(model)
            except merge.MergeError as exc:
                self.abort(str(exc), exc.path)
        return model, resets

    def canonical(self, model: dict, name: str) -> dict:
        try:
            return canon.canonical_model(model, lenient=not self.interpolate)
        except canon.CanonicalError as exc:
            self.abort(str(exc), exc.path)
        finally:
            self.warnings.extend(w for w in canon.warnings if w not in self.warnings)
            canon.warnings.clear()

    # -- several files ------------------------------------------------------------------

    def load_model(self, files: list[str], working_dir: str, environ: dict[str, str], *,
                   included: list[str] | None = None, resolve_paths: bool = True) -> dict:
        model: dict = {}
        for filename in files:
            model, _ = self.load_file(filename, working_dir, environ, model, included=included or [],
                                      resource_dir=working_dir)
        model = canon.set_defaults(model)
        if self.validate is not None:
            for path, message in validation.check(model):
                self.problems.add(message, path)
            if self.problems:
                raise LoadAbort()
        if resolve_paths:
            try:
                paths.resolve_relative_paths(model, working_dir, environ)
            except paths.PathError as exc:
                self.abort(str(exc), exc.path)
        resolve_environment(model, environ)
        return model

    # -- extends ----------------------------------------------------------------------

    def apply_extends(self, cfg: dict, filename: str, resource_dir: str, tracker: list, resets) -> None:
        services = cfg.get("services")
        if not isinstance(services, dict):
            return
        for name in list(services):
            services[name] = self.extend_service(name, services, filename, resource_dir, tracker, resets)

    def extend_service(self, name: str, services: dict, filename: str, resource_dir: str,
                       tracker: list, resets) -> Any:
        service = services.get(name)
        if not isinstance(service, dict) or "extends" not in service:
            return service
        extends = service["extends"]
        ref: str | None
        if isinstance(extends, str):
            ref, file = extends, None
        elif isinstance(extends, dict):
            ref, file = extends.get("service"), extends.get("file")
            if not isinstance(ref, str):
                self.abort("extends needs the name of a service (`service:`)", ("services", name, "extends"))
        else:
            self.abort("extends must be a service name or a mapping", ("services", name, "extends"))
        base_resets: list = []
        if file is not None:
            ref_path = os.path.normpath(os.path.join(resource_dir, os.path.expanduser(str(file))))
            services_of, base_resets = self.extends_base_from_file(name, ref, filename, ref_path, tracker)
            source_file, base_dir = ref_path, os.path.dirname(ref_path)
        else:
            if ref not in services:
                self.abort(f"cannot extend service \"{name}\" in {self.display(filename)}: "
                           f"service \"{ref}\" not found", ("services", name, "extends"))
            services_of, source_file, base_dir = services, filename, resource_dir
        key = (source_file, name)
        if key in tracker:
            chain = " -> ".join(f"{s}" for _f, s in tracker + [key])
            self.abort(f"circular reference with extends: {chain}", ("services", name, "extends"))
        tracker = tracker + [key]
        base = self.extend_service(ref, services_of, source_file, base_dir, tracker, base_resets)
        if base is None:
            return service
        source = copy.deepcopy(base)
        apply_resets({"services": {name: source}}, resets)
        try:
            merged = merge.merge(source, service, ("services", "x"))
        except merge.MergeError as exc:
            self.abort(str(exc), ("services", name) + tuple(exc.path[2:]))
        merged.pop("extends", None)
        services[name] = merged
        return merged

    def extends_base_from_file(self, name: str, ref: str, filename: str, ref_path: str,
                               tracker) -> tuple[dict, list]:
        """The services of an extended file (paths made absolute) and its `!reset` paths."""
        if not os.path.exists(ref_path):
            self.abort(f"cannot extend service \"{name}\": file {ref_path} not found",
                       ("services", name, "extends", "file"))
        source, resets = self.load_file(ref_path, os.path.dirname(ref_path), self.environ, {},
                                        included=[], resource_dir=os.path.dirname(ref_path), extends=False,
                                        include=False, tracker=tracker)
        services = source.get("services")
        if not isinstance(services, dict):
            self.abort(f"cannot extend service \"{name}\" in {self.display(ref_path)}: no services section",
                       ("services", name, "extends"))
        if ref not in services:
            self.abort(f"cannot extend service \"{name}\" in {self.display(filename)}: service \"{ref}\" "
                       f"not found in {self.display(ref_path)}", ("services", name, "extends"))
        try:
            paths.resolve_relative_paths(source, os.path.dirname(ref_path), self.environ)
        except paths.PathError as exc:
            self.abort(str(exc), exc.path)
        return services, resets

    # -- include -----------------------------------------------------------------------

    def apply_include(self, cfg: dict, working_dir: str, environ: dict[str, str], resource_dir: str,
                      included: list[str]) -> None:
        entries = cfg.pop("include", None)
        if entries is None:
            return
        if not isinstance(entries, list):
            self.abort("`include` must be a list", ("include",))
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = {"path": [entry]}
            if not isinstance(entry, dict):
                self.abort("an include entry must be a path or a mapping", ("include", str(index)))
            raw_paths = entry.get("path")
            raw_paths = [raw_paths] if isinstance(raw_paths, str) else list(raw_paths or [])
            files = [os.path.normpath(os.path.join(resource_dir, os.path.expanduser(str(p)))) for p in raw_paths]
            if not files:
                self.abort("an include entry needs a path", ("include", str(index)))
            project_directory = entry.get("project_directory")
            if not project_directory:
                project_dir = os.path.dirname(files[0])
            elif not os.path.isabs(str(project_directory)):
                project_dir = os.path.normpath(os.path.join(working_dir, str(project_directory)))
            else:
                project_dir = str(project_directory)
            if files[0] in included:
                chain = " -> ".join(self.display(f) for f in included + [files[0]])
                self.abort(f"include cycle detected: {chain}", ("include", str(index)))
            env_files = entry.get("env_file")
            env_files = [env_files] if isinstance(env_files, str) else list(env_files or [])
            if not env_files:
                default = os.path.join(project_dir, ".env")
                env_paths = [Path(default)] if os.path.isfile(default) else []
            else:
                env_paths = [Path(f if os.path.isabs(f) else os.path.join(working_dir, f)) for f in env_files]
            try:
                from_file = envfile.read_files(env_paths, environ)
            except envfile.EnvFileError as exc:
                self.abort(str(exc), ("include", str(index), "env_file"))
            env = dict(environ)
            for key, value in from_file.items():
                env.setdefault(key, value)
            for f in files:
                if not os.path.exists(f):
                    self.abort(f"included file {f} not found", ("include", str(index), "path"))
            imported = self.load_model(files, project_dir, env, included=included)
            self.import_resources(imported, cfg)

    def import_resources(self, source: dict, target: dict) -> None:
        for key in ("services", "volumes", "networks", "secrets", "configs", "models"):
            resources = source.get(key)
            if not resources:
                continue
            existing = target.get(key)
            if not isinstance(existing, dict):
                existing = {}
            for name, value in resources.items():
                if name in existing:
                    if existing[name] == value:
                        continue
                    self.abort("also defined, differently, by an included file (define it in one place)", (key, name))
                existing[name] = value
            target[key] = existing


def apply_resets(model: dict, resets: list[tuple[str, ...]]) -> None:
    """Remove from `model` what a later file marked `!reset` or `!override`."""
    if not resets:
        return

    def walk(node, path):
        if isinstance(node, dict):
            for key in list(node):
                nxt = path + (key,)
                if any(pathmatch.matches(nxt, pattern) for pattern in resets):
                    del node[key]
                    continue
                walk(node[key], nxt)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, path + (f"[{index}]",))

    walk(model, ())


def resolve_environment(model: dict, environ: dict[str, str]) -> None:
    """`environment: [KEY]` takes KEY's value from the project environment when set."""
    for service in (model.get("services") or {}).values():
        if not isinstance(service, dict):
            continue
        env = service.get("environment")
        if isinstance(env, list):
            out = []
            for item in env:
                if not isinstance(item, str):
                    continue
                if item in environ:
                    out.append(f"{item}={environ[item]}")
                else:
                    out.append(item)
            service["environment"] = out
    for kind, attr in (("secrets", "x-#content"),):
        for resource in (model.get(kind) or {}).values():
            if isinstance(resource, dict) and isinstance(resource.get("environment"), str):
                if resource["environment"] in environ:
                    resource[attr] = environ[resource["environment"]]
