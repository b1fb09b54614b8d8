"""Unit tests import the collection as ansible_collections.mcpops.runbooks through the checkout link."""

import os
import sys

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
