"""The root Typer app: the global options every compose-level command shares.

Kept apart from `main` so that Typer is imported only when a command runs (not
for `stackup --help`), and so Typer can resolve the callback's annotations here.
"""

from pathlib import Path

import typer

from stackup.cli.options import GlobalOptions


def make_root_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None,
                      context_settings={"help_option_names": ["-h", "--help"]})

    @app.callback()
    def root(
        ctx: typer.Context,
        file: list[str] = typer.Option([], "-f", "--file", help="Compose configuration file"),
        project_name: str = typer.Option(None, "-p", "--project-name", help="Project name"),
        project_directory: str = typer.Option(None, "--project-directory", help="Working directory"),
        env_file: list[str] = typer.Option([], "--env-file", help="Alternate environment file"),
        profile: list[str] = typer.Option([], "--profile", help="Enable a profile"),
        progress: str = typer.Option("auto", "--progress", help="auto, tty, plain or quiet"),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks of failures"),
    ) -> None:
        """Compose-style stacks on stackup's embedded container engine."""
        ctx.obj = GlobalOptions(
            files=list(file), project_name=project_name,
            project_directory=Path(project_directory) if project_directory else None,
            env_files=list(env_file), profiles=list(profile), debug=debug, progress=progress)

    return app
