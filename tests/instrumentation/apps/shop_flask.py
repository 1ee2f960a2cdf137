"""A small Flask shop for the end-to-end tests: sqlite3, PostgreSQL (psycopg2), Redis, outbound HTTP.

Environment: PORT, DOWNSTREAM_URL, STACKEYE_* (endpoint, service name, thresholds).
Run as ``python shop_flask.py``; with SE_INIT=0 it does not call ``se.init`` (for stackeye-instrument).
"""
import logging
import os
import sqlite3
import tempfile
import time

if os.environ.get("SE_INIT", "1") == "1":
    import stackeye.instrumentation as se

    se.init()

import psycopg2
import redis
import requests
from flask import Flask

app = Flask(__name__)
if os.environ.get("SE_INIT", "1") == "1":  # trace ids in the app's own log lines
    logging.basicConfig(format="%(levelname)s trace=%(otelTraceID)s %(message)s")
DB = os.path.join(tempfile.mkdtemp(), "shop.db")
with sqlite3.connect(DB) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)")
    conn.execute("INSERT OR REPLACE INTO orders VALUES (1, 'book'), (2, 'pen')")
cache = redis.Redis(host="127.0.0.1", port=6379)
log = logging.getLogger("shop")


@app.get("/hello")
def hello():
    return "hello"


@app.get("/orders/<int:order_id>")
def order(order_id):
    conn = sqlite3.connect(DB)
    row = conn.execute("SELECT item FROM orders WHERE id = ? AND item != 'gone'", (order_id,)).fetchone()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM orders WHERE id IN (1, 2, 3)")
    conn.close()
    pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    with pg.cursor() as c:
        c.execute("SELECT %s::int + 1, 'literal'", (order_id,))
        c.fetchone()
    pg.close()
    cache.set(f"order:{order_id}", row[0] if row else "none")
    log.warning("order %s placed", order_id)
    status = requests.get(os.environ["DOWNSTREAM_URL"] + "/stock", timeout=5).status_code
    return {"item": row[0] if row else None, "downstream": status}


@app.get("/pid")
def pid():
    time.sleep(0.05)
    return {"pid": os.getpid()}


@app.get("/stats")
def stats():
    import stackeye.instrumentation as se

    return se.stats()


@app.get("/boom")
def boom():
    raise RuntimeError("checkout exploded")


def crunch_numbers(ms):
    end = time.perf_counter() + ms / 1000
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def wait_for_supplier(ms):
    time.sleep(ms / 1000)


def load_report():
    conn = sqlite3.connect(DB)
    cur = conn.cursor()
    cur.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
                "SELECT count(*) FROM c")
    cur.fetchone()
    conn.close()


@app.get("/slow")
def slow():
    crunch_numbers(400)
    wait_for_supplier(200)
    load_report()
    return "slow"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
