# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of the backup code that only some runs load (the restore swap, the sealed safety backups).

They live here so that the modules' entry points can name them at import without loading that code: a
backup create never compiles the swap or the sealing (the AnsiballZ payload compiles every file it imports).
data_swap and sealed_backup raise them and still export them under their old names.
"""

from __future__ import annotations


class SwapError(Exception):
    """A restore step failed, or was refused; the message names the file and what to do."""


class SealedBackupError(Exception):
    """A sealed backup that cannot be made, read or opened; the message says what to do (never a key byte)."""
