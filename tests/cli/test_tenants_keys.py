"""`stackeye tenants` and `stackeye keys` on the key file: secrets printed once, never listed."""
from __future__ import annotations

import getpass
import json
import socket

from stackeye.cli.main import main


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tenants_create_prints_an_ingest_token_and_a_read_key_once(tmp_path, capsys):
    d = str(tmp_path / "data")
    code, out, _ = _run(capsys, "tenants", "create", "team-a", "--data-dir", d, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ingest_token"]["secret"].startswith("se_ing_") and doc["api_key"]["secret"].startswith("se_key_")
    text = open(tmp_path / "data" / "stackeye-keys.json").read()
    assert doc["ingest_token"]["secret"] not in text and doc["api_key"]["secret"] not in text
    code, out, _ = _run(capsys, "tenants", "list", "--data-dir", d, "--format", "json")
    [t] = json.loads(out)
    assert t["tenant"] == "team-a" and t["live_keys"] == 2 and t["created_by"] == f"cli:{getpass.getuser()}@{socket.gethostname()}"
    code, out, _ = _run(capsys, "keys", "list", "--data-dir", d)
    assert code == 0 and doc["api_key"]["id"] in out and "se_" not in out


def test_keys_create_revoke_list(tmp_path, capsys):
    keys_file = str(tmp_path / "elsewhere" / "keys.json")
    for t in ("team-a", "team-b"):
        assert _run(capsys, "tenants", "create", t, "--keys-file", keys_file)[0] == 0
    code, out, _ = _run(capsys, "keys", "create", "--tenant", "team-b", "--role", "admin", "--label", "ops",
                        "--keys-file", keys_file, "--format", "json")
    created = json.loads(out)
    assert code == 0 and created["secret"].startswith(f"se_key_{created['key']['id']}_")
    code, out, _ = _run(capsys, "keys", "revoke", created["key"]["id"], "--keys-file", keys_file)
    assert code == 0 and "revoked" in out
    code, _, err = _run(capsys, "keys", "revoke", created["key"]["id"], "--keys-file", keys_file)
    assert code == 0 and "revoked already" in err
    code, out, _ = _run(capsys, "keys", "list", "--tenant", "team-b", "--keys-file", keys_file, "--format", "json")
    rows = json.loads(out)
    assert {r["tenant"] for r in rows} == {"team-b"} and len(rows) == 3
    [ops] = [r for r in rows if r["label"] == "ops"]
    assert ops["revoked_at"] and ops["revoked_by"].startswith("cli:") and "sha256" not in ops and "secret" not in ops


def test_errors_name_the_fix_and_exit_2(tmp_path, capsys):
    d = str(tmp_path / "data")
    code, _, err = _run(capsys, "keys", "create", "--tenant", "nope", "--role", "read", "--data-dir", d)
    assert code == 2 and "stackeye tenants create nope" in err
    code, _, err = _run(capsys, "tenants", "create", "Team A", "--data-dir", d)
    assert code == 2 and "not a tenant name" in err
    code, _, err = _run(capsys, "keys", "revoke", "0badc0de", "--data-dir", d)
    assert code == 2 and "stackeye keys list" in err


def test_help_has_examples(capsys):
    for argv in (["tenants", "--help"], ["keys", "--help"], ["keys", "create", "--help"]):
        try:
            main(argv)
        except SystemExit:
            pass
        assert "example" in capsys.readouterr().out
