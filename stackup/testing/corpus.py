"""Where the Compose conformance corpus is: `$STACKUP_CONFORMANCE`, else the team's
`shared/conformance` beside the repository (as CI lays it out), else /work/shared."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def conformance_dir() -> Path:
    if os.environ.get("STACKUP_CONFORMANCE"):
        return Path(os.environ["STACKUP_CONFORMANCE"])
    for candidate in (REPO.parent / "shared" / "conformance", Path("/work/shared/conformance")):
        if (candidate / "cases").is_dir():
            return candidate
    return REPO.parent / "shared" / "conformance"


CONFORMANCE_CASES = conformance_dir() / "cases"
