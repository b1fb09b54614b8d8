"""The Kubernetes lab of LEGO MCP (issue 18): a private control plane on loopback.

`build` makes kube-apiserver and kube-controller-manager from Debian's `kubernetes` source package (and takes
kubectl from Debian's `kubernetes-client`), cached outside the checkout; `control_plane` runs etcd, the API server
and the controller manager as our children on 127.0.0.1 and writes a kubeconfig. No kubelet, no scheduler: pods
stay Pending until the lab node agent (the next part of issue 18) binds them. docs/dev/kube-lab.md says more.
"""
