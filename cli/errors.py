"""Errors every subcommand may raise."""
from stackeye.core.errors import Fatal


class UsageError(Fatal):
    """Bad flags: printed with the fix, exit code 2 (like every :class:`~stackeye.core.errors.Fatal`)."""
