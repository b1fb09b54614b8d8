"""The labs: the reference gateway (gateway/), the local lab under supervisord (local/), the fleet lab under
systemd-nspawn (fleet/), the fixtures around them (fixtures/), and what they share: seed data (seed.py), PID
helpers (pids.py) and a JSON-over-HTTP client (http_client.py)."""
