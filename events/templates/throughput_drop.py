"""throughput_drop: a service's request rate now, against the same window a day (``baseline``) earlier.

A baseline, not a fixed threshold: the value is the service's entry calls in the window as a
percentage of its calls in the same window ``baseline`` ago (default 24h: the same time
yesterday; 168h: the same time last week), and the rule fires when it is below ``min_pct``. A
service that had fewer than ``min_calls`` calls in the baseline window is not judged (a quiet
night is no signal); a service that stopped entirely is judged, at 0 %.

Counted on the ``red`` rollup's minute table (``stackeye_red_1m``) over whole minutes only —
``[start of the minute of {from}, start of the minute of {to})`` and the same span ``baseline``
earlier — so the minute still being written never looks like a drop, and both sides cover the
same length. Entry calls as the services view counts them: SERVER/CONSUMER spans, or the root
spans of a service that has none.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, duration, equals, number
from stackeye.query.views import rollups


def build(p) -> dict:
    offset = int(duration(p, "baseline"))
    min_calls = number(p, "min_calls")
    start, end = "toStartOfMinute({from})", "toStartOfMinute({to})"
    now = f"Bucket >= {start} AND Bucket < {end}"
    then = f"Bucket >= {start} - INTERVAL {offset} SECOND AND Bucket < {end} - INTERVAL {offset} SECOND"
    per_class = (f"SELECT ServiceName, EntryClass, countMergeIf(Calls, {now}) AS now, "
                 f"countMergeIf(Calls, {then}) AS then FROM {rollups.RED.table('1m')} "
                 f"WHERE (({now}) OR ({then})) AND EntryClass IN (1, 2){equals('ServiceName', p['service'])} "
                 f"GROUP BY ServiceName, EntryClass")
    # a service with SERVER/CONSUMER spans is counted by those alone, one without by its root spans
    per_service = (f"SELECT ServiceName AS service, "
                   f"if(countIf(EntryClass = 1) > 0, sumIf(now, EntryClass = 1), sumIf(now, EntryClass = 2)) AS now, "
                   f"if(countIf(EntryClass = 1) > 0, sumIf(then, EntryClass = 1), sumIf(then, EntryClass = 2)) AS then "
                   f"FROM ({per_class}) GROUP BY service")
    sql = (f"SELECT service, round(100 * now / then, 3) AS value FROM ({per_service}) "
           f"WHERE then > 0 AND then >= {min_calls!r}")
    return {"sql": sql, "op": "<", "threshold": number(p, "min_pct", positive=True), "window": p["window"]}


TEMPLATE = Template(
    "throughput_drop", "a service whose calls fall below min_pct % of the same window a day (baseline) earlier",
    (TemplateParam("service", "", "the service ('' : every service, one alert each)"),
     TemplateParam("min_pct", "50", "fire below this percentage of the baseline's calls"),
     TemplateParam("min_calls", "100", "judge only a service with at least this many calls in the baseline window"),
     TemplateParam("baseline", "24h", "how long before: 24h the same time yesterday, 168h a week"),
     TemplateParam("window", "15m", "the time range compared (whole minutes)")),
    build, {"min_pct": "40", "min_calls": "10"},
)
