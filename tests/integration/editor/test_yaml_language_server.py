"""schemas/stackup.schema.json in the real yaml-language-server, driven over stdio as an editor does."""

import shutil
from pathlib import Path

import pytest

from stackup.testing.lsp import LanguageServer, labels, position

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO / "schemas" / "stackup.schema.json"
SERVER = REPO / ".tools" / "node_modules" / ".bin" / "yaml-language-server"

if not (shutil.which("node") and shutil.which("npm")):
    pytest.skip("needs node and npm (the yaml-language-server runs on node)", allow_module_level=True)

# the blanks after `condition:` and on the last line are where completion is asked for
STACK = "\n".join([
    "services:",
    "  web:",
    "    image: nginx",
    "    depends_on:",
    "      db:",
    "        condition: ",
    "    healthcheck: 5",
    "    imgae: nginx",
    "    develop:",
    "      watch: []",
    "  db:",
    "    restart: always",
    "    ",
])


@pytest.fixture
def server(tmp_path):
    assert SERVER.exists(), "no yaml-language-server in .tools: run ./scripts/setup"
    ls = LanguageServer([str(SERVER), "--stdio"], cwd=tmp_path)
    try:
        # the checkout is the editor's workspace folder (relative schema paths start there)
        ls.request("initialize", {"processId": None, "rootUri": REPO.as_uri(), "capabilities": {
            "workspace": {"configuration": True},
            "textDocument": {"completion": {"completionItem": {"snippetSupport": False}},
                             "hover": {"contentFormat": ["markdown", "plaintext"]},
                             "publishDiagnostics": {}}}})
        configure(ls, {}, notify="initialized")
        yield ls
    finally:
        ls.close()


def configure(ls, schemas, notify="workspace/didChangeConfiguration"):
    """The YAML extension's settings (`yaml.schemas` included), which the server asks the editor for.

    The schema store (a download) is off, so the settings apply as soon as they are answered:
    what is sent afterwards sees them."""
    ls.settings["yaml"] = {"validate": True, "hover": True, "completion": True,
                           "schemaStore": {"enable": False}, "schemas": schemas}
    ls.notify(notify, {} if notify == "initialized" else {"settings": None})
    ls.wait_for("workspace/configuration")


def open_file(ls, path: Path, text: str) -> list:
    """Open a stack file as an editor does; the diagnostics the server publishes for it."""
    path.write_text(text)
    ls.notify("textDocument/didOpen", {"textDocument": {
        "uri": path.as_uri(), "languageId": "yaml", "version": 1, "text": text}})
    published = ls.wait_for("textDocument/publishDiagnostics")
    assert published["uri"] == path.as_uri()
    return published["diagnostics"]


def complete(ls, path: Path, text: str, marker: str) -> set:
    return labels(ls.request("textDocument/completion", {
        "textDocument": {"uri": path.as_uri()}, "position": position(text, marker)}))


def hover(ls, path: Path, text: str, marker: str) -> str:
    answer = ls.request("textDocument/hover", {
        "textDocument": {"uri": path.as_uri()}, "position": position(text, marker)})
    return answer["contents"]["value"]


def test_modeline_schema_completes_hovers_and_checks(server, tmp_path):
    text = f"# yaml-language-server: $schema={SCHEMA.as_uri()}\n{STACK}"
    stack = tmp_path / "stack.yaml"
    diagnostics = open_file(server, stack, text)

    in_service = complete(server, stack, text, "always\n    ")
    assert {"image", "depends_on", "healthcheck", "develop", "build"} <= in_service
    assert complete(server, stack, text, "condition: ") >= {
        "service_started", "service_healthy", "service_completed_successfully"}

    assert "Services to start first" in hover(server, stack, text, "    dep")
    assert "files to sync into the container" in hover(server, stack, text, "    dev")
    assert "When the dependent may start" in hover(server, stack, text, "    cond")

    def on_line(marker):
        return [d["message"] for d in diagnostics if d["range"]["start"]["line"] == position(text, marker)["line"]]
    assert on_line("imgae") == ["Property imgae is not allowed."]
    assert on_line("healthcheck: 5") == ['Incorrect type. Expected "Healthcheck | null".']


def test_vscode_setting_finds_compose_files_without_modeline(server, tmp_path):
    """The README's `yaml.schemas` setting: compose*.yaml files get the schema by their name."""
    configure(server, {"./schemas/stackup.schema.json": ["compose*.yaml", "compose*.yml"]})
    stack = tmp_path / "compose.dev.yaml"
    diagnostics = open_file(server, stack, STACK)
    assert {"image", "depends_on", "healthcheck"} <= complete(server, stack, STACK, "always\n    ")
    assert any("imgae" in d["message"] for d in diagnostics)
