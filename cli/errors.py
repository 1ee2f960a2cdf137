"""Errors every subcommand may raise."""


class UsageError(Exception):
    """Bad flags or config: printed with the fix, exit code 2."""
