"""Loopback helpers the integration tests share: every service they start listens on 127.0.0.1."""

from mcpops.lab.loopback import free_port

__all__ = ["free_port"]
