"""`mcpops list`, `mcpops run` and `mcpops report`: the runbooks' metadata, one runbook through
ansible-runner with live progress, the incident report, and the AWX export of the same metadata.

    runbooks.py      the runbooks' `mcpops_runbook` metadata (and REPO, the checkout)
    runner.py        one runbook through ansible-runner, in a run dir of its own
    progress.py      the live progress view fed by ansible-runner's events
    report.py        `mcpops report`: re-render report.md from report.json
    awx_export.py    the AWX job templates and surveys generated from the metadata
    plugin_utils.py  the collection's plugins/plugin_utils, loaded by file path
"""
