"""One check of a drill's verdict: its name, whether it passed, what was seen, and on which target. Its own module, so
that the checks of every lab (checks, compose_checks, lego_checks, cert_drill) and the lab adapters that call them can
share it without importing each other."""

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    target: str = ""

    def line(self):
        where = f" [{self.target}]" if self.target else ""
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}{where}: {self.detail}"
