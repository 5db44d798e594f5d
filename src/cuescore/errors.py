"""Errors that carry a message for the user.

`CuescoreError` and its subclasses are problems with the user's input or options: the CLI
prints their message on one line and exits with status 2. Anything else is an internal
failure (exit 1).
"""


class CuescoreError(Exception):
    """A problem the user can fix; the message says what it is and what to do."""


class InputError(CuescoreError):
    """An input file is missing, empty, unreadable or of the wrong kind."""


class OptionError(CuescoreError):
    """An option value is out of range or malformed."""


class OutputError(CuescoreError):
    """An output path cannot be written."""
