"""The LEGO MCP lab (seed 001) on the Kubernetes lab: the control plane and its node agent, a private PostgreSQL, the
HSM service, the collection's base manifests applied, the dashboard served by the reference service in each pod;
the seed's faults and their repairs; an inventory for the LEGO playbooks (docs/dev/lego-lab.md)."""
