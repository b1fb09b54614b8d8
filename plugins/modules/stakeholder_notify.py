#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stakeholder_notify module: its documentation, argument spec and main(); the work is _notify/stakeholder_notify_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stakeholder_notify
short_description: Post one incident update to status pages, chat channels and Telegram-style webhooks
version_added: "0.2.0"
description:
  - "The runbook's \"Stakeholder Notification\" (seed 002): one update posted to each receiver of O(receivers), in
    order. Three kinds:"
  - "V(statuspage) (Statuspage-style): C(PATCH <url>/v1/pages/<page_id>/incidents/<incident_id>) with
    C(Authorization: OAuth <token>) and C({\"incident\": {\"status\": <status>, \"body\": <body>}}) from O(status) and O(body)."
  - "V(chat) (Slack-style): C(POST <url>/api/chat.postMessage) with C(Authorization: Bearer <token>) and
    C({\"channel\": <channel>, \"text\": <text>}) (O(text)); the answer must be JSON with C(ok: true)."
  - "V(telegram) (Telegram Bot API-style webhook): C(POST <url>/bot<token>/sendMessage) with
    C({\"chat_id\": <chat_id>, \"text\": <text>}) (O(text)); the answer must be JSON with C(ok: true). The token is in the URL
    path, so the URL is only ever shown as C(<url>/bot***/sendMessage)."
  - Each receiver's outcome (HTTP status, ok, error, tries) is in RV(receivers). A receiver that fails does not stop
    the others; the task fails at the end naming every failed receiver, unless O(fail_on_error=false).
  - No answer, a 5xx or a 429 is tried again, at most O(retries) more times, O(retry_delay) seconds apart and doubling
    (a 429's C(Retry-After) when longer; 30 s at most). Any other answer is final. Redirects are never followed.
  - "A notification is not idempotent: every run posts again and reports C(changed=true). With O(dedupe_key) and
    O(state_dir), what was delivered is recorded under the key, and a re-run with the same key posts only to the
    receivers that did not get it (the others are RV(deduped_receivers), C(changed=false) when none is left)."
  - Tokens are never returned, logged or written to the record; every text returned is redacted of them.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  receivers:
    description: Where the update goes, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the result calls the receiver (default C(<kind>-<position>)); unique.
        type: str
      kind:
        description: The API the receiver speaks.
        type: str
        required: true
        choices: [statuspage, chat, telegram]
      url:
        description:
          - The API's base URL, without a user, query or fragment, for example C(https://api.statuspage.io),
            C(https://slack.com), C(https://api.telegram.org).
        type: str
        required: true
      token:
        description:
          - The secret, a vault value or C(lookup('file', ...)); the status page's API key, the chat's bot token
            (C(xoxb-...)), the Telegram bot token.
        type: str
        required: true
      page_id:
        description: The status page's page id. Required for V(statuspage).
        type: str
      incident_id:
        description: The status page's incident id. Required for V(statuspage).
        type: str
      channel:
        description: The chat channel, for example C(#incidents) or a channel id. Required for V(chat).
        type: str
      chat_id:
        description: The Telegram chat id (a number, or C(@channelname)). Required for V(telegram).
        type: str
  status:
    description: The status page incident's new status. Required when a V(statuspage) receiver is given.
    type: str
    choices: [investigating, identified, monitoring, resolved]
  body:
    description: The update as the status page shows it.
    type: str
    required: true
  text:
    description: The update as chat and webhook receivers get it (default O(body)).
    type: str
  dedupe_key:
    description:
      - Names this update, for example C(<incident id>/resolved). With O(state_dir), a receiver that got the update
        under this key before is not posted to again.
    type: str
  state_dir:
    description: Where the records of O(dedupe_key) are kept (made 0700 when missing; one 0600 JSON file a key).
    type: path
  fail_on_error:
    description: Fail the task when a receiver did not take the update (after the others were posted to).
    type: bool
    default: true
  retries:
    description: How many more times a receiver is tried after no answer, a 5xx or a 429 (0 to 5).
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry, doubled each retry (0 to 60).
    type: float
    default: 1.0
  timeout:
    description: Seconds each request may take (1 to 300).
    type: int
    default: 10
  validate_certs:
    description: Verify the TLS certificates of C(https) receivers.
    type: bool
    default: true
  ca_path:
    description: A PEM CA bundle to verify C(https) receivers with instead of the system's.
    type: path
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
notes:
  - Check mode sends nothing and records nothing; each receiver in RV(receivers) has C(would_send=true) and the
    C(payload) it would get.
  - A request that timed out may have been delivered; trying it again may post twice. Use O(dedupe_key) for re-runs.
  - "Run it on the controller (C(delegate_to: localhost)) or wherever the receivers can be reached."
seealso:
  - module: mcpops.runbooks.runbook_summary
"""

EXAMPLES = r"""
- name: "Stakeholder notification: status page resolved, internal chat"
  mcpops.runbooks.stakeholder_notify:
    receivers:
      - name: statuspage
        kind: statuspage
        url: https://api.statuspage.io
        page_id: "{{ statuspage_page_id }}"
        incident_id: "{{ statuspage_incident_id }}"
        token: "{{ statuspage_api_key }}"
      - name: incidents-channel
        kind: chat
        url: https://slack.com
        channel: "#incidents"
        token: "{{ slack_token }}"
      - name: telegram-oncall
        kind: telegram
        url: https://api.telegram.org
        chat_id: "-1001234567890"
        token: "{{ telegram_bot_token }}"
    status: resolved
    body: Service has been restored
    text: "Incident resolved: MCP Server is operational"
    dedupe_key: "INC-2026-0042/resolved"
    state_dir: ~/.local/state/mcpops/notify
  delegate_to: localhost
  register: notified
"""

RETURN = r"""
receivers:
  description: One outcome a receiver, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The receiver's name.
      type: str
    kind:
      description: Its kind.
      type: str
    method:
      description: The HTTP method.
      type: str
    url:
      description: The URL posted to, a webhook's token shown as C(***).
      type: str
    target:
      description: The page/incident, channel or chat id.
      type: str
    payload:
      description: The JSON body sent (or that would be sent in check mode).
      type: dict
    sent:
      description: Whether it was delivered by this run.
      type: bool
    would_send:
      description: Check mode, whether it would be posted to.
      type: bool
    deduped:
      description: Whether it was skipped because the O(dedupe_key) record says it got the update.
      type: bool
    ok:
      description: Whether it has the update (null in check mode when not deduped).
      type: bool
    status:
      description: The last HTTP status (null when nothing answered or nothing was sent).
      type: int
    error:
      description: Why it did not take the update (null when it did).
      type: str
    attempts:
      description: How many requests were made.
      type: int
  sample: [{"name": "chat", "kind": "chat", "method": "POST", "url": "https://slack.com/api/chat.postMessage",
            "target": "#incidents", "payload": {"channel": "#incidents", "text": "Incident resolved"}, "sent": true,
            "would_send": false, "deduped": false, "ok": true, "status": 200, "error": null, "attempts": 1}]
failed_receivers:
  description: The names of the receivers that did not take the update.
  returned: always
  type: list
  elements: str
deduped_receivers:
  description: The names of the receivers not posted to because the record says they got the update.
  returned: always
  type: list
  elements: str
record:
  description: The record file of O(dedupe_key) (null without one).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.stakeholder_notify_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            receivers=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str"),
                kind=dict(type="str", required=True, choices=["statuspage", "chat", "telegram"]),
                url=dict(type="str", required=True),
                token=dict(type="str", required=True, no_log=True),
                page_id=dict(type="str"),
                incident_id=dict(type="str"),
                channel=dict(type="str"),
                chat_id=dict(type="str"),
            )),
            status=dict(type="str", choices=["investigating", "identified", "monitoring", "resolved"]),
            body=dict(type="str", required=True),
            text=dict(type="str"),
            dedupe_key=dict(type="str", no_log=False),
            state_dir=dict(type="path"),
            fail_on_error=dict(type="bool", default=True),
            retries=dict(type="int", default=2),
            retry_delay=dict(type="float", default=1.0),
            timeout=dict(type="int", default=10),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
        ),
        required_together=[("dedupe_key", "state_dir")],
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
