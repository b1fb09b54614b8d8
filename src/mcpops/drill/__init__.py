"""`mcpops drill`: break a lab the way production breaks, run the runbook, check the lab, report.

    command.py       the subcommand and the drill's sequence (lab up, prepare, break, run, verify, report)
    scenarios.py     the drill table: which runbook is rehearsed with which lab fault
    checks.py        what must be true afterwards (healthy, storage-meta, tokens, the fault's symptom)
    verdict.py       the drill's verdict (drill.json, drill.md)
    lab_adapters.py  the local and the fleet lab behind one small interface; a target of the 1C gateway or of
                     another service (--service cctelegram-mcp on the fleet)
    profiles.py      a service's profile (profiles/<name>.yml) and its health conditions, through the collection
"""
