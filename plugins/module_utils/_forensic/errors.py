# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error of the forensic domain: a key that cannot be used, a sealed file that does not open."""

from __future__ import annotations


class ForensicError(Exception):
    """What was refused or failed and what to do next; never a key byte, never a plaintext byte."""
