# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OTLP exporter's header values (standard library only): an authorization or API key of the collector.

Both the otel_trace callback and the `mcpops` command mask them; neither ever sends or records them as data.
"""

from __future__ import annotations

HEADERS_ENV = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")


def header_values(environ):
    """The values of the OTLP headers in environ (`name=value,name2=value2`), in order; blank ones left out."""
    values = []
    for name in HEADERS_ENV:
        for pair in (environ.get(name) or "").split(","):
            _key, sep, value = pair.partition("=")
            if sep and value.strip():
                values.append(value.strip())
    return values
