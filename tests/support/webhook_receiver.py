"""A local HTTP receiver for notification tests: records every POST (path, headers, JSON body).

``fail_first=N`` answers the first N requests 503, as a receiver that is down and recovers.
"""
from __future__ import annotations

import http.server
import json
import threading


class WebhookReceiver:
    def __init__(self, fail_first: int = 0, status: int = 503):
        self.fail_first, self.status = fail_first, status
        self.requests: list[dict] = []  # every request, failed ones included
        self.received: list[dict] = []  # the ones answered 200
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                         "raw": body, "json": json.loads(body or b"null")}
                with outer.lock:
                    outer.requests.append(entry)
                    failing = len(outer.requests) <= outer.fail_first
                    if not failing:
                        outer.received.append(entry)
                    outer.arrived.notify_all()
                self.send_response(outer.status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dict]:
        """Wait until ``predicate(received)`` holds; the received requests (AssertionError on timeout)."""
        with self.lock:
            if not self.arrived.wait_for(lambda: predicate(self.received), timeout):
                raise AssertionError(f"the receiver did not get what was expected within {timeout}s; got "
                                     f"{[r['json'] for r in self.received]}")
            return list(self.received)
