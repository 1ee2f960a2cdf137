"""``stackeye agent install-service``: a systemd unit that runs the agent as an unprivileged user."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

UNIT_PATH = "/etc/systemd/system/stackeye-agent.service"
USER = "stackeye"


def unit_text(exec_args: list[str], user: str = USER, state_dir: str = "/var/lib/stackeye-agent") -> str:
    exe = shutil.which("stackeye") or f"{sys.executable} -m stackeye.cli.main"
    cmd = " ".join([exe, "agent", *(shlex.quote(a) for a in exec_args)])
    state_name = os.path.basename(state_dir.rstrip("/")) if state_dir.startswith("/var/lib/") else ""
    return f"""[Unit]
Description=stackeye host agent (metrics, logs, local OTLP relay)
Documentation=https://github.com/stackeye/stackeye/blob/main/docs/agent.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
# Reading other users' logs: add the user to the group that owns them (e.g. adm), never run as root.
SupplementaryGroups=adm
ExecStart={cmd}
Restart=always
RestartSec=5
{f"StateDirectory={state_name}" if state_name else f"ReadWritePaths={state_dir}"}
EnvironmentFile=-/etc/default/stackeye-agent
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
CPUQuota=10%
MemoryMax=200M
Nice=10

[Install]
WantedBy=multi-user.target
"""


def install(text: str, path: str = UNIT_PATH, user: str = USER) -> list[str]:
    """Write the unit, create the user, enable and start the service; returns what was done."""
    done = []
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
        done.append(f"created system user {user}")
    with open(path, "w") as f:
        f.write(text)
    done.append(f"wrote {path}")
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        subprocess.run(["systemctl", "enable", "--now", "stackeye-agent"], check=False)
        done.append("systemctl enable --now stackeye-agent")
    return done
