"""The Kubernetes lab of LEGO MCP (issue 18): a private control plane on loopback.

`build` makes kube-apiserver and kube-controller-manager from Debian's `kubernetes` source package (and takes
kubectl from Debian's `kubernetes-client`), cached outside the checkout; `control_plane` runs etcd, the API server
and the controller manager as our children on 127.0.0.1 and writes a kubeconfig. No kubelet, no scheduler: the
lab node agent (`node_agent`, started by `node_process.NodeAgentProcess`) binds pods and sets their status, simulated
from each pod's spec. docs/dev/kube-lab.md and docs/dev/kube-node-agent.md say more.
"""
