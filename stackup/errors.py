"""The exceptions every layer raises so the CLI can turn them into one clear line.

A `StackupError` is an expected failure: the CLI prints its message (one line per
problem) without a traceback. Anything else is a bug and is reported as such.
"""

from __future__ import annotations


class StackupError(Exception):
    """An expected failure with a message meant for the user."""

    exit_code = 1

    def __init__(self, message: str, *, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]

    def lines(self) -> list[str]:
        """One line per problem: line breaks that came from user data are shown escaped."""
        return [_one_line(problem) for problem in self.problems]


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class UserError(StackupError):
    """Bad input: a malformed file, an unknown name, a bad flag. Exit code 2."""

    exit_code = 2


class NotFoundError(UserError):
    """A named object (container, image, network, volume, service) does not exist."""


class ConflictError(UserError):
    """The request clashes with what exists: a name in use, a port taken, a volume in use."""


class UnsupportedError(UserError):
    """A valid Compose feature the engine cannot honour yet; always named, never ignored."""
