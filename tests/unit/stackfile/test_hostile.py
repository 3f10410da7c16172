"""The stack file as hostile input: `config` and `up --dry-run` end in one clean line, in bounds.

Each run is the CLI's entry point in a forked child with a memory limit and a deadline (see
hostile.py): a bomb that got through would fail its own run, not the test process. The fuzz
test is derandomized (the same examples every run, so CI is reproducible); bench/spec_fuzz.py
runs as many mutations as asked, each replayable from its seed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackup.stackfile import yamlpos
from tests.unit.stackfile import hostile

SEEDS = hostile.seed_projects()


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_mutated_projects_end_cleanly_within_bounds(tmp_path_factory, seed, rng):
    into = tmp_path_factory.mktemp("mutant")
    mutant = hostile.mutate(seed, into, rng)
    for outcome in hostile.run_both(mutant, into / "root"):
        assert outcome.problem() is None, (mutant.changes, outcome.argv, outcome.problem())


def test_the_seeds_load_unmutated(tmp_path):
    """The fuzz starts from valid projects (else every mutant would fail at the same place)."""
    for seed in hostile.SEEDS.iterdir():
        argv = hostile.case_argv(seed)
        outcome = hostile.run_bounded(argv, seed, dict(hostile.conformance.environ_of(seed),
                                                      STACKUP_ROOT=str(tmp_path / "root")))
        assert outcome.code == 0, (seed.name, outcome.err)


# -- one regression per hostile file found by the fault trials ------------------------------

def run(tmp_path: Path, text: str | bytes, *argv: str, files: dict[str, str | bytes] | None = None):
    """`stackup ARGV` (default `config`) on a project of one compose.yaml and `files`, bounded."""
    for name, content in {"compose.yaml": text, **(files or {})}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    environ = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "STACKUP_ROOT": str(tmp_path / "root")}
    return hostile.run_bounded(list(argv) or ["config"], tmp_path, environ, seconds=20)


def one_line_error(outcome) -> str:
    """The run ended as bad input should: exit code 2 and a single line on stderr."""
    assert outcome.problem() is None, outcome.problem()
    assert outcome.code == 2, outcome.err
    lines = outcome.err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    lines = ["x-a0: &a0 [" + ", ".join(["lol"] * fan) + "]"]
    lines += [f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nservices:\n  web:\n    image: nginx\n    command: *a{levels - 1}\n"


@pytest.mark.parametrize("argv", [["config"], ["up", "--dry-run"]])
def test_an_alias_bomb_is_refused_at_once(tmp_path, argv):
    started = time.monotonic()
    line = one_line_error(run(tmp_path, billion_laughs(), *argv))
    assert line.startswith("stackup: compose.yaml:1:") and "excessive aliasing" in line, line
    assert time.monotonic() - started < 10


def test_a_long_string_aliased_thousands_of_times_is_refused(tmp_path):
    uses = "\n".join(f"      V{i}: *s" for i in range(2000))
    text = f"x-s: &s '{'x' * 100_000}'\nservices:\n  web:\n    image: nginx\n    environment:\n{uses}\n"
    line = one_line_error(run(tmp_path, text))
    assert line.startswith("stackup: compose.yaml:1:6: services.web.environment.V") and \
        "aliases copy more than 16 MiB of text" in line, line


def test_aliases_as_real_files_use_them_still_load(tmp_path):
    """A shared block aliased by many services, and merge keys: far inside the bounds."""
    services = "\n".join(f"  s{i}:\n    <<: *common\n    image: img{i}" for i in range(300))
    text = ("x-common: &common\n  restart: always\n  environment: &env {A: '1', B: '2'}\n"
            "  labels: [a=b, c=d]\nservices:\n" + services + "\n")
    outcome = run(tmp_path, text, "config", "--format", "json")
    assert outcome.code == 0, outcome.err
    assert '"restart": "always"' in outcome.out


def test_merging_a_mapping_of_many_keys_takes_linear_time():
    keys = ", ".join(f"k{i}: v" for i in range(20_000))
    started = time.monotonic()
    document = yamlpos.load_documents(f"x-wide: &wide {{{keys}}}\nx-merged: {{<<: [*wide, *wide]}}\n", "f")
    assert len(document[0].value["x-merged"]) == 20_000
    assert time.monotonic() - started < 10  # was quadratic: 28 s


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}")])
@pytest.mark.parametrize("depth", [330, 1000, 5000])
def test_deep_nesting_is_refused_where_it_starts(tmp_path, opener, closer, depth):
    text = f"services:\n  web:\n    image: nginx\n    x-deep: {opener * depth}x{closer * depth}\n"
    line = one_line_error(run(tmp_path, text))
    assert "stackup: compose.yaml:4:" in line and "nests deeper than 128 levels" in line, line


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_deepest_nesting_allowed_goes_through_every_step(tmp_path, fmt):
    """Interpolation, merging, normalizing and both renderers handle MAX_DEPTH levels."""
    levels = yamlpos.MAX_DEPTH - 3  # under services.web.x-deep
    text = f"services:\n  web:\n    image: nginx\n    x-deep: {'{a: ' * levels}'${{X:-1}}'{'}' * levels}\n"
    outcome = run(tmp_path, text, "config", "--format", fmt)
    assert outcome.code == 0, outcome.err
    outcome = run(tmp_path, text, "up", "--dry-run")
    assert outcome.code == 0, outcome.err


def test_deeply_nested_variables_are_refused_with_their_place(tmp_path):
    template = "${A:-" * 1000 + "x" + "}" * 1000
    line = one_line_error(run(tmp_path, f'services:\n  web:\n    image: "{template}"\n'))
    assert line.startswith("stackup: compose.yaml:3:12: services.web.image: invalid interpolation: "
                           "variables nest deeper than 64 levels"), line


def test_nested_variables_within_the_bound_still_resolve(tmp_path):
    template = "${A:-" * 60 + "deep" + "}" * 60
    outcome = run(tmp_path, f'services:\n  web:\n    image: "{template}"\n', "config", "--format", "json")
    assert outcome.code == 0, outcome.err
    assert '"image": "deep"' in outcome.out


GOOD = "services:\n  web:\n    image: nginx\n"


def test_a_stack_file_that_is_not_utf8_is_refused_with_the_place(tmp_path):
    line = one_line_error(run(tmp_path, b"services:\n  web:\n    image: \"ng\xffinx\"\n"))
    assert line == "stackup: compose.yaml:3:15: not UTF-8 text (byte 0xff); save the file as UTF-8"


def test_a_dot_env_that_is_not_utf8_is_refused_with_the_place(tmp_path):
    line = one_line_error(run(tmp_path, GOOD, files={".env": b"A=1\nB=\xc3(\n"}))
    assert line == f"stackup: {tmp_path}/.env:2:3: not UTF-8 text (byte 0xc3); save the file as UTF-8"


def test_an_env_file_flag_and_a_second_f_file_that_are_not_utf8(tmp_path):
    line = one_line_error(run(tmp_path, GOOD, "--env-file", "x.env", "config", files={"x.env": b"\xfe"}))
    assert line.endswith("x.env:1:1: not UTF-8 text (byte 0xfe); save the file as UTF-8"), line
    line = one_line_error(run(tmp_path, GOOD, "-f", "compose.yaml", "-f", "o.yaml", "config",
                              files={"o.yaml": b"services:\n  web:\n    command: \xed\xa0\x80\n"}))
    assert line == "stackup: o.yaml:3:14: not UTF-8 text (byte 0xed); save the file as UTF-8"


@pytest.mark.parametrize("attribute", ["env_file", "label_file"])
def test_env_and_label_files_that_are_not_utf8(tmp_path, attribute):
    text = GOOD + f"    {attribute}: ./bad.txt\n"
    line = one_line_error(run(tmp_path, text, files={"bad.txt": b"A=1\n\n  B=\x80\n"}))
    assert line.startswith("stackup: compose.yaml:4:") and f"services.web.{attribute}: failed to read " in line
    assert line.endswith("bad.txt: line 3, column 5: not UTF-8 text (byte 0x80); save the file as UTF-8"), line


def test_a_file_mode_that_is_not_a_number_is_refused(tmp_path):
    text = GOOD + "    secrets: [{source: s, mode: .inf}]\nsecrets:\n  s: {file: ./s}\n"
    line = one_line_error(run(tmp_path, text))
    assert line == "stackup: compose.yaml:4:33: services.web.secrets[0].mode: invalid file mode inf " \
                   "(an octal number like 0440)"


def test_a_long_env_file_reads_in_linear_time():
    from stackup.stackfile import envfile

    text = "".join(f"KEY{i}=value{i}\n" for i in range(100_000))
    started = time.monotonic()
    assert len(envfile.parse(text)) == 100_000
    assert time.monotonic() - started < 20  # was quadratic: about 80 s


def test_a_large_variable_used_thousands_of_times_is_refused(tmp_path):
    uses = "".join(f"      V{i}: ${{A}}\n" for i in range(2000))
    line = one_line_error(run(tmp_path, GOOD + "    environment:\n" + uses, files={".env": "A=" + "x" * 200_000}))
    assert line.startswith("stackup: compose.yaml:") and \
        "variables expand to more than 16 MiB of text" in line, line
    line = one_line_error(run(tmp_path, f'services:\n  web:\n    image: nginx\n    command: "{"${A}" * 200}"\n'))
    assert line.startswith("stackup: compose.yaml:4:14: services.web.command: variables expand to more than"), line


def test_an_env_file_whose_lines_double_the_one_before_is_refused(tmp_path):
    lines = ["A=" + "x" * 1000] + [f"B{i}=${{{'A' if i == 0 else f'B{i - 1}'}}}${{{'A' if i == 0 else f'B{i - 1}'}}}"
                                    for i in range(40)]
    line = one_line_error(run(tmp_path, GOOD, files={".env": "\n".join(lines) + "\n"}))
    assert line.startswith(f"stackup: failed to read {tmp_path}/.env: line ") and \
        line.endswith("variables expand to more than 16 MiB of text (a large value used many times?)"), line


def test_numbers_past_64_bits_read_as_go_yaml_reads_them(tmp_path):
    """A float or text (as compose prints them), never an integer too long to print."""
    text = GOOD + f"x-hex: 0x{'f' * 4000}\nx-dec: {'9' * 40}\nx-huge: {'9' * 400}\nx-max: 18446744073709551615\n"
    outcome = run(tmp_path, text, "config", "--format", "json")
    assert outcome.code == 0, outcome.err
    assert f'"x-hex": "0x{"f" * 4000}"' in outcome.out and '"x-dec": 1e+40' in outcome.out
    assert f'"x-huge": "{"9" * 400}"' in outcome.out and '"x-max": 18446744073709551615' in outcome.out
    assert run(tmp_path, text).code == 0


def test_an_env_file_that_grows_named_by_many_services_is_refused_once(tmp_path):
    lines = ["A=" + "x" * 1000] + [f"B{i}=${{{'A' if i == 0 else f'B{i - 1}'}}}${{{'A' if i == 0 else f'B{i - 1}'}}}"
                                    for i in range(13)]  # about 16 MiB of values for each service
    services = "".join(f"  s{i}:\n    image: nginx\n    env_file: big.env\n" for i in range(100))
    line = one_line_error(run(tmp_path, "services:\n" + services, files={"big.env": "\n".join(lines) + "\n"}))
    assert line.startswith("stackup: compose.yaml:") and f"reading {tmp_path}/big.env: variables expand to " \
        "more than 16 MiB of text" in line, line


def test_a_file_of_thousands_of_documents_is_refused(tmp_path):
    documents = "".join(f"---\nx-k{i}: 1\n" for i in range(20_000))
    line = one_line_error(run(tmp_path, GOOD + documents))
    assert line == "stackup: compose.yaml:203:1: more than 100 YAML documents in one file", line
    outcome = run(tmp_path, GOOD + "".join(f"---\nx-k{i}: 1\n" for i in range(99)))
    assert outcome.code == 0 and "x-k98: 1" in outcome.out, outcome.err


@pytest.mark.parametrize("value, message", [
    ("-1e999", 'services.a.cpus: "-1e999" is not a valid number'),
    (".inf", "services.a.cpus: invalid number of CPUs inf"),
    ("1e300", "services.a.cpus: invalid number of CPUs 1e+300"),  # past a float32: compose's type
])
def test_cpus_out_of_range_are_refused_by_config_and_up(tmp_path, value, message):
    text = f"services:\n  a:\n    image: x\n    cpus: {value}\n"
    for argv in (["config"], ["up", "--dry-run"]):
        assert one_line_error(run(tmp_path, text, *argv)) == f"stackup: compose.yaml:4:11: {message}"
