"""The one error type of the Kubernetes lab."""


class KubeLabError(Exception):
    """The control plane could not be built, started or stopped; the message says what was tried and what to do."""
