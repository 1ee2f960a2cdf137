from __future__ import annotations

import os
import threading

import pytest
from stackeye.collector.queue.base import QueueFull, Record
from stackeye.collector.queue.spool import Spool
from stackeye.core.signals import Signal


def rec(i: int, size: int = 100) -> Record:
    return Record(Signal.TRACES, i.to_bytes(4, "big") * (size // 4), items=i, received_ns=i, tenant="t", agent_id="a")


def drain(spool: Spool) -> list[Record]:
    out = []
    while (batch := spool.read(1000, 1 << 30, 0)) is not None:
        spool.begin(batch)
        out.extend(batch.records)
        spool.commit(batch)
    return out


def test_records_round_trip_with_envelope(tmp_path):
    sp = Spool(str(tmp_path))
    sp.put([rec(1), rec(2)])
    batch = sp.read(10, 1 << 20, 0)
    assert [r.items for r in batch.records] == [1, 2]
    r = batch.records[0]
    assert (r.signal, r.tenant, r.agent_id, r.received_ns, r.payload) == (Signal.TRACES, "t", "a", 1, rec(1).payload)
    assert batch.token == f"spool-0-{batch.position[1]}"
    sp.close()


def test_committed_records_are_not_read_again_after_reopen(tmp_path):
    sp = Spool(str(tmp_path))
    sp.put([rec(i) for i in range(5)])
    b = sp.read(2, 1 << 20, 0)
    sp.begin(b)
    sp.commit(b)
    sp.close()
    sp2 = Spool(str(tmp_path))
    assert [r.items for r in drain(sp2)] == [2, 3, 4]
    sp2.close()


def test_inflight_batch_is_replayed_with_the_same_token(tmp_path):
    sp = Spool(str(tmp_path))
    sp.put([rec(i) for i in range(3)])
    b = sp.read(10, 1 << 20, 0)
    sp.begin(b)  # ... crash before commit
    sp.close()
    sp2 = Spool(str(tmp_path))
    sp2.put([rec(9)])  # more data arrived after restart: must not change the replayed batch
    again = sp2.read(10, 1 << 20, 0)
    assert again.token == b.token and [r.items for r in again.records] == [0, 1, 2]
    sp2.begin(again)
    sp2.commit(again)
    assert [r.items for r in drain(sp2)] == [9]
    sp2.close()


def test_torn_tail_is_cut_and_acknowledged_data_kept(tmp_path):
    sp = Spool(str(tmp_path))
    sp.put([rec(1), rec(2)])
    sp.close()
    seg = [f for f in os.listdir(tmp_path) if f.endswith(".seg")][0]
    with open(tmp_path / seg, "ab") as f:
        f.write(b"\x50\x00\x00\x00garbage-of-a-half-written-record")
    sp2 = Spool(str(tmp_path))
    assert [r.items for r in drain(sp2)] == [1, 2]
    sp2.put([rec(3)])
    assert [r.items for r in drain(sp2)] == [3]
    sp2.close()


def test_segments_roll_and_are_deleted_once_committed(tmp_path):
    sp = Spool(str(tmp_path), segment_bytes=1000)
    for i in range(30):
        sp.put([rec(i)])
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".seg")]) > 2
    assert [r.items for r in drain(sp)] == list(range(30))
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".seg")]) == 1
    sp.close()
    assert drain(Spool(str(tmp_path), segment_bytes=1000)) == []


def test_bound_gives_back_pressure_not_loss(tmp_path):
    sp = Spool(str(tmp_path), max_bytes=1000)
    sp.put([rec(1, 400)])
    sp.put([rec(2, 400)])
    with pytest.raises(QueueFull, match="spool full"):
        sp.put([rec(3, 400)])
    drain(sp)
    sp.put([rec(3, 400)])  # room again once the writer caught up
    assert [r.items for r in drain(sp)] == [3]
    sp.close()


def test_concurrent_puts_share_fsyncs_and_all_land(tmp_path):
    sp = Spool(str(tmp_path))
    threads = [threading.Thread(target=lambda k=k: [sp.put([rec(k * 100 + i)]) for i in range(50)]) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted(r.items for r in drain(sp))
    assert got == sorted(k * 100 + i for k in range(8) for i in range(50))
    sp.close()


def test_quarantine_keeps_payload_and_reason(tmp_path):
    sp = Spool(str(tmp_path))
    where = sp.quarantine(rec(7), "Code: 27. Cannot parse")
    assert open(where, "rb").read() == rec(7).payload
    assert "Cannot parse" in open(where[:-3] + ".txt").read()
    sp.close()


def test_a_begin_that_failed_is_written_when_retried(tmp_path):
    import json

    sp = Spool(str(tmp_path))
    sp.put([rec(i) for i in range(3)])
    b = sp.read(10, 1 << 20, 0)
    (tmp_path / "state.json.tmp").mkdir()  # the state file cannot be written
    with pytest.raises(OSError):
        sp.begin(b)
    (tmp_path / "state.json.tmp").rmdir()
    sp.begin(b)  # retried: recorded on disk now, not taken as already done
    assert json.loads((tmp_path / "state.json").read_text())["inflight"] == list(b.position)
    sp.close()
