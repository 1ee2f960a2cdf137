"""Events: triggers over the views and SQL, their states and history, and the notifications they send.

- :mod:`~stackeye.events.rules` / :mod:`~stackeye.events.rule_file`: the ``[[trigger]]`` and
  ``[[notifier]]`` tables of a triggers file, checked whole (a ConfigError names rule and field);
- :mod:`~stackeye.events.templates`: built-in triggers a rule enables by name with parameters;
- :mod:`~stackeye.events.condition`: what a rule measures (rows of labels and a value), the one
  place that queries;
- :mod:`~stackeye.events.state`: the pure state machine pending → firing → resolved per label set;
- :mod:`~stackeye.events.store`: ``stackeye_events`` (transitions, the state a restart resumes
  from) and ``stackeye_event_deliveries`` (every delivery attempt, the outbox);
- :mod:`~stackeye.events.notifiers`: Alertmanager v2, a signed webhook, a log line;
- :mod:`~stackeye.events.engine`: one evaluation round over every rule;
- :mod:`~stackeye.events.issues` / :mod:`~stackeye.events.issue_store` / :mod:`~stackeye.events.issue_sync`:
  error groups as issues (new, open, resolved, ignored, regressed), ``stackeye_issues``, and the
  sync each round of ``stackeye up --triggers`` runs (new/regressed → events ``issue_new``/``issue_regressed``);
- :mod:`~stackeye.events.deploys`: a change of ``service.version`` in spans → an event of rule ``deploy``.
"""
