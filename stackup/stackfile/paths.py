"""Relative paths of a stack file made absolute (against the file's project folder)."""

from __future__ import annotations

import os
import posixpath

from stackup.stackfile import pathmatch


class PathError(Exception):
    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


def expand_user(path: str, environ: dict[str, str]) -> str:
    if path.startswith("~"):
        home = environ.get("HOME") or os.path.expanduser("~")
        return os.path.join(home, path[1:].lstrip("/")) if path[1:] else home
    return path


def _is_windows_abs(path: str) -> bool:
    return len(path) >= 3 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"


def resolve_relative_paths(model: dict, base: str, environ: dict[str, str]) -> None:
    def abs_path(value):
        if isinstance(value, list):
            return [abs_path(v) for v in value]
        if not isinstance(value, str):
            return value
        value = expand_user(value, environ)
        if os.path.isabs(value) or not value:
            return value
        return os.path.normpath(os.path.join(base, value))

    def maybe_unix(value):
        if not isinstance(value, str):
            return value
        value = expand_user(value, environ)
        if posixpath.isabs(value) or _is_windows_abs(value):
            return value
        return os.path.normpath(os.path.join(base, value))

    def context(value):
        if not isinstance(value, str):
            return value
        if "://" in value or value.startswith("service:"):
            return value
        if value.startswith(("https://", "http://", "git://", "ssh://", "github.com/", "git@")):
            return value
        return abs_path(value)

    def volume_mount(value, path):
        if isinstance(value, dict) and value.get("type") == "bind":
            if "source" not in value:
                raise PathError(path, 'invalid mount config for type "bind": field Source must not be empty')
            value["source"] = maybe_unix(value["source"])
        return value

    def volume_driver_opts(value, path):
        if not isinstance(value, dict) or value.get("driver") != "local":
            return value
        opts = value.get("driver_opts")
        if isinstance(opts, dict) and opts.get("o") == "bind" and "device" in opts:
            opts["device"] = maybe_unix(opts["device"])
        return value

    def extends_file(value):
        return abs_path(value)

    resolvers = pathmatch.compile_table({
        "services.*.build.context": lambda v, p: context(v),
        "services.*.build.additional_contexts.*": lambda v, p: context(v),
        "services.*.build.ssh.*": lambda v, p: maybe_unix(v),
        "services.*.env_file.*.path": lambda v, p: abs_path(v),
        "services.*.label_file.*": lambda v, p: abs_path(v),
        "services.*.extends.file": lambda v, p: extends_file(v),
        "services.*.develop.watch.*.path": lambda v, p: abs_path(v),
        "services.*.volumes.*": volume_mount,
        "configs.*.file": lambda v, p: maybe_unix(v),
        "secrets.*.file": lambda v, p: maybe_unix(v),
        "volumes.*": volume_driver_opts,
    })

    def walk(value, path):
        resolver = pathmatch.lookup(resolvers, path)
        if resolver is not None:
            return resolver(value, path)
        if isinstance(value, dict):
            for key in list(value):
                value[key] = walk(value[key], path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = walk(item, path + (str(index),))
        return value

    walk(model, ())
