"""Stand-in for the get-pip script that ansible-test downloads when it builds its sanity venvs.

Its download host is not reachable from CI (only the package registries are), so pip comes from
the interpreter's own ensurepip and then installs, from the package registry, what ansible-test asked for.
"""
import ensurepip
import os
import subprocess
import sys

# get-pip's own switches; pip install does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
# ensurepip turns the machine's pip configuration off in this process (PIP_CONFIG_FILE=/dev/null);
# the install below needs it back (index, certificates).
os.environ.pop("PIP_CONFIG_FILE", None)
os.environ.pop("ENSUREPIP_OPTIONS", None)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + args))
