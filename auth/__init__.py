"""Tenants, hashed keys and tokens, roles, and the audit of who changed them.

- :mod:`.principal`: who a request acts as (tenant, role, key id, where the key came from);
- :mod:`.tenants`: what a tenant name may be;
- :mod:`.secrets`: new secrets, their recognisable form and the hash that is stored;
- :mod:`.keystore`: the key file (tenants and keys, never a secret), shared by the CLI and the server;
- :mod:`.credentials`: one resolver of an ``authorization`` header for ingest and for the API;
- :mod:`.audit`: the ``stackeye_audit`` rows of changes made through the API and the key file.

It sits above storage (the audit writes rows) and below the capabilities: the collector's ingest
and the app's API both resolve credentials here.
"""
