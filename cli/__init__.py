"""stackeye.cli: the `stackeye` command."""
