"""Replica identity (service.instance.id) and process.cpu.utilization, as the autoscale inputs read them."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from stackeye.instrumentation import process_cpu
from stackeye.instrumentation.config import Config
from stackeye.instrumentation.pipeline import build, build_resource


def _cfg(env=None, **kw):
    return Config.from_env(env or {}, service_name="svc", endpoint="127.0.0.1:9", **kw)


def test_a_process_has_one_uuid4_instance_id(monkeypatch):
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    a, b = build_resource(_cfg()), build_resource(_cfg())
    ida, idb = a.attributes["service.instance.id"], b.attributes["service.instance.id"]
    assert uuid.UUID(ida).version == 4 and ida == idb  # one process, one replica (other processes: below)


def test_an_instance_id_the_user_sets_wins(monkeypatch):
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7")
    assert build_resource(_cfg()).attributes["service.instance.id"] == "pod-7"
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES")
    assert build_resource(_cfg(service_instance_id="mine")).attributes["service.instance.id"] == "mine"
    cfg = Config.from_env({"STACKEYE_SERVICE_INSTANCE_ID": "env-id"}, service_name="svc")
    assert build_resource(cfg).attributes["service.instance.id"] == "env-id"


def test_cpu_share_is_over_the_cpus_available():
    clock, cpu = iter([0.0, 10.0, 20.0]), iter([0.0, 5.0, 5.0])
    reading = process_cpu.ProcessCpu(clock=clock.__next__, cpu_time=cpu.__next__, cpus=lambda: 4.0)
    assert reading.sample() == pytest.approx(5.0 / 10.0 / 4.0)
    assert reading.sample() == 0.0  # idle for the next 10 s


def test_after_fork_the_restarted_cpu_clock_resets_the_baseline():
    clock, cpu = iter([0.0, 10.0, 20.0]), iter([50.0, 0.1, 1.1])
    reading = process_cpu.ProcessCpu(clock=clock.__next__, cpu_time=cpu.__next__, cpus=lambda: 1.0)
    assert reading.sample() is None
    assert reading.sample() == pytest.approx(0.1)


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000"}, 1.5),
    ({"cpu.max": "max 100000"}, None),
    ({"v1quota": "50000", "v1period": "100000"}, 0.5),
    ({"v1quota": "-1", "v1period": "100000"}, None),
    ({}, None),
])
def test_cgroup_quota(tmp_path, monkeypatch, files, expected):
    paths = {"cpu.max": tmp_path / "cpu.max", "v1quota": tmp_path / "q", "v1period": tmp_path / "p"}
    for name, text in files.items():
        paths[name].write_text(text + "\n")
    monkeypatch.setattr(process_cpu, "_CGROUP_V2", str(paths["cpu.max"]))
    monkeypatch.setattr(process_cpu, "_CGROUP_V1", (str(paths["v1quota"]), str(paths["v1period"])))
    assert process_cpu.cgroup_cpu_limit() == expected


def test_cpus_available_is_at_most_the_affinity_mask():
    assert 0 < process_cpu.cpus_available() <= len(os.sched_getaffinity(0))


def test_the_gauge_reports_a_busy_process():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    process_cpu.register(provider)
    end = __import__("time").process_time() + 0.3
    while __import__("time").process_time() < end:  # burn 0.3 s of CPU
        pass
    data = reader.get_metrics_data()
    points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              if m.name == "process.cpu.utilization" for p in m.data.data_points]
    assert len(points) == 1 and 0.0 < points[0].value <= 1.0
    provider.shutdown()


def test_the_pipeline_registers_the_gauge():
    pipe = build(_cfg(traces=False, logs=False))
    meter_names = [m._instrumentation_scope.name for m in pipe.meter_provider._meters.values()]
    assert process_cpu.METER_NAME in meter_names
    pipe.shutdown(timeout_s=0.5)


def test_a_forked_child_draws_its_own_instance_id(tmp_path):
    script = textwrap.dedent("""
        import os, sys
        from stackeye.instrumentation import runtime
        pipe = runtime.init(service_name="forky", endpoint="127.0.0.1:9", auto_instrument=False)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, pipe.resource.attributes["service.instance.id"].encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(pipe.resource.attributes["service.instance.id"], os.read(r, 100).decode())
    """)
    env = {k: v for k, v in os.environ.items() if k != "OTEL_RESOURCE_ATTRIBUTES"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    parent, child = out.stdout.split()
    assert parent != child and uuid.UUID(child).version == 4
