# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_log_scan's check names and the cap of a counter's keys: what its options and problems need before a scan, in
a file of their own so that the module's start does not compile the scan (log_findings and the rest load when a
scan runs). No Ansible here.
"""

CHECKS = ("errors", "slow", "auth_failures", "rate_limited")
MAX_KEYS = 10000
