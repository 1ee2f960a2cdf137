"""Log tailing: rename and copytruncate rotation, agent restarts (also across a rotation),
multi-line records, severity. Every line exactly once, in order."""
from __future__ import annotations

import os
import shutil

import pytest
from stackeye.agent.config import LogSource
from stackeye.agent.logtail import LogTailer, parse_severity


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def env(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    got: list = []
    clock = Clock()

    def tailer(**source):
        src = LogSource(path=str(logs / "*.log"), **source)
        return LogTailer([src], str(tmp_path / "offsets.json"), got.extend, clock=clock)
    return logs, got, tailer, clock


def write(path, start, n, fh=None):
    f = fh or open(path, "a")
    for i in range(start, start + n):
        f.write(f"2026-11-26 line {i:04d}\n")
    f.flush()
    if fh is None:
        f.close()
    return start + n


def bodies(got):
    return [r.body for r in got]


def expected(n):
    return [f"2026-11-26 line {i:04d}" for i in range(n)]


def test_rename_rotation_reads_old_file_to_the_end_then_the_new_one(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    t = make()
    fh = open(app, "a")
    n = write(app, 0, 10, fh)
    t.poll()
    os.rename(app, logs / "app.log.1")  # logrotate's default: rename ...
    n = write(app, n, 5, fh)  # ... the app keeps writing to the old file until it reopens
    fh.close()
    n = write(app, n, 7)  # new app.log
    t.poll()
    n = write(app, n, 3)
    t.poll()
    assert bodies(got) == expected(n)
    assert {r.path for r in got} == {str(app)}


def test_copytruncate_rotation_loses_nothing_written_before_the_truncate(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    t = make()
    n = write(app, 0, 100)
    t.poll()
    n = write(app, n, 50)  # not read yet when logrotate copies and truncates
    shutil.copyfile(app, logs / "app.log.1")
    with open(app, "r+") as f:
        f.truncate(0)
    n = write(app, n, 30)
    t.poll()
    n = write(app, n, 2)
    t.poll()
    assert bodies(got) == expected(n)


def test_truncated_and_rewritten_past_the_old_offset_is_detected(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    t = make()
    with open(app, "w") as f:
        f.write("short\n")
    t.poll()
    with open(app, "w") as f:  # truncated, then more written than before: caught by the fingerprint
        f.write("a much longer first line after truncation\n")
    t.poll()
    assert bodies(got) == ["short", "a much longer first line after truncation"]


def test_restart_resumes_at_the_offset_even_across_a_rotation(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    t = make()
    n = write(app, 0, 10)
    t.poll()
    n = write(app, n, 4)
    t.poll()
    t.close()  # agent stops
    n = write(app, n, 6)  # written while it is down
    make().poll()  # restart
    assert bodies(got) == expected(n)
    # stop again; the file is rotated (rename) and a new one written while the agent is down
    n = write(app, n, 5)
    os.rename(app, logs / "app.log.1")
    n = write(app, n, 5)
    t3 = make()
    t3.poll()
    t3.close()
    assert bodies(got) == expected(n), "no line lost, none twice"


def test_partial_line_waits_for_its_newline(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    t = make()
    with open(app, "w") as f:
        f.write("complete\npart")
    t.poll()
    assert bodies(got) == ["complete"]
    with open(app, "a") as f:
        f.write("ial\n")
    t.poll()
    assert bodies(got) == ["complete", "partial"]


def test_multiline_records_joined_by_start_pattern_and_flushed_when_idle(env):
    logs, got, make, clock = env
    app = logs / "app.log"
    t = make(multiline_start=r"^\d{4}-\d{2}-\d{2}")
    app.write_text("2026-11-26 10:00:00 ERROR boom\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
                   "ValueError: bad\n2026-11-26 10:00:01 INFO next\n")
    t.poll()
    assert bodies(got) == ["2026-11-26 10:00:00 ERROR boom\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad"]
    assert got[0].severity == "ERROR"
    # the last record may still grow: an agent restart now must re-read it, not lose or double it
    t.close()
    t2 = make(multiline_start=r"^\d{4}-\d{2}-\d{2}")
    with open(app, "a") as f:
        f.write("  continuation of next\n")
    t2.poll()
    assert len(got) == 1
    clock.t += 5  # idle: the pending record is complete
    t2.poll()
    assert bodies(got)[1] == "2026-11-26 10:00:01 INFO next\n  continuation of next"
    assert got[1].severity == "INFO"


def test_start_at_end_skips_existing_content_of_new_files(env):
    logs, got, make, _ = env
    app = logs / "app.log"
    app.write_text("old\n")
    t = make(start_at="end")
    t.poll()
    with open(app, "a") as f:
        f.write("new\n")
    t.poll()
    assert bodies(got) == ["new"]


@pytest.mark.parametrize("line, mode, severity", [
    ("2026-11-26 12:00:00 ERROR db down", "auto", "ERROR"),
    ("2026-11-26 12:00:00 [WARNING] disk", "auto", "WARN"),
    ('ts=1 level=info msg="ok"', "auto", "INFO"),
    ("nothing to see", "auto", ""),
    ('{"level": "debug", "msg": "x"}', "json", "DEBUG"),
    ("not json", "json", ""),
    ("E1126 12:00 something", r"^(?P<severity>[EWIF])\d{4}", "E"),
    ("2026-11-26 12:00:00 ERROR db down", "none", ""),
])
def test_parse_severity(line, mode, severity):
    assert parse_severity(line, mode) == severity


def test_restart_after_rotation_when_the_glob_matches_rotated_files_too(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    got: list = []

    def make():
        return LogTailer([LogSource(path=str(logs / "app*.log"))], str(tmp_path / "offsets.json"), got.extend)
    app = logs / "app.log"
    n = write(app, 0, 10)
    t = make()
    t.poll()
    t.close()
    n = write(app, n, 3)  # unread when the agent stops
    os.rename(app, logs / "app-2026-11-26.log")  # still matched by the glob
    n = write(app, n, 4)
    t2 = make()
    t2.poll()
    t2.close()
    assert sorted(bodies(got)) == expected(n), "the rotated file resumes at its offset, the new one starts at 0"
    assert len(got) == n


def test_batches_are_bounded_in_records_and_bytes(env, monkeypatch):
    import stackeye.agent.logtail as lt

    logs, _, _, _ = env
    monkeypatch.setattr(lt, "MAX_BATCH_BYTES", 1000)
    batches: list = []
    t = LogTailer([LogSource(path=str(logs / "*.log"))], str(logs / "off.json"), batches.append, max_batch=50)
    with open(logs / "big.log", "w") as f:
        for i in range(120):
            f.write(f"{i:03d} " + "x" * 96 + "\n")
    t.poll()
    assert sum(len(b) for b in batches) == 120
    assert all(len(b) <= 50 and sum(len(r.body) for r in b) <= 1000 for b in batches)
