from __future__ import annotations

import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from stackeye.core.signals import Signal
from stackeye.storage.complex_values import may_have_complex, normalize
from support.otlp_builders import logs_request, spans_request


def test_scalar_requests_pass_through_untouched():
    payload = spans_request("s", 200, attrs={"a": "x", "b": 1, "c": 2.5, "d": True}).SerializeToString()
    assert normalize(Signal.TRACES, payload) is payload


def test_arrays_and_maps_become_sorted_compact_json():
    req = spans_request("s", 3, attrs={"arr": ["a", 1, 2.5, False, None and 1 or "z"], "m": {"z": 1, "a": {"n": [1]}}})
    out = ExportTraceServiceRequest.FromString(normalize(Signal.TRACES, req.SerializeToString()))
    attrs = {kv.key: kv.value.string_value for kv in out.resource_spans[0].scope_spans[0].spans[2].attributes}
    assert attrs == {"arr": '["a",1,2.5,false,"z"]', "m": '{"a":{"n":[1]},"z":1}'}


def test_log_body_map_detected():
    payload = logs_request("s", [{"msg": "hi"}]).SerializeToString()
    assert may_have_complex(payload)


def test_detection_has_no_false_negatives_among_random_ids():
    for _ in range(50):
        req = spans_request("s", 20, attrs={"k": "v"})
        span = req.resource_spans[0].scope_spans[0].spans[int.from_bytes(os.urandom(1), "big") % 20]
        span.attributes.add(key="arr").value.array_value.values.add().string_value = "x" * (os.urandom(1)[0])
        assert may_have_complex(req.SerializeToString())
