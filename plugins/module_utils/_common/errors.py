# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error a module's work raises (as kubernetes.core has one): what went wrong, and what was found first."""

from __future__ import annotations


class TaskError(Exception):
    """msg: what was tried, what came back and what to do next; never a secret.

    result: the return values gathered before the failure (they go into the failed task's result).
    library / reason: set when a third-party library is missing (the task says so with missing_required_lib).
    exception: a traceback text for -vvv, when there is one worth keeping.
    """

    def __init__(self, msg, result=None, library=None, reason=None, exception=None):
        super().__init__(msg)
        self.msg = msg
        self.result = dict(result or {})
        self.library = library
        self.reason = reason
        self.exception = exception
