"""The entry point: lazy command lookup, static help, and one-line error reports."""

from stackup.cli import commands, main
from stackup.errors import UserError


def test_command_name_skips_global_options_and_their_values():
    assert main.command_name(["-f", "a.yaml", "-p", "x", "--debug", "up", "-d"]) == "up"
    assert main.command_name(["--profile", "dev", "config"]) == "config"
    assert main.command_name(["--debug"]) is None


def test_static_help_lists_only_installed_commands():
    text = main.static_help()
    assert text.startswith(main.USAGE)
    for name in commands.available():
        assert f"  {name} " in text
    missing = set(commands.COMMANDS) - set(commands.available())
    for name in missing:
        assert f"\n  {name} " not in text


def test_user_error_is_one_line_per_problem_with_exit_code_2(capsys):
    error = UserError("two problems", problems=["a.yaml:1:1: first", "a.yaml:2:1: second"])
    assert main.report(error, debug=False) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["stackup: a.yaml:1:1: first", "stackup: a.yaml:2:1: second"]
    assert "Traceback" not in err


def test_unexpected_error_names_itself_and_hides_traceback(capsys):
    assert main.report(RuntimeError("boom"), debug=False) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_debug_shows_traceback(capsys):
    try:
        raise UserError("bad")
    except UserError as exc:
        main.report(exc, debug=True)
    assert "Traceback" in capsys.readouterr().err


def test_line_breaks_from_user_data_stay_on_one_line(capsys):
    error = UserError('service "a\nb" depends on undefined service "c"')
    assert error.lines() == ['service "a\\nb" depends on undefined service "c"']
    main.report(error, debug=False)
    assert len(capsys.readouterr().err.splitlines()) == 1
