"""The one exception type users see: a one-line message that names what is wrong and what to do.

Every module raises `EdgeRnnError` for bad input; the CLI prints its message as a single
line and exits with `exit_code`, so no TensorFlow traceback ever reaches the user.
"""

from __future__ import annotations


class EdgeRnnError(Exception):
    """A user-facing error. `str(err)` is the complete one-line message."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def with_paths(self, shown: dict[str, str]) -> EdgeRnnError:
        """The same error naming the user's paths instead of internal ones (a temporary build
        directory, a copy of the user's file): `shown` maps internal -> user path."""
        message = str(self)
        for internal, user in sorted(shown.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(internal, user)
        return type(self)(message, exit_code=self.exit_code)


class ToolCrashed(EdgeRnnError):
    """A tool we drive (converter, interpreter) crashed or timed out: not a refusal of the
    model, so the artefact should have been produced (a build records it as skipped)."""


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C so temporary directories and children are removed."""


class ValidationFailed(EdgeRnnError):
    """Validation ran, and at least one stage missed its thresholds (exit code 1)."""

    exit_code = 1
