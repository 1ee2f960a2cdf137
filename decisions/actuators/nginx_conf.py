"""nginx's upstream file rewritten from the routing decisions, checked, rolled back or reloaded.

The file (``--nginx-conf``) is stackeye's alone: it holds the ``upstream`` block that
:mod:`stackeye.decisions.gateways.nginx` renders, and the main configuration includes it inside
``http { }``. :func:`apply`:

1. when the file already holds the same text, does nothing (no test, no reload);
2. dry-run: reports the difference and stops;
3. copies the current file to ``<file>.last-good``, writes the new one (a temporary file renamed
   over it, so nginx never reads half a file);
4. runs ``nginx -t`` on the main configuration (``-c``, and ``-p`` when a prefix is given): when
   nginx refuses it, puts the last good file back (or removes the new one when there was none),
   and reports nginx's own message;
5. reloads gracefully (``nginx -s reload`` with the same ``-c``/``-p``: a new generation of
   workers, the old ones finish their requests).

Both nginx runs get ``-e stderr`` (nginx ≥ 1.19.5) so their messages land in the report rather
than in a log file the caller may not be able to write.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import subprocess

from stackeye.core.errors import Fatal
from stackeye.core.files import write_atomically

DEFAULT_MAIN_CONF = "/etc/nginx/nginx.conf"
LAST_GOOD_SUFFIX = ".last-good"


@dataclasses.dataclass(frozen=True)
class Nginx:
    """Which nginx, with which main configuration."""

    main_conf: str = DEFAULT_MAIN_CONF
    prefix: str = ""  # nginx -p; "" for nginx's compiled-in prefix
    binary: str = ""  # "" finds nginx on PATH, then /usr/sbin/nginx
    timeout_s: float = 30.0

    def argv(self, *args: str) -> list[str]:
        binary = self.binary or shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                                          else "")
        if not binary:
            raise Fatal("no nginx binary on PATH nor at /usr/sbin/nginx: install nginx or pass --nginx-bin PATH")
        return [binary, "-e", "stderr", *(["-p", self.prefix] if self.prefix else []), "-c", self.main_conf, *args]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        argv = self.argv(*args)
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", f"{' '.join(argv)} did not finish in {self.timeout_s}s")
        except OSError as exc:
            raise Fatal(f"cannot run {argv[0]}: {exc} (pass --nginx-bin PATH)") from None


@dataclasses.dataclass(frozen=True)
class Report:
    conf: str
    dry_run: bool
    action: str  # unchanged | planned | reloaded | rolled_back | failed
    diff: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.action in ("unchanged", "planned", "reloaded")


def diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), path + " (now)",
                                        path + " (decided)"))


def apply(rendering: str, conf: str, nginx: Nginx, dry_run: bool = True) -> Report:
    """Put ``rendering`` in ``conf`` if it differs, test it, roll back or reload (see the module)."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(conf))):
        raise Fatal(f"--nginx-conf {conf}: its directory does not exist; create it, and include the file from "
                    f"the http {{}} block of {nginx.main_conf}")
    old = None
    if os.path.exists(conf):
        with open(conf) as f:
            old = f.read()
    if old == rendering:
        return Report(conf, dry_run, "unchanged", message="the file already holds these decisions")
    change = diff(old or "", rendering, conf)
    if dry_run:
        return Report(conf, True, "planned", change, "dry-run: nothing written (pass --apply to write, test, reload)")
    last_good = conf + LAST_GOOD_SUFFIX
    if old is not None:
        shutil.copy2(conf, last_good)
    write_atomically(conf, rendering)
    test = nginx.run("-t")
    if test.returncode != 0:
        if old is not None:
            shutil.copy2(last_good, conf)
            where = f"restored the last good file ({last_good})"
        else:
            os.remove(conf)
            where = f"removed {conf} (there was no file before)"
        return Report(conf, False, "rolled_back", change,
                      f"nginx -t refused the new upstream file; {where}: {test.stderr.strip() or test.stdout.strip()}")
    reload = nginx.run("-s", "reload")
    if reload.returncode != 0:
        return Report(conf, False, "failed", change, f"nginx -t accepted the new file but the reload failed (is "
                      f"nginx running with {nginx.main_conf}?): {reload.stderr.strip()}")
    return Report(conf, False, "reloaded", change, "nginx -t accepted it; nginx reloaded")
