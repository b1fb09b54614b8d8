"""The integration tests live in folders by what they drive (modules/, playbooks/, lab/, mcpops/, collection/);
their shared helpers (loopback, gateway_process, local_lab_helpers, mcpops_command, pg_testbed, tls_lab) live
here and are imported by bare name, so this folder goes on sys.path."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from connector_lab_helpers import shared_connector_lab  # noqa: E402,F401 (the session's connector lab fixture)
from kube_lab_fixtures import kube_binaries, kube_control_plane  # noqa: E402,F401 (kube/ and lego/ share ONE plane)
