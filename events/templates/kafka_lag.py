"""kafka_lag: a Kafka consumer group whose lag (messages behind, summed over its topics) exceeds a limit.

Measured from the agent's kafka collector: the gauge ``kafka.consumer_group.lag_sum`` (attributes
``group`` and ``topic``; the lag of a topic summed over its partitions) — the newest point of each
group and topic within the window, summed over the group's topics, as the autoscaler reads it.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, equals, number

LAG_METRIC = "kafka.consumer_group.lag_sum"
GROUP = "Attributes['group']"


def build(p) -> dict:
    sql = (f"SELECT group, sum(lag) AS value FROM (SELECT {GROUP} AS group, Attributes['topic'] AS topic, "
           f"argMax(Value, TimeUnix) AS lag FROM otel_metrics_gauge WHERE MetricName = '{LAG_METRIC}'"
           f"{equals(GROUP, p['group'])} AND TimeUnix >= {{from}} AND TimeUnix < {{to}} GROUP BY group, topic) "
           f"GROUP BY group")
    return {"sql": sql, "op": ">", "threshold": number(p, "max_lag"), "window": p["window"]}


TEMPLATE = Template(
    "kafka_lag", "a Kafka consumer group more than max_lag messages behind",
    (TemplateParam("group", "", "the consumer group ('' : every group, one alert each)"),
     TemplateParam("max_lag", "10000", "the largest acceptable lag in messages, summed over the group's topics"),
     TemplateParam("window", "5m", "how far back the latest lag may be")),
    build, {"max_lag": "1000", "group": "orders"},
)
