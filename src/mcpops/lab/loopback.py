"""The lab's one loopback port picker: every private instance (databases, nginx, Prometheus, the control plane, the
reference services) listens on 127.0.0.1, on a port nothing holds when it is picked."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick; a race with another starter is
    possible until the caller binds it, which is why labs retry a start that finds its port taken)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
