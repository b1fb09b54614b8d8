# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who acts on the gateway: the break-glass account and the operator, checked, then sent as two request headers.

docs/dev/contract-operator-identity.md is the contract: header names, the value rule, the wire encoding."""

from __future__ import annotations

import re
from urllib.parse import quote

BREAK_GLASS_HEADER = "X-Mcpops-Break-Glass"
OPERATOR_HEADER = "X-Mcpops-Operator"
MAX_CHARS = 128
# A value: 1..128 characters, none of them a control character (C0, DEL, C1, the Unicode line and paragraph
# separators: so no CR, LF or tab), neither the first nor the last a space. \Z, not $: a trailing newline is refused.
# roles/operator_identity/vars/main.yml carries the same pattern for the role's early check (a unit test compares).
_CTRL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
VALUE_PATTERN = r"\A[^\s%s](?:[^%s]{0,%d}[^\s%s])?\Z" % (_CTRL, _CTRL, MAX_CHARS - 2, _CTRL)
VALUE_RE = re.compile(VALUE_PATTERN)
# On the wire a header value is printable ASCII: every other character (and `%` itself) as UTF-8 %XX.
_WIRE_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
OPTIONS = (("break_glass_account", BREAK_GLASS_HEADER), ("operator", OPERATOR_HEADER))


class OperatorIdentityError(ValueError):
    """A break-glass account or operator name that may not go into a header (or the audit log)."""


def check_value(value, option):
    """value when it follows the rule; OperatorIdentityError naming the option and the rule otherwise."""
    if not isinstance(value, str) or not VALUE_RE.match(value):
        shown = repr(value[:40]) + ("..." if len(value) > 40 else "") if isinstance(value, str) else type(value).__name__
        length = len(value) if isinstance(value, str) else 0
        raise OperatorIdentityError(
            "%s %s (%d characters) is refused: it must be 1-%d characters with no control character (no CR, LF or "
            "tab) and no space at either end" % (option, shown, length, MAX_CHARS))
    return value


def wire_value(value):
    """The header text of a checked value: printable ASCII as is, anything else (and `%`) percent-encoded UTF-8."""
    return quote(value, safe=_WIRE_SAFE, encoding="utf-8")


class OperatorIdentity:
    """The break-glass account and the operator of a run; either may be absent (None or blank: not given)."""

    def __init__(self, break_glass_account=None, operator=None):
        self.break_glass_account = break_glass_account if break_glass_account not in (None, "") else None
        self.operator = operator if operator not in (None, "") else None

    @classmethod
    def from_params(cls, params):
        """The identity of a module's options break_glass_account and operator (doc fragment gateway_api)."""
        return cls(params.get("break_glass_account"), params.get("operator"))

    def problem(self):
        """None when both values (those given) follow the rule, else the text of the first refusal."""
        try:
            self.headers()
        except OperatorIdentityError as exc:
            return str(exc)
        return None

    def headers(self):
        """{header: wire value} of the values given; OperatorIdentityError when one breaks the rule."""
        out = {}
        for option, header in OPTIONS:
            value = getattr(self, option)
            if value is not None:
                out[header] = wire_value(check_value(value, option))
        return out

    def as_dict(self):
        return {"break_glass_account": self.break_glass_account, "operator": self.operator}
