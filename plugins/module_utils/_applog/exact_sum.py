# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sum of floats that does not depend on the order they were added in: Shewchuk's partials (the recipe behind
math.fsum), kept as a short list while adding, so that sums of a log's ranges, merged, equal the sum of one pass
over it to the last bit. No Ansible here.
"""

from __future__ import annotations

import math


def add_exact(partials, value):
    """Add value (a finite number) to partials (a list, changed in place): their exact sum is then the old one plus
    value. The list stays short (a few floats whatever the count)."""
    x = float(value)
    kept = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        high = x + y
        low = y - (high - x)
        if low:
            partials[kept] = low
            kept += 1
        x = high
    partials[kept:] = [x]


def exact_total(partials):
    """The correctly rounded sum of what was added."""
    return math.fsum(partials)
