"""stackeye.query: SQL access, the HTTP API, views, triggers and decisions on the ClickHouse tables."""
