"""stackeye.agent: the host agent (host and middleware metrics, logs, local OTLP relay, shipping).

In code::

    from stackeye.agent import Agent, load_config

    cfg = load_config("/etc/stackeye/agent.toml", {"interval": "30s"})
    agent = Agent(cfg).start()
    agent.run_forever()          # until agent.stop() from another thread or a signal handler

From the shell: ``stackeye agent --collector HOST:PORT`` (see docs/agent.md).
New collectors: one module in ``collectors/`` registered with ``@register`` and listed in
:data:`stackeye.agent.registry.MODULES`.
"""
from __future__ import annotations

__all__ = ["Agent", "AgentConfig", "ConfigError", "load_config", "register"]


def __getattr__(name: str):  # lazy: `import stackeye.agent` stays cheap for the CLI
    if name == "Agent":
        from .runtime import Agent
        return Agent
    if name in ("AgentConfig", "ConfigError"):
        from . import config
        return getattr(config, name)
    if name == "load_config":
        from .config import load
        return load
    if name == "register":
        from .registry import register
        return register
    raise AttributeError(f"module 'stackeye.agent' has no attribute {name!r}")
