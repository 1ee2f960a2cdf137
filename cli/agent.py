"""``stackeye agent``: the host agent (logic in stackeye.agent; this module only parses flags)."""
from __future__ import annotations

import argparse
import signal
import sys

from stackeye.cli.options import add_config_flags, config_from_args, flag_values, flags_argv

HELP = "run the host agent: host and middleware metrics, log tailing, a local OTLP relay, shipping"
EPILOG = """examples:
  stackeye agent --collector 10.0.0.5:4317 --token $TOKEN
  stackeye agent --config /etc/stackeye/agent.toml
  stackeye agent --collector 10.0.0.5:4317 --logs '/var/log/app/*.log' --enable redis --interval 10s
  stackeye agent --collector 10.0.0.5:4317 --enable nginx_access --enable haproxy_access
      # nginx_access reads /var/log/nginx/stackeye.log; have nginx write it (in its http block) with:
      #   log_format stackeye '$time_iso8601 $status $request_time $request_method $proxy_host "$upstream_addr" "$upstream_status" "$upstream_response_time" $host';
      #   access_log /var/log/nginx/stackeye.log stackeye;
      # haproxy_access reads /var/log/haproxy.log: option httplog (docs/agent.md)
  stackeye agent print-config > /etc/stackeye/agent.toml     # every option with its default
  stackeye agent install-service --dry-run                    # print the systemd unit
  stackeye agent install-service --config /etc/stackeye/agent.toml
  stackeye agent set-config --collector 10.0.0.5:4317 --token $TOKEN --interval 30s --enable redis
"""


def configure(p: argparse.ArgumentParser) -> None:
    from stackeye.agent.config import AgentConfig

    p.add_argument("action", nargs="?", default="run", choices=["run", "print-config", "install-service", "set-config"],
                   help="run (default), print-config (every option and its value as TOML), "
                        "install-service (systemd unit running as an unprivileged user), "
                        "set-config (change agents' interval/collectors centrally, on the collector)")
    add_config_flags(p, AgentConfig, print_config=False)
    p.add_argument("--dry-run", action="store_true", help="install-service: print the unit instead of installing it")
    p.add_argument("--agent-id", default="", help="set-config: the agent to configure (default: every agent)")
    p.add_argument("--replace-collectors", action="store_true",
                   help="set-config: --enable lists every collector to run (others are turned off)")


def _flags(args) -> list[str]:
    """The given options as flags again, for the service's command line (the token stays out:
    put it in /etc/default/stackeye-agent as STACKEYE_TOKEN)."""
    from stackeye.agent.config import AgentConfig

    return (["--config", args.config] if args.config else []) + flags_argv(AgentConfig, args, exclude=("token",))


def run(args) -> int:
    from stackeye.agent import config as agent_config

    cfg = config_from_args(agent_config.AgentConfig, args)
    if args.action == "print-config":
        sys.stdout.write(agent_config.render_toml(cfg))
        return 0
    if args.action == "install-service":
        from stackeye.agent import service

        text = service.unit_text(_flags(args), state_dir=cfg.state_dir)
        if args.dry_run:
            sys.stdout.write(text)
            return 0
        for line in service.install(text):
            print(line)
        return 0
    agent_config.require_runnable(cfg)
    if args.action == "set-config":
        import grpc
        from stackeye.agent import protocol

        interval = cfg.interval if args.interval is not None else 0.0  # 0: keep the central interval
        toggled = flag_values(agent_config.AgentConfig, args).get("collectors", {})
        enabled = [name for name, section in toggled.items() if section["enabled"]]
        try:
            cfg_out = protocol.set_config(cfg.collector, cfg.token, cfg.channel_tls(), args.agent_id, interval,
                                          enabled, args.replace_collectors)
        except grpc.RpcError as err:
            print(f"stackeye agent set-config: the collector {cfg.collector} answered {err.code().name}: "
                  f"{err.details()}", file=sys.stderr)
            return 1
        print(f"central config v{cfg_out.version} for {args.agent_id or 'every agent'}: "
              f"interval={cfg_out.interval_seconds:g}s collectors={list(cfg_out.enabled_collectors)}"
              f"{' (replace)' if cfg_out.replace_collectors else ''}")
        return 0
    import logging
    import os

    from stackeye.agent.runtime import Agent

    if hasattr(os, "geteuid") and os.geteuid() == 0:
        logging.getLogger("stackeye.agent").warning(
            "running as root: the agent needs no privileges; `stackeye agent install-service` runs it as user stackeye")
    agent = Agent(cfg).start()
    signal.signal(signal.SIGTERM, lambda *_: agent._stop.set())
    signal.signal(signal.SIGINT, lambda *_: agent._stop.set())
    try:
        agent.run_forever()
    finally:
        agent.stop()
    return 0
