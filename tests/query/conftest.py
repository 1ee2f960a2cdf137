"""A generated data set with known answers, loaded through the real OTLP insert path."""
from __future__ import annotations

import dataclasses

import pytest
from stackeye.query import demo_data, demo_otlp
from support.demo_up import start_demo_up
from support.query_expected import FROM, SPEC, TO, spans_in


@dataclasses.dataclass
class Loaded:
    storage: object
    records: list
    spec: demo_data.DemoSpec

    def spans(self, start=FROM, end=TO):
        return spans_in(self.records, int(start.timestamp() * 1e9), int(end.timestamp() * 1e9))


@pytest.fixture(scope="module")
def demo(chdb_path, request):
    """The demo data set in a database of this test module's own."""
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    name = "q_" + request.module.__name__.rsplit(".", 1)[-1][:40]
    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database={name}"))
    storage.migrate()
    records: list = []
    demo_otlp.load(storage, SPEC, records)
    yield Loaded(storage, records, SPEC)
    storage.close()


@pytest.fixture(scope="module")
def empty_storage(chdb_path, request):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    name = "qe_" + request.module.__name__.rsplit(".", 1)[-1][:40]
    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database={name}"))
    storage.migrate()
    yield storage
    storage.close()


@pytest.fixture(scope="package")
def demo_up(tmp_path_factory):
    """A real ``stackeye up`` with the demo data (``stackeye demo-data`` over OTLP/gRPC), shared by
    the modules of tests/query; its queries time out after 1 s."""
    srv = start_demo_up(str(tmp_path_factory.mktemp("views-up") / "data"), ["--query-timeout-s", "1"])
    yield srv
    srv.stop()
