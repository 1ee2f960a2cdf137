"""The same shop on FastAPI/uvicorn: sqlite3, PostgreSQL (psycopg 3), Redis, outbound HTTP (httpx)."""
import logging
import os
import sqlite3
import tempfile

import stackeye.instrumentation as se

se.init()

import httpx
import psycopg
import redis
import uvicorn
from fastapi import FastAPI

app = FastAPI()
DB = os.path.join(tempfile.mkdtemp(), "shop.db")
with sqlite3.connect(DB) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)")
    conn.execute("INSERT OR REPLACE INTO orders VALUES (1, 'book'), (2, 'pen')")
cache = redis.Redis(host="127.0.0.1", port=6379)
log = logging.getLogger("shop")


@app.get("/hello")
def hello():
    return "hello"


@app.get("/orders/{order_id}")
async def order(order_id: int):
    conn = sqlite3.connect(DB)
    row = conn.execute("SELECT item FROM orders WHERE id = ? AND item != 'gone'", (order_id,)).fetchone()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM orders WHERE id IN (1, 2, 3)")
    conn.close()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as pg:
        pg.execute("SELECT %s::int + 1, 'literal'", (order_id,)).fetchone()
    cache.set(f"order:{order_id}", row[0] if row else "none")
    log.warning("order %s placed", order_id)
    se.counter("orders_placed").add(1, {"plan": "pro"})
    async with httpx.AsyncClient() as client:
        status = (await client.get(os.environ["DOWNSTREAM_URL"] + "/stock", timeout=5)).status_code
    return {"item": row[0] if row else None, "downstream": status}


@app.get("/boom")
def boom():
    raise RuntimeError("checkout exploded")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
