"""The JSON schema of stack files, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_ID = "https://stackup.dev/schemas/stackup.schema.json"
DEFAULT_PATH = Path("schemas") / "stackup.schema.json"
# the copy inside the package is what `config` validates files against (see shape.py)
PACKAGE_COPY = Path(__file__).with_name("stackup.schema.json")


def schema() -> dict:
    from stackup.stackfile.models import ComposeFile

    document = ComposeFile.model_json_schema(mode="validation")
    _close_name_patterns(document)
    _describe(document)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **document}


def _close_name_patterns(node) -> None:
    """Mappings keyed by constrained names accept no other keys (as the models validate)."""
    if isinstance(node, dict):
        if "patternProperties" in node and "properties" not in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_name_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_patterns(value)


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def _describe(document: dict) -> None:
    """Help texts for editors (hover and completion), and the marks of what stackup cannot run."""
    from stackup.stackfile.descriptions import SERVICE, TOP, UNSUPPORTED_NOTE
    from stackup.stackfile.subdescriptions import NESTED
    from stackup.stackfile.support import UNSUPPORTED_SERVICE_KEYS

    for key, text in TOP.items():
        if key in document.get("properties", {}):
            document["properties"][key]["description"] = text
    service = document.get("$defs", {}).get("ServiceModel", {})
    for key, prop in service.get("properties", {}).items():
        text = " ".join(t for t in (SERVICE.get(key), key in UNSUPPORTED_SERVICE_KEYS and UNSUPPORTED_NOTE) if t)
        if text:
            prop["description"] = text
        if key in UNSUPPORTED_SERVICE_KEYS:
            prop["x-stackup-unsupported"] = True
    for model, texts in NESTED.items():
        for key, prop in document["$defs"].get(model, {}).get("properties", {}).items():
            if key in texts:
                prop["description"] = texts[key]
