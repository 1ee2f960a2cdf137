"""Actuators: put decisions into effect on the systems that act on them, dry-run unless told otherwise.

- :mod:`~stackeye.decisions.actuators.haproxy_runtime`: a live HAProxy's weights and states over its
  admin socket (only the servers that differ; read back to verify);
- :mod:`~stackeye.decisions.actuators.nginx_conf`: nginx's upstream file, checked with ``nginx -t``,
  rolled back to the last good file when refused, reloaded gracefully when accepted;
- :mod:`~stackeye.decisions.actuators.exec`: a command per autoscale decision (``kubectl scale``, …).

Each returns a report of what it did (or, dry-run, would do) per server or service; the CLI
(``stackeye decide apply``) prints it and exits non-zero when anything failed.
"""
