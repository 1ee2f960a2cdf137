"""Flask server spans on the cheap: a lean replacement for the stock Flask instrumentor's hot path.

Profiling bench/instrumentation_overhead.py showed the stock instrumentor spending most of its
~110 us per request on work the views never read: a request-URL rebuild (werkzeug IRI quoting)
to test an empty exclusion list, the WSGI attribute collection done twice (span + metrics), the
request-duration histograms, five separate attribute writes under the span lock. This module
records the same server span (stable HTTP semantic conventions) with one dict built from the
WSGI environ, one ``set_attributes`` at response time, and no per-request metrics:

- name ``"{method} {route template}"`` (just the method when no rule matched), kind SERVER;
- ``http.request.method``, ``url.scheme``, ``url.path``, ``url.query``, ``server.address``,
  ``server.port``, ``client.address``, ``user_agent.original``, ``network.protocol.version``;
- ``http.route``, ``http.response.status_code``; status ERROR and ``error.type`` on 5xx;
- unhandled exceptions as ``exception`` events with the stack trace (Flask's
  ``got_request_exception`` signal);
- W3C trace context / baggage (or whatever global propagator is set) extracted from the request;
- ``OTEL_PYTHON_FLASK_EXCLUDED_URLS`` / ``OTEL_PYTHON_EXCLUDED_URLS`` regexes on the path.

It wraps ``flask.Flask.wsgi_app``, so apps created before instrumentation are covered too.
Registered under the stock entry-point name ``flask`` (see :mod:`.auto`).

>>> import flask
>>> inst = StackeyeFlaskInstrumentor(); inst.instrument()
>>> app = flask.Flask("doc"); _ = app.get("/items/<int:item_id>")(lambda item_id: "ok")
>>> app.test_client().get("/items/7").status_code
200
>>> inst.uninstrument()
"""
from __future__ import annotations

import os
import re
from typing import Collection

import wrapt
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.flask.package import _instruments
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.instrumentation.wsgi import (
    default_response_propagation_setter,
    wsgi_getter,
)
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import SpanKind, Status, StatusCode

_CONTEXT_KEYS = ("HTTP_TRACEPARENT", "HTTP_TRACESTATE", "HTTP_BAGGAGE")
_W3C = {"TraceContextTextMapPropagator", "W3CBaggagePropagator"}
_RECORDED = "stackeye.exception_recorded"


def _only_w3c(textmap) -> bool:
    if type(textmap).__name__ in _W3C:
        return True
    parts = getattr(textmap, "_propagators", None)
    return isinstance(textmap, CompositePropagator) and parts is not None and all(
        type(p).__name__ in _W3C for p in parts)


def _parent(environ):
    """The remote parent context, or None; skips the propagator when no W3C header is present."""
    textmap = propagate.get_global_textmap()
    if _only_w3c(textmap) and not any(k in environ for k in _CONTEXT_KEYS):
        return None
    return propagate.extract(environ, getter=wsgi_getter)


def _request_attributes(environ) -> dict:
    attrs = {
        "http.request.method": environ.get("REQUEST_METHOD", "GET"),
        "url.scheme": environ.get("wsgi.url_scheme", "http"),
        "url.path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
    }
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME")
    if host:
        name, sep, port = host.rpartition(":") if host.count(":") == 1 else ("", "", "")
        attrs["server.address"] = name if sep else host
        port = port if sep else environ.get("SERVER_PORT")
        if port and port.isdigit():
            attrs["server.port"] = int(port)
    query = environ.get("QUERY_STRING")
    if query:
        attrs["url.query"] = query
    remote = environ.get("REMOTE_ADDR")
    if remote:
        attrs["client.address"] = remote
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        attrs["user_agent.original"] = agent
    protocol = environ.get("SERVER_PROTOCOL", "")
    if protocol.startswith("HTTP/"):
        attrs["network.protocol.version"] = protocol[5:]
    return attrs


def _excluded_from_env():
    raw = os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS") or ""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    return re.compile("|".join(parts)) if parts else None


class StackeyeFlaskInstrumentor(BaseInstrumentor):
    """Server span per Flask request; see the module docstring for what is recorded."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs) -> None:
        import flask

        tracer = trace.get_tracer("stackeye.instrumentation.flask", tracer_provider=kwargs.get("tracer_provider"))
        excluded = _excluded_from_env()
        request = flask.request

        def wsgi_app(wrapped, instance, args, kwargs_):
            environ, start_response = args[0], args[1]
            if excluded is not None and excluded.search(environ.get("PATH_INFO", "")):
                return wrapped(*args, **kwargs_)
            attrs = _request_attributes(environ)
            method = attrs["http.request.method"]
            parent = _parent(environ)
            span = tracer.start_span(method, parent, SpanKind.SERVER, attrs)
            token = context.attach(trace.set_span_in_context(span, parent))

            def traced_start_response(status, headers, *rest):
                try:
                    code = int(status[:3])
                    done = {"http.response.status_code": code}
                    rule = request.url_rule
                    if rule is not None:
                        done["http.route"] = rule.rule
                        span.update_name(f"{method} {rule.rule}")
                    if code >= 500:
                        done["error.type"] = str(code)
                        span.set_status(Status(StatusCode.ERROR))
                    span.set_attributes(done)
                    responder = get_global_response_propagator()
                    if responder is not None:
                        responder.inject(headers, setter=default_response_propagation_setter)
                except Exception:  # never into the app
                    pass
                return start_response(status, headers, *rest)

            try:
                return wrapped(environ, traced_start_response, *args[2:], **kwargs_)
            except BaseException as exc:
                if not environ.get(_RECORDED):
                    span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise
            finally:
                span.end()
                context.detach(token)

        def on_exception(sender, exception=None, **extra):
            span = trace.get_current_span()
            if exception is not None and span.is_recording():
                span.record_exception(exception)
                try:
                    request.environ[_RECORDED] = True
                except Exception:
                    pass

        self._on_exception = on_exception  # blinker holds receivers weakly
        flask.got_request_exception.connect(on_exception)
        wrapt.wrap_function_wrapper("flask.app", "Flask.wsgi_app", wsgi_app)

    def _uninstrument(self, **kwargs) -> None:
        import flask

        unwrap(flask.Flask, "wsgi_app")
        flask.got_request_exception.disconnect(self._on_exception)
