"""Host collectors: pure parsing on fixtures, rates across first sample / reset / devices coming
and going, and for real on this machine."""
from __future__ import annotations

import os
import time

import pytest
from stackeye.agent import registry
from stackeye.agent.collectors.cpu import parse_cpu_times, utilization
from stackeye.agent.collectors.disk import parse_disk_io
from stackeye.agent.collectors.filesystem import parse_filesystems
from stackeye.agent.collectors.load import LoadCollector, LoadConfig, parse_loadavg
from stackeye.agent.collectors.memory import parse_memory
from stackeye.agent.collectors.network import parse_net_io
from stackeye.agent.collectors.process import parse_processes
from stackeye.agent.collectors.processes import (
    ProcessesCollector,
    ProcessesConfig,
    parse_proc_stat,
)
from stackeye.agent.rates import Counters
from stackeye.agent.registry import Instance

from .conftest import FIXTURES

BOOT = 1_000.0


def by(points, name, **attrs):
    return [p for p in points if p.name == name and all(p.attrs.get(k.replace("__", ".")) == v for k, v in attrs.items())]


def one(points, name, **attrs):
    found = by(points, name, **attrs)
    if len(found) > 1:  # prefer the point with exactly these attributes
        found = [p for p in found if len(p.attrs) == len(attrs)]
    assert len(found) == 1, (name, attrs, found)
    return found[0]


def test_counters_first_sample_reset_and_disappearing_series():
    c = Counters(first_start=BOOT)
    first = c.observe("eth0", 1000, now=2000)
    assert first.rate is None and first.start == BOOT  # nothing to divide by yet
    c.end_cycle(2000)
    assert c.observe("eth0", 1500, now=2010).rate == 50
    c.end_cycle(2010)
    reset = c.observe("eth0", 200, now=2020)  # counter went back: restarted from 0
    assert reset.reset and reset.rate == 20 and reset.start == 2010
    c.end_cycle(2020)
    assert c.observe("eth0", 400, now=2030).start == 2010  # the new series keeps its start
    c.end_cycle(2030)
    # eth1 appears after the first cycle: it began counting since the previous cycle
    assert c.observe("eth1", 10, now=2040) .start == 2030
    c.end_cycle(2040)  # eth0 was not seen in this cycle: forgotten
    assert len(c) == 1
    again = c.observe("eth0", 5, now=2050)
    assert again.rate is None and not again.reset


def test_cpu_utilization_from_times():
    prev = [{"user": 10.0, "system": 5.0, "idle": 85.0}, {"user": 0.0, "system": 0.0, "idle": 100.0}]
    cur = [{"user": 15.0, "system": 5.0, "idle": 90.0}, {"user": 5.0, "system": 0.0, "idle": 105.0}]
    c = Counters(first_start=BOOT)
    first = parse_cpu_times(prev, None, c, 2000)
    assert not by(first, "system.cpu.utilization"), "no utilization on the first sample"
    assert one(first, "system.cpu.time", cpu="cpu1", state="idle").start == BOOT
    pts = parse_cpu_times(cur, prev, c, 2010, per_cpu_utilization=True)
    assert one(pts, "system.cpu.utilization", state="user").value == pytest.approx(0.5)
    assert one(pts, "system.cpu.utilization", state="idle").value == pytest.approx(0.5)
    assert one(pts, "system.cpu.utilization", cpu="cpu0", state="user").value == pytest.approx(0.5)
    assert one(pts, "system.cpu.logical.count").value == 2
    assert utilization({"idle": 10.0}, {"idle": 5.0}) is None  # counters went backwards


def _nic(rx, tx, errin=0):
    return {"bytes_recv": rx, "bytes_sent": tx, "packets_recv": rx // 100, "packets_sent": tx // 100,
            "errin": errin, "errout": 0, "dropin": 0, "dropout": 0}


def test_network_rates_across_reset_and_nics_coming_and_going():
    c = Counters(first_start=BOOT)
    p1 = parse_net_io({"eth0": _nic(10_000, 5_000), "lo": _nic(1, 1)}, c, 2000, exclude=r"^lo$")
    assert not by(p1, "system.network.io.rate")
    assert not by(p1, "system.network.io", device="lo")
    io = one(p1, "system.network.io", device="eth0", direction="receive")
    assert io.kind == "sum" and io.value == 10_000 and io.start == BOOT and io.unit == "By"
    p2 = parse_net_io({"eth0": _nic(20_000, 6_000), "wlan0": _nic(300, 300)}, c, 2010)
    assert one(p2, "system.network.io.rate", device="eth0", direction="receive").value == 1000
    assert one(p2, "system.network.io.rate", device="eth0", direction="transmit").value == 100
    assert not by(p2, "system.network.io.rate", device="wlan0"), "a new NIC has no rate on its first sample"
    assert one(p2, "system.network.io", device="wlan0", direction="receive").start == 2000
    # driver reload: eth0's counters restart from zero; wlan0 goes away
    p3 = parse_net_io({"eth0": _nic(500, 100)}, c, 2020)
    rx = one(p3, "system.network.io.rate", device="eth0", direction="receive")
    assert rx.value == 50, "after a reset the increase is the new value, never negative"
    assert one(p3, "system.network.io", device="eth0", direction="receive").start == 2010
    assert all(p.value >= 0 for p in by(p3, "system.network.io.rate"))
    # wlan0 comes back: treated as new (no rate), not as a huge negative delta
    p4 = parse_net_io({"eth0": _nic(1500, 200), "wlan0": _nic(10, 10)}, c, 2030)
    assert not by(p4, "system.network.io.rate", device="wlan0")
    assert one(p4, "system.network.errors", device="eth0", direction="receive").value == 0


def _disk(rb, wb):
    return {"read_count": rb // 512, "write_count": wb // 512, "read_bytes": rb, "write_bytes": wb,
            "read_time": 100, "write_time": 200, "busy_time": 250}


def test_disk_io_counters_and_rates():
    c = Counters(first_start=BOOT)
    parse_disk_io({"sda": _disk(1024, 2048), "loop0": _disk(1, 1)}, c, 2000, exclude=r"^loop\d+$")
    p = parse_disk_io({"sda": _disk(1024 + 5120, 2048)}, c, 2010)
    assert one(p, "system.disk.io.rate", device="sda", direction="read").value == 512
    assert one(p, "system.disk.io.rate", device="sda", direction="write").value == 0
    assert one(p, "system.disk.operations", device="sda", direction="read").value == 12
    assert one(p, "system.disk.io_time", device="sda").value == pytest.approx(0.25)
    assert not by(p, "system.disk.io", device="loop0")


def test_memory_filesystem_and_top_processes_from_canned_values():
    vm = {"total": 1000, "available": 600, "used": 300, "free": 500, "buffers": 50, "cached": 150, "slab": 0}
    pts = parse_memory(vm, {"total": 100, "used": 25, "free": 75})
    assert one(pts, "system.memory.usage", state="used").value == 300
    assert one(pts, "system.memory.utilization", state="cached").value == pytest.approx(0.15)
    assert one(pts, "system.paging.usage", state="free").value == 75
    fs = parse_filesystems([({"device": "/dev/sda1", "mountpoint": "/", "fstype": "ext4", "opts": "rw,relatime"},
                             {"total": 100, "used": 40, "free": 55})])
    assert one(fs, "system.filesystem.usage", state="reserved").value == 5
    assert one(fs, "system.filesystem.utilization", mountpoint="/").value == pytest.approx(0.4)
    procs = [{"pid": i, "name": f"p{i}", "cpu": i / 10, "rss": 1000 - i} for i in range(10)]
    top = parse_processes(procs, 2)
    pids = {p.attrs["process.pid"] for p in top if p.name == "process.cpu.utilization"}
    assert pids == {"9", "8", "0", "1"}  # top 2 by cpu plus top 2 by memory


def test_load_and_processes_from_a_procfs_fixture():
    proc = os.path.join(FIXTURES, "proc")
    load = LoadCollector(LoadConfig(procfs=proc)).collect()
    assert one(load, "system.cpu.load_average.1m").value == 0.52
    assert one(load, "system.cpu.load_average.15m").value == 0.59
    assert parse_loadavg("1.0 2.0 3.0 1/1 1")[1].value == 2.0
    assert parse_proc_stat(open(os.path.join(proc, "stat")).read(), 5) == {
        "running": 3, "blocked": 1, "sleeping": 1, "created": 2915}
    pts = ProcessesCollector(ProcessesConfig(procfs=proc)).collect()
    assert one(pts, "system.processes.count", status="running").value == 3
    assert one(pts, "system.processes.created").kind == "sum"


def test_every_host_collector_for_real_on_this_machine():
    names = set()
    for reg in registry.all_collectors():
        if reg.middleware:
            continue
        inst = Instance(reg, reg.config_class(enabled=True))
        inst.run()
        for _ in range(50):  # later runs have rates and utilization (once the CPU clock ticked)
            time.sleep(0.05)
            points, _, ok = inst.run()
            assert ok, (reg.name, inst.last_error)
            names |= {p.name for p in points}
            if reg.name != "cpu" or "system.cpu.utilization" in names:
                break
    for expected in ("system.cpu.utilization", "system.cpu.time", "system.memory.usage", "system.memory.utilization",
                     "system.filesystem.usage", "system.filesystem.utilization", "system.network.io",
                     "system.network.errors", "system.cpu.load_average.1m", "system.cpu.load_average.5m",
                     "system.cpu.load_average.15m", "system.processes.count", "process.cpu.utilization"):
        assert expected in names, expected
