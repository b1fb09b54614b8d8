"""The Kubernetes lab's session fixtures (`kube_binaries`, `kube_control_plane`) live in
tests/integration/kube_lab_fixtures.py and are imported by tests/integration/conftest.py, so that kube/ and lego/
share ONE private control plane in a session."""
