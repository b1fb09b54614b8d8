# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error of the _mysql domain: what was tried, what came back, what to do next; never a secret."""

from __future__ import annotations


class MysqlError(Exception):
    """msg: the whole message (safe to show: no password, no connection secret).

    stage: where it happened (e.g. "input", "connect", "check", "restore"), when the caller wants to say so."""

    def __init__(self, msg, stage=None):
        super().__init__(msg)
        self.msg = msg
        self.stage = stage
