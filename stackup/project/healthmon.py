"""`python -m stackup.project.healthmon CONTAINER_ID`: the health monitor process of
one container run (see `stackup.project.health`)."""

import sys


def main(argv: list[str]) -> int:
    from stackup.engine.runtime.container import Runtime
    from stackup.project.health import run_monitor

    return run_monitor(Runtime(), argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
