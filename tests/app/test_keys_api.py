"""Keys and tokens on a running `stackeye up`: ingest and API refuse missing, bad and revoked
credentials (and store nothing), a revoke from the CLI takes effect at once, an admin of one tenant
cannot see or touch another's keys, and every change lands in stackeye_audit with who and when."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from stackeye.cli.main import main
from support.otlp_builders import spans_request
from support.server import StackeyeServer
from support.wait import wait_until

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
OPERATOR = "op-key-for-tests"


def _cli(capsys, *argv) -> dict:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    """A stackeye up whose key file holds team-a (ingest token, read key, admin key) and team-b."""
    data = str(tmp_path_factory.mktemp("keys") / "data")
    for tenant in ("team-a", "team-b"):
        assert main(["tenants", "create", tenant, "--data-dir", data, "--format", "json"]) == 0
    server = StackeyeServer(data, ["--api-key", f"{OPERATOR}=default:admin"]).start()
    server.api_key = OPERATOR  # the operator's key for the helpers' SQL (wait_for_count)
    yield server, None
    server.stop()


@pytest.fixture
def cli(up, capsys):
    server, _ = up
    return lambda *argv: _cli(capsys, *argv, "--data-dir", server.data_dir)


def _api(server, method: str, path: str, key: str | None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(server.http_url + path, json.dumps(body).encode() if body is not None else None,
                                 headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _grpc(server, payload: bytes, token: str | None):
    with grpc.insecure_channel(server.otlp_grpc) as ch:
        call = ch.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=10, metadata=(("authorization", f"Bearer {token}"),) if token else None)


def _http(server, payload: bytes, token: str | None) -> int:
    headers = {"content-type": "application/x-protobuf", **({"authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(server.otlp_http_url + "/v1/traces", payload, headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _sql(server, admin_key: str, query: str) -> list[list]:
    status, doc = _api(server, "POST", "/api/v1/sql", admin_key, {"query": query})
    assert status == 200, doc
    return doc["rows"]


def test_ingest_refuses_missing_bad_revoked_and_api_keys_and_stores_nothing(up, cli):
    server, _ = up
    token = cli("keys", "create", "--tenant", "team-a", "--role", "ingest")
    revoked = cli("keys", "create", "--tenant", "team-a", "--role", "ingest")
    api_key = cli("keys", "create", "--tenant", "team-a", "--role", "admin")
    assert main(["keys", "revoke", revoked["key"]["id"], "--data-dir", server.data_dir]) == 0
    refused = "refused-" + uuid.uuid4().hex[:6]
    payload = spans_request(refused, 3).SerializeToString()
    bad = revoked["secret"][:-3] + "abc"
    for secret, text in ((None, "missing credentials"), ("wrong", "not accepted"), (bad, "not accepted"),
                         (revoked["secret"], "revoked"), (api_key["secret"], "API key")):
        with pytest.raises(grpc.RpcError) as err:
            _grpc(server, payload, secret)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and text in err.value.details(), secret
        assert _http(server, payload, secret) == 401, secret
    accepted = "accepted-" + uuid.uuid4().hex[:6]
    _grpc(server, spans_request(accepted, 2).SerializeToString(), token["secret"])
    assert _http(server, spans_request(accepted, 2).SerializeToString(), token["secret"]) == 200
    assert server.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{accepted}'", 4) == 4
    # the refused requests were sent before, into the same spool: had one been taken, it would be written by now
    assert _sql(server, api_key["secret"], f"SELECT count() FROM otel_traces WHERE ServiceName = '{refused}'") == [[0]]
    rejected = server.health()["rejected"]
    assert rejected["unauthenticated"] >= 2 and rejected["bad_token"] >= 6 and rejected["revoked_token"] >= 2


def test_a_revoke_from_the_cli_takes_effect_on_the_running_server(up, cli):
    server, _ = up
    token = cli("keys", "create", "--tenant", "team-a", "--role", "ingest")
    key = cli("keys", "create", "--tenant", "team-a", "--role", "read")
    payload = spans_request("revoke-" + uuid.uuid4().hex[:6], 1).SerializeToString()
    _grpc(server, payload, token["secret"])
    assert _api(server, "GET", "/api/v1/keys", key["secret"])[0] == 403  # known, but reading keys needs admin
    for k in (token, key):
        assert main(["keys", "revoke", k["key"]["id"], "--data-dir", server.data_dir]) == 0
    with pytest.raises(grpc.RpcError) as err:  # at once: the server stats the key file on each lookup
        _grpc(server, payload, token["secret"])
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in err.value.details()
    status, doc = _api(server, "GET", "/api/v1/keys", key["secret"])
    assert status == 401 and doc["reason"] == "revoked_token"


def test_an_admin_manages_its_own_tenants_keys_only(up, cli):
    server, _ = up
    admin_a = cli("keys", "create", "--tenant", "team-a", "--role", "admin")["secret"]
    admin_b = cli("keys", "create", "--tenant", "team-b", "--role", "admin")["secret"]
    assert _api(server, "GET", "/api/v1/keys", None)[0] == 401
    assert _api(server, "GET", "/api/v1/keys", "se_key_00000000_" + "a" * 43)[0] == 401

    status, created = _api(server, "POST", "/api/v1/keys", admin_a, {"role": "read", "label": "grafana"})
    assert status == 201 and created["key"]["tenant"] == "team-a" and created["secret"].startswith("se_key_")
    assert created["key"]["created_by"].startswith("key:")
    status, listed = _api(server, "GET", "/api/v1/keys", admin_a)
    assert status == 200 and listed["tenant"] == "team-a" and {k["tenant"] for k in listed["keys"]} == {"team-a"}
    assert created["key"]["id"] in {k["id"] for k in listed["keys"]}
    assert all("sha256" not in k and "secret" not in k for k in listed["keys"])
    # the new read key works at once; it may not create keys
    assert _api(server, "POST", "/api/v1/keys", created["secret"], {"role": "admin"})[0] == 403

    status, listed_b = _api(server, "GET", "/api/v1/keys", admin_b)
    ids_b = {k["id"] for k in listed_b["keys"]}
    assert status == 200 and created["key"]["id"] not in ids_b and {k["tenant"] for k in listed_b["keys"]} == {"team-b"}
    some_b = next(iter(ids_b))
    status, doc = _api(server, "DELETE", f"/api/v1/keys/{some_b}", admin_a)
    assert status == 404 and doc == {"error": f"no key '{some_b}' in tenant 'team-a'"}
    assert _api(server, "DELETE", "/api/v1/keys/0badc0de", admin_a)[1] == {"error": "no key '0badc0de' in tenant 'team-a'"}
    assert some_b in {k["id"] for k in _api(server, "GET", "/api/v1/keys", admin_b)[1]["keys"] if not k["revoked_at"]}
    status, doc = _api(server, "POST", "/api/v1/keys", admin_a, {"role": "root"})
    assert status == 400 and doc["parameter"] == "role"

    status, doc = _api(server, "DELETE", f"/api/v1/keys/{created['key']['id']}", admin_a)
    assert status == 200 and doc["key"]["revoked_by"].startswith("key:")
    assert _api(server, "GET", "/api/v1/keys", created["secret"])[0] == 401


def test_audit_rows_say_who_did_what_when(up, cli):
    server, _ = up
    admin = cli("keys", "create", "--tenant", "team-a", "--role", "admin", "--label", "auditor")
    status, made = _api(server, "POST", "/api/v1/keys", admin["secret"], {"role": "ingest", "label": "ci"})
    assert status == 201
    assert _api(server, "DELETE", f"/api/v1/keys/{made['key']['id']}", admin["secret"])[0] == 200
    assert _api(server, "GET", "/api/v1/keys", admin["secret"])[0] == 200
    actor = f"key:{admin['key']['id']}"

    def rows():
        return _sql(server, admin["secret"], "SELECT Action, Target, Actor, toUnixTimestamp64Milli(At) FROM "
                    "stackeye_audit WHERE Tenant = 'team-a' ORDER BY At, Action")

    # the CLI's changes reach the table at the next periodic sync; the API's at once
    found = wait_until(lambda: [r for r in rows() if r[1] == admin["key"]["id"]] and rows(), timeout=30,
                       message="the CLI-created key's audit row")
    by = {(r[0], r[1]): r for r in found}
    assert by[("tenant.create", "team-a")][2].startswith("cli:")
    assert by[("key.create", admin["key"]["id"])][2].startswith("cli:")
    assert by[("key.create", made["key"]["id"])][2] == actor
    assert by[("key.revoke", made["key"]["id"])][2] == actor
    assert by[("key.create", made["key"]["id"])][3] <= by[("key.revoke", made["key"]["id"])][3]
    assert any(r[0] == "key.list" and r[2] == actor for r in found)
