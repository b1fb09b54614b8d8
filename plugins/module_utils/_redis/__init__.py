# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis domain: a small RESP2 client over a socket (connection.py; no redis-py needed on the target), the
SCAN pattern guard (key_pattern.py), key names as text (key_text.py), the SCAN loop with its bounded summary and
the batched changes (key_scan.py), and redis_keys' entry point (redis_keys_run.py). One error type: RedisError."""
