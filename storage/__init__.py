"""ClickHouse storage: one interface, an embedded (chDB) and a server (native protocol) backend."""
