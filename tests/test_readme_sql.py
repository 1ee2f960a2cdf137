"""Every SQL example in README.md runs on the schema (on an empty store and on a little data)."""
from __future__ import annotations

import os
import re

import pytest
from stackeye.core.signals import Signal
from stackeye.storage.migrations import split_statements
from support.otlp_builders import logs_request, spans_request

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def readme_queries() -> list[str]:
    text = open(README).read()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    return [q for block in blocks for q in split_statements(block.replace("\n--", "\n;\n--"))]


def test_readme_has_sql_examples():
    assert len(readme_queries()) >= 7


@pytest.mark.parametrize("query", readme_queries(), ids=lambda q: q.split("\n")[0][:50])
def test_readme_query_runs(chdb_storage, query):
    st = chdb_storage()
    st.insert_otlp(Signal.TRACES, [spans_request("checkout", 20).SerializeToString()], "t1")
    st.insert_otlp(Signal.LOGS, [logs_request("checkout", ["a timeout happened"]).SerializeToString()], "t2")
    st.query(query)
