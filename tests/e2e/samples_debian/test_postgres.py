"""samples/postgres: Debian's PostgreSQL in a built image, healthy by pg_isready, its
password from a file, a one-off `stackup run` making a table; the row outlives
`down` and `up`, and `down -v` takes it away with the volume."""

import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "postgres"
SELECT = ["psql", "-U", "postgres", "-tAc", "SELECT body FROM notes"]


def test_postgres_sample(stackup_stack, tmp_path):
    project = tmp_path / "postgres"
    shutil.copytree(SAMPLE, project)
    stack = stackup_stack(project, wait=True)
    assert [(c["Service"], c["Health"]) for c in stack.ps()] == [("db", "healthy")]

    stack("--profile", "tools", "run", "--rm", "migrate")
    assert stack.exec("db", SELECT).stdout == "kept across down and up\n"
    # over TCP the password is required: the wrong one is refused
    wrong = stack.exec("db", "PGPASSWORD=wrong psql -h 127.0.0.1 -U postgres -c 'SELECT 1'", check=False)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr

    stack("down")
    stack("up", "-d", "--wait")
    assert stack.exec("db", SELECT).stdout == "kept across down and up\n"

    stack("down", "-v")
    stack("up", "-d", "--wait")
    gone = stack.exec("db", SELECT, check=False)
    assert gone.returncode != 0 and 'relation "notes" does not exist' in gone.stderr
