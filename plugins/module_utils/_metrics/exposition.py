# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A /metrics page (Prometheus text format) read with prometheus_client's parser, never a regex: a Snapshot of its
samples. prometheus_client is imported lazily so that a module can name it when it is missing."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

LIBRARY = "prometheus-client"


def load_parser():
    """prometheus_client's text_string_to_metric_families; ImportError when the library is not installed."""
    from prometheus_client.parser import text_string_to_metric_families  # lazy: named by require_parser

    return text_string_to_metric_families


def require_parser():
    """The parser, or a TaskError naming the library (missing_required_lib)."""
    try:
        return load_parser()
    except ImportError as exc:
        raise TaskError(str(exc), library=LIBRARY, reason="to parse the /metrics page (Prometheus text format)",
                        exception=str(exc))


class Snapshot:
    """The samples of one page: [(name, labels dict, value)], and the metric names it declares (a family with no
    sample yet still counts as present)."""

    def __init__(self, samples, names):
        self.samples = samples
        self.names = names

    def select(self, selector):
        """{sorted label items: value} of the samples the selector picks."""
        return {tuple(sorted(labels.items())): value for name, labels, value in self.samples
                if name == selector.name and selector.matches(labels)}

    def declares(self, name):
        return name in self.names


def parse_page(text, parser=None):
    """A Snapshot of the page; ValueError (the parser's words) when it is not Prometheus text."""
    parser = parser or require_parser()
    samples, names = [], set()
    for family in parser(text):
        # The parser names a counter's family without its _total; the samples keep it.
        names.update((family.name, family.name + "_total"))
        for sample in family.samples:
            names.add(sample.name)
            samples.append((sample.name, dict(sample.labels), float(sample.value)))
    return Snapshot(samples, names)
