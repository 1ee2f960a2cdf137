#!/usr/bin/env python3
"""Run ``stackeye`` with every thread under its own pyinstrument profiler (bench/http_stack.py --profile).

    python bench/http_profiled.py OUT_DIR up --data-dir …

pyinstrument samples only the thread that starts it, and the HTTP stack works in several (the
event loop, the handler pool, the spool's flusher, the writer), so each thread is profiled on its
own: ``threading.Thread._bootstrap_inner`` (private, but the one place every thread passes through,
also those whose class overrides ``run``, like anyio's workers) is wrapped. When a thread ends, ``OUT_DIR/<thread>.txt`` gets its
profile and ``OUT_DIR/threads.jsonl`` a line with its name, wall and CPU seconds (the thread's own
``time.thread_time()``). Threads still running at exit (daemons) are not reported.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time

from pyinstrument import Profiler

_lock = threading.Lock()


def _report(out_dir: str, name: str, profiler: Profiler, wall_s: float, cpu_s: float) -> None:
    slug = re.sub(r"[^\w.-]+", "_", name)
    with _lock:
        with open(os.path.join(out_dir, "threads.jsonl"), "a") as f:
            f.write(json.dumps({"thread": name, "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3)}) + "\n")
        if cpu_s > 0.05:  # idle threads have nothing to show
            with open(os.path.join(out_dir, f"{slug}-{threading.get_native_id()}.txt"), "w") as f:
                f.write(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> int:
    out_dir, argv = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    bootstrap = threading.Thread._bootstrap_inner

    def profiled(self):
        profiler = Profiler(interval=0.001)
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        profiler.start()
        try:
            bootstrap(self)
        finally:
            profiler.stop()
            _report(out_dir, self.name, profiler, time.perf_counter() - wall0, time.thread_time() - cpu0)

    threading.Thread._bootstrap_inner = profiled
    from stackeye.cli.main import main as stackeye_main

    return stackeye_main(argv)


if __name__ == "__main__":
    sys.exit(main())
