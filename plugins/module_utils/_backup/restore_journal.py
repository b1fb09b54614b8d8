# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a restore's journal lives, and whether one is waiting: the check every gateway_backup run makes first.

What the journal holds and how it is written, read and trusted is data_swap's; this is only its name, so that
a run with nothing to recover never loads the swap.
"""

from __future__ import annotations

import os

JOURNAL_NAME = ".restore-journal.json"


def journal_path(data_dir):
    return os.path.join(data_dir, JOURNAL_NAME)


def interrupted_restore(data_dir):
    """True when a restore journal is waiting for recovery (read-only check; a journal that is a link
    counts, so that the next gateway_backup run refuses it loudly)."""
    return os.path.lexists(journal_path(data_dir))
