"""Every operation of the OpenAPI a running ``stackeye up`` serves (/api/v1/openapi.json), called
by schemathesis with generated valid and invalid requests: never a 5xx, and a response that the
schema documents conforms to it. Once open (no keys: one tenant), once with an admin --api-key."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from support.server import StackeyeServer

pytestmark = pytest.mark.slow

ADMIN_KEY = "fuzz-admin-key-0123456789"
EXAMPLES = 15  # per operation: every operation, both servers, in ≈40 s (more: bench/fuzz.py, schemathesis by hand)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module", params=["open", "admin-key"])
def api(request, tmp_path_factory):
    args = ["--api-key", f"{ADMIN_KEY}=default:admin"] if request.param == "admin-key" else []
    server = StackeyeServer(str(tmp_path_factory.mktemp(f"openapi-{request.param}") / "data"), extra_args=args).start()
    server.headers = {"Authorization": f"Bearer {ADMIN_KEY}"} if args else {}
    yield server
    server.stop()


def operations(api) -> list:
    schema = schemathesis.openapi.from_url(api.http_url + "/api/v1/openapi.json", headers=api.headers)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_answers_without_a_server_error(api):
    # the operations one by one (schemathesis' pytest loader does not run on this pytest)
    failures, ran, statuses = {}, 0, {}
    for operation in operations(api):
        @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode)))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  phases=[Phase.explicit, Phase.generate])
        def call(case):
            response = case.call_and_validate(base_url=api.http_url, headers=api.headers, checks=CHECKS, timeout=30)
            statuses[response.status_code // 100] = statuses.get(response.status_code // 100, 0) + 1

        try:
            call()
        except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - every failure, reported together
            failures[operation.label] = err
        ran += 1
    assert ran > 20, ran
    assert statuses.get(2, 0) > ran and statuses.get(4, 0) > ran, statuses  # valid and invalid requests both made
    assert not failures, "\n\n".join(f"{label}: {err}" for label, err in failures.items())
