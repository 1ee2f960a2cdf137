"""Tail log files by glob; survive rename and copytruncate rotation and agent restarts.

How nothing is lost or read twice:

- Files are followed by identity (device, inode), not by name. When the name now points to a
  new file (rename rotation), the old file is first read to its end through the handle still open
  on it (or, after a restart, found again by inode in the same folder), then the new file is read
  from its start.
- A file that shrank, or whose first bytes changed, was truncated in place (copytruncate). The
  copy is looked for beside it (same name prefix, same first bytes, at least as long as what was
  read): the part not read yet is read from the copy, then the live file from its start.
- Offsets are saved (``<state_dir>/log-offsets.json``) only after the lines read have been handed
  to the disk queue, and they point at the start of any multi-line record still being joined. A
  restart resumes at exactly the next unshipped byte.
- Only whole lines are read; a line still being written waits for its newline.

A tailer whose ``state_path`` is None keeps its offsets in memory only: the access-log collectors
count what they read into cumulative sums that start again with the agent anyway.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import logging
import os
import re
import time
from typing import Callable, Iterable

from .config import LogSource

log = logging.getLogger("stackeye.agent.logs")

FINGERPRINT_BYTES = 256
READ_CHUNK = 1 << 20  # most bytes read from one file per poll
MAX_BATCH_BYTES = 4 << 20  # log bodies per export request, well under a collector's request limit
FLUSH_AFTER = 1.0  # seconds a multi-line record may wait for more lines
_AUTO_SEVERITY = re.compile(
    r"(?:\blevel=\"?(?P<lvl>[A-Za-z]+)|\b(?P<word>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|EMERG|ALERT)\b)")
_SEVERITY_CANON = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL", "CRITICAL": "CRITICAL"}


def parse_severity(line: str, mode: str) -> str:
    """The severity word of a log line ("" when none), by mode: auto, json, none or a regex."""
    if mode == "none" or not line:
        return ""
    if mode == "auto":
        m = _AUTO_SEVERITY.search(line[:120])
        word = (m.group("lvl") or m.group("word")) if m else ""
    elif mode == "json":
        try:
            doc = json.loads(line)
        except ValueError:
            return ""
        word = ""
        if isinstance(doc, dict):
            for key in ("level", "severity", "lvl", "log.level", "levelname"):
                if isinstance(doc.get(key), str):
                    word = doc[key]
                    break
    else:
        m = re.search(mode, line)
        word = m.group("severity") if m else ""
    word = (word or "").upper()
    return _SEVERITY_CANON.get(word, word)


@dataclasses.dataclass
class Record:
    body: str
    path: str
    severity: str
    time: float


@dataclasses.dataclass
class _File:
    path: str
    dev: int
    ino: int
    source: LogSource
    offset: int = 0  # next byte to read
    fingerprint: str = ""  # sha1 of the first fp_len bytes
    fp_len: int = 0
    handle: object = None
    pending: list = dataclasses.field(default_factory=list)  # lines of a multi-line record
    pending_offset: int = 0  # where the pending record starts
    pending_since: float = 0.0

    @property
    def commit_offset(self) -> int:
        return self.pending_offset if self.pending else self.offset

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _fingerprint(f, length: int) -> tuple[str, int]:
    f.seek(0)
    head = f.read(length)
    return hashlib.sha1(head).hexdigest(), len(head)


class LogTailer:
    """Call :meth:`poll` periodically; complete records go to ``emit`` (which must persist them)."""

    def __init__(self, sources: Iterable[LogSource], state_path: str | None, emit: Callable[[list[Record]], None],
                 clock: Callable[[], float] = time.time, max_batch: int = 1000):
        self.sources = list(sources)
        self.state_path = state_path
        self.emit = emit
        self.clock = clock
        self.max_batch = max_batch
        self.files: dict[tuple[int, int], _File] = {}
        self.lines = 0  # records emitted (self-telemetry)
        self._first_scan = True
        self._starts = {id(s): re.compile(s.multiline_start) if s.multiline_start else None for s in self.sources}
        self._saved = self._load_state()  # path -> entry
        self._saved_inodes = {(e["dev"], e["ino"]): e for e in self._saved.values()}

    # -- state ---------------------------------------------------------------------------------
    def _load_state(self) -> dict:
        if self.state_path is None:
            return {}
        try:
            with open(self.state_path) as f:
                doc = json.load(f)
            return {e["path"]: e for e in doc.get("files", [])}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable log offsets %s (%s): files are read from their start", self.state_path, exc)
            return {}

    def save_state(self) -> None:
        if self.state_path is None:
            return
        files = [{"path": t.path, "dev": t.dev, "ino": t.ino, "offset": t.commit_offset,
                  "fingerprint": t.fingerprint, "fp_len": t.fp_len} for t in self.files.values()]
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"files": files}, f)
        os.replace(tmp, self.state_path)

    # -- one pass ------------------------------------------------------------------------------
    def poll(self) -> int:
        """Discover files, read what is new, emit, save offsets. Returns records emitted."""
        out: list[Record] = []
        now = self.clock()
        current: dict[str, tuple[os.stat_result, LogSource]] = {}
        for src in self.sources:
            for path in sorted(glob.glob(src.path)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if os.path.isfile(path) and path not in current:
                    current[path] = (st, src)
        current_keys = {(st.st_dev, st.st_ino) for st, _ in current.values()}
        # Files no glob matches any more (renamed away, deleted): read to the end, then forget.
        for key in list(self.files):
            if key not in current_keys:
                t = self.files.pop(key)
                self._read(t, out, now, final=True)
                t.close()
        for path, (st, src) in current.items():
            key = (st.st_dev, st.st_ino)
            t = self.files.get(key)
            if t is None:
                t = self.files[key] = self._track(path, st, src, out, now, current_keys)
            t.path = path
            self._read(t, out, now)
        self._first_scan = False
        if out:
            batch, size = [], 0
            for r in out:  # at most max_batch records and MAX_BATCH_BYTES per request
                if batch and (len(batch) >= self.max_batch or size + len(r.body) > MAX_BATCH_BYTES):
                    self.emit(batch)
                    batch, size = [], 0
                batch.append(r)
                size += len(r.body)
            self.emit(batch)
            self.lines += len(out)
        self.save_state()
        return len(out)

    def _track(self, path: str, st: os.stat_result, src: LogSource, out: list, now: float,
               current_keys: set) -> _File:
        key = (st.st_dev, st.st_ino)
        t = _File(path, st.st_dev, st.st_ino, src)
        saved = self._saved.pop(path, None)
        mine = self._saved_inodes.pop(key, None)  # this very file, maybe under another name now
        if mine is not None:
            t.offset, t.fingerprint, t.fp_len = mine["offset"], mine["fingerprint"], mine["fp_len"]
        if saved is not None and (saved["dev"], saved["ino"]) != key:
            old_key = (saved["dev"], saved["ino"])
            if old_key not in current_keys and self._saved_inodes.pop(old_key, None) is not None:
                # Rotated while the agent was stopped, out of the globs' reach: finish the old file
                # (found by inode beside the new one) before the new one.
                old = self._find_inode(os.path.dirname(path), *old_key)
                if old:
                    o = _File(old, saved["dev"], saved["ino"], src, saved["offset"], saved["fingerprint"], saved["fp_len"])
                    self._read(o, out, now, final=True)
                    o.close()
                else:
                    log.warning("%s was rotated while the agent was stopped and the old file is gone; "
                                "lines written after offset %d of it are lost", path, saved["offset"])
        elif mine is None and saved is None and self._first_scan and src.start_at == "end":
            t.offset = st.st_size
        return t

    @staticmethod
    def _find_inode(folder: str, dev: int, ino: int) -> str | None:
        try:
            with os.scandir(folder or ".") as it:
                for entry in it:
                    try:
                        s = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if (s.st_dev, s.st_ino) == (dev, ino):
                        return entry.path
        except OSError:
            pass
        return None

    def _open(self, t: _File) -> bool:
        if t.handle is None:
            try:
                t.handle = open(t.path, "rb")
                st = os.fstat(t.handle.fileno())
                if (st.st_dev, st.st_ino) != (t.dev, t.ino):  # replaced between stat and open
                    t.close()
                    return False
            except OSError:
                return False
        return True

    def _read(self, t: _File, out: list, now: float, final: bool = False) -> None:
        if not self._open(t):
            return
        f = t.handle
        size = os.fstat(f.fileno()).st_size
        if t.fp_len:
            fp, _ = _fingerprint(f, t.fp_len)
            truncated = size < t.offset or fp != t.fingerprint
        else:
            truncated = size < t.offset
        if truncated:
            self._recover_copy(t, out, now)
            t.offset, t.fingerprint, t.fp_len, t.pending = 0, "", 0, []
        if t.fp_len < FINGERPRINT_BYTES and size > t.fp_len:
            t.fingerprint, t.fp_len = _fingerprint(f, FINGERPRINT_BYTES)
        budget = 8 * READ_CHUNK
        while budget > 0:
            f.seek(t.offset)
            data = f.read(READ_CHUNK)
            if not data:
                break
            budget -= len(data)
            end = data.rfind(b"\n")
            if end < 0:
                if final or len(data) == READ_CHUNK:  # last line of a finished file, or a giant line
                    end = len(data) - 1
                else:
                    break  # a line still being written: wait for its newline
            self._lines(t, data[:end + 1], out, now)
        if t.pending and (final or now - t.pending_since >= FLUSH_AFTER):
            self._flush(t, out, now)

    def _lines(self, t: _File, chunk: bytes, out: list, now: float) -> None:
        start_re = self._starts.get(id(t.source))
        pos = t.offset
        for raw in chunk.splitlines(keepends=True):
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if start_re is None:
                out.append(Record(line, t.path, parse_severity(line, t.source.severity), now))
            elif start_re.search(line) or not t.pending:
                if t.pending:
                    self._flush(t, out, now)
                t.pending, t.pending_offset, t.pending_since = [line], pos, now
            else:
                t.pending.append(line)
                t.pending_since = now
            pos += len(raw)
        t.offset = pos

    def _flush(self, t: _File, out: list, now: float) -> None:
        body = "\n".join(t.pending)
        out.append(Record(body, t.path, parse_severity(t.pending[0], t.source.severity), now))
        t.pending = []

    def _recover_copy(self, t: _File, out: list, now: float) -> None:
        """copytruncate: read what we had not read yet from the copy the rotation left beside the file."""
        folder, base = os.path.split(t.path)
        best = None
        try:
            candidates = [e for e in os.scandir(folder or ".") if e.name.startswith(base) and e.path != t.path
                          and e.is_file()]
        except OSError:
            candidates = []
        for e in sorted(candidates, key=lambda e: e.stat().st_mtime, reverse=True):
            try:
                st = e.stat()
                if st.st_size < t.offset or (st.st_dev, st.st_ino) in self.files:
                    continue
                with open(e.path, "rb") as f:
                    if t.fp_len and _fingerprint(f, t.fp_len)[0] != t.fingerprint:
                        continue
                best = e.path
                break
            except OSError:
                continue
        if best is None:
            if t.offset:
                log.warning("%s was truncated at offset %d and no rotated copy was found beside it; "
                            "continuing from its start", t.path, t.offset)
            return
        copy = _File(best, 0, 0, t.source, t.offset, t.fingerprint, t.fp_len, pending=t.pending,
                     pending_offset=t.pending_offset, pending_since=t.pending_since)
        try:
            copy.handle = open(best, "rb")
            copy_out: list[Record] = []
            self._read(copy, copy_out, now, final=True)
            for r in copy_out:
                r.path = t.path
            out.extend(copy_out)
        finally:
            copy.close()

    def close(self) -> None:
        for t in self.files.values():
            t.close()
