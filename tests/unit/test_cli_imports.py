"""Guards what the CLI process of `up` and `down` imports (issue 6: their speed is
mostly Python's import time). A fresh interpreter runs `up --dry-run` and `down
--dry-run` through the real entry point, then imports the modules a real `up`/`down`
loads to carry out a plan (a dry run never gets there), and must not have loaded any
of the standard library modules below: none of them is needed on these paths, and
each costs milliseconds (bench/cli_imports.py measures them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

# module -> who used to pull it in, and where it belongs instead. (secrets and random
# would belong here too, but engine/network/names.py still imports secrets at the top.)
NOT_ON_UP_DOWN = {
    "concurrent.futures": "the executor (plain threads do; it loads logging)",
    "logging": "concurrent.futures",
    "tempfile": "engine.state's atomic writes, the image store (only writers of content need it)",
    "shlex": "spec.render and image configs (only commands given as strings)",
    "ctypes.util": "images.diskio (only writers of layers and blobs)",
}

# What `up`/`down` import beyond a dry run: the executor and the engine it drives.
EXECUTION_MODULES = [
    "stackup.project.executor",
    "stackup.project.engine_adapter",
    "stackup.engine.runtime.container",
    "stackup.engine.runtime.launch",
    "stackup.engine.runtime.health",
    "stackup.engine.volumes",
    "stackup.engine.images.store",
    "stackup.engine.network.endpoints",
    "stackup.engine.network.portmap",
]

PROGRAM = """
import importlib, json, sys
from stackup.cli.main import main
codes = [main(["--progress", "quiet", "up", "-d", "--dry-run"]), main(["--progress", "quiet", "down", "-v", "--dry-run"])]
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_up_and_down_do_not_import_heavy_modules_they_do_not_need(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "compose.yaml").write_text(yaml.safe_dump(
        {"name": "importguard",
         "services": {"app": {"image": "busybox:latest", "init": True, "command": ["sleep", "1000"]}}}))
    env = {"PATH": "/usr/bin:/bin", "STACKUP_ROOT": str(tmp_path / "root"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *EXECUTION_MODULES], cwd=stack, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["codes"] == [0, 0], proc.stderr
    loaded = {name: why for name, why in NOT_ON_UP_DOWN.items() if name in result["modules"]}
    assert not loaded, f"up/down now import: {loaded}"
