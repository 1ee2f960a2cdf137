"""Every query of docs/sql.md runs on the demo data (ending now) and answers something."""
from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from stackeye.query import demo_data, demo_otlp

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "sql.md")


def recipes() -> list[tuple[str, str]]:
    with open(DOC) as f:
        text = f.read()
    out = []
    for m in re.finditer(r"^### (.+?)\n(.*?)```sql\n(.*?)```", text, re.S | re.M):
        out.append((m.group(1), m.group(3)))
    return out


RECIPES = recipes()


def test_the_cookbook_has_twenty_questions():
    assert len(RECIPES) >= 20
    assert len({title for title, _ in RECIPES}) == len(RECIPES)


@pytest.fixture(scope="module")
def recent(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=q_cookbook"))
    storage.migrate()
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    demo_otlp.load(storage, demo_data.DemoSpec(spans=3000, end=end, hours=1.5, error_every=5))
    yield storage
    storage.close()


@pytest.mark.parametrize("title,sql", RECIPES, ids=[t.split(".")[0] for t, _ in RECIPES])
def test_recipe_runs(recent, title, sql):
    result = recent.query(sql)
    assert result.rows, f"{title}: no rows"
