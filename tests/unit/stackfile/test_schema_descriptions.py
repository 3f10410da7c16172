"""Every attribute of the stack file schema has a help text for editors, and every text a place."""

from __future__ import annotations

from stackup.stackfile.descriptions import SERVICE, TOP
from stackup.stackfile.schema import schema
from stackup.stackfile.subdescriptions import NESTED


def _mappings(document: dict) -> dict[str, dict]:
    return {"(top)": document, **document["$defs"]}


def test_every_property_has_a_description():
    missing = [f"{name}.{key}" for name, node in _mappings(schema()).items()
               for key, prop in node.get("properties", {}).items() if not prop.get("description")]
    assert missing == []


def test_every_description_names_a_property():
    mappings = _mappings(schema())
    texts = {"(top)": TOP, "ServiceModel": SERVICE, **NESTED}
    unknown = [f"{name}.{key}" for name, keys in texts.items() for key in keys
               if key not in mappings.get(name, {}).get("properties", {})]
    assert unknown == []
