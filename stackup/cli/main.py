"""The `stackup` entry point: global options, lazy command loading, error reporting.

Only the module of the command being run is imported, and `stackup --help` is
answered from the command table without importing Typer at all.
"""

import os
import sys

from stackup.cli import commands

GLOBAL_VALUE_OPTIONS = {"-f", "--file", "-p", "--project-name", "--project-directory",
                        "--env-file", "--profile", "--progress"}

# Commands that may create or remove links: they start the link worker before anything else.
LINK_COMMANDS = {"up", "down", "run", "start", "restart", "stop", "kill", "rm"}
LINK_SUBCOMMANDS = {"network": {"create", "rm", "prune", "connect", "disconnect"},
                    "container": {"run", "create", "start", "restart", "stop", "kill", "rm", "prune"}}

USAGE = "Usage: stackup [OPTIONS] COMMAND [ARGS]..."

GLOBAL_HELP = [
    ("-f, --file FILE", "Compose configuration file (repeatable, '-' for stdin)"),
    ("-p, --project-name NAME", "Project name"),
    ("--project-directory DIR", "Alternate working directory (default: folder of the first file)"),
    ("--env-file FILE", "Alternate environment file (repeatable)"),
    ("--profile NAME", "Enable a profile (repeatable, '*' for all)"),
    ("--progress MODE", "auto, tty, plain or quiet"),
    ("--debug", "Show tracebacks of failures"),
    ("--version", "Show the version and exit"),
    ("--help", "Show this message and exit"),
]


def static_help() -> str:
    lines = [USAGE, "", "  Compose-style stacks on stackup's embedded container engine.", "", "Options:"]
    lines += [f"  {flag:<28} {text}" for flag, text in GLOBAL_HELP]
    lines += ["", "Commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in commands.available().items()]
    return "\n".join(lines) + "\n"


def command_name(argv: list[str]) -> str | None:
    """The first word of argv that is not a global option or its value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_VALUE_OPTIONS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def touches_links(argv: list[str]) -> bool:
    """Whether the command will likely add or remove bridges or veths (see linkworker)."""
    if "--help" in argv or "--dry-run" in argv:
        return False
    name = command_name(argv)
    if name in LINK_SUBCOMMANDS:
        rest = argv[argv.index(name) + 1:]
        return bool(rest) and rest[0] in LINK_SUBCOMMANDS[name]
    return name in LINK_COMMANDS


def build_app(name: str | None):
    """The root Typer app with the named command registered (all of them if unknown)."""
    import importlib

    from stackup.cli.root import make_root_app

    app = make_root_app()
    table = commands.available()
    modules = [table[name][0]] if name in table else sorted({m for m, _ in table.values()})
    for module in modules:
        importlib.import_module(module).register(app)
    return app


def report(exc: BaseException, debug: bool) -> int:
    """Print a failure as one line per problem (a traceback only with --debug)."""
    from stackup.errors import StackupError

    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, StackupError):
        for line in exc.lines():
            print(f"stackup: {line}", file=sys.stderr)
        return exc.exit_code
    print(f"stackup: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    if not debug:
        print("stackup: run again with --debug for a traceback", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("STACKUP_DEBUG") == "1"
    if debug:
        from stackup.engine import notices

        notices.set_debug(True)
    if not argv or argv in (["--help"], ["-h"]):
        sys.stdout.write(static_help())
        return 0
    if argv == ["--version"]:
        from stackup import __version__

        print(f"stackup version {__version__}")
        return 0
    try:
        if touches_links(argv):
            from stackup.engine.network import linkworker

            if linkworker.prefetch():  # pyroute2 loads on the other core while typer and the stack file do
                try:
                    return run(argv, debug)
                finally:
                    for failure in linkworker.finish():  # links deleted in the background
                        print(f"stackup: warning: {failure}", file=sys.stderr)
        return run(argv, debug)
    finally:
        report_repairs()


def report_repairs() -> None:
    """One line for what the engine repaired of an interrupted command's leftovers."""
    notices = sys.modules.get("stackup.engine.notices")  # loaded only by an engine that may repair
    line = notices.repairs_summary() if notices is not None else None
    if line:
        print(f"stackup: {line}", file=sys.stderr)


def run(argv: list[str], debug: bool) -> int:
    """Parse and run the command; failures reported as one line each."""
    try:
        import typer.main
        from typer import exceptions as typer_exceptions  # Abort and Exit live here since typer vendors click
        from typer._click import exceptions as click_exceptions

        command = typer.main.get_command(build_app(command_name(argv)))
        try:
            result = command.main(args=argv, prog_name="stackup", standalone_mode=False)
        except click_exceptions.ClickException as exc:
            exc.show()
            return exc.exit_code
        except typer_exceptions.Abort:
            print("Aborted.", file=sys.stderr)
            return 130
        except typer_exceptions.Exit as exc:
            return exc.exit_code
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place every failure is reported
        return report(exc, debug)
