"""From the webhook to the runbook (issue 21): `mcpops watch` (ansible-rulebook with the collection's rulebook), the
dispatch of each alert (`mcpops alert`, run by the rulebook), pending approvals (`mcpops approvals|approve|deny`)."""
