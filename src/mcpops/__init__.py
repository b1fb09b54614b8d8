"""mcpops: MCP gateway incident runbooks (the command, the local lab, the reference gateway)."""

__version__ = "0.1.0"
