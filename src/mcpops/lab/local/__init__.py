"""The local lab: the reference gateway under a private supervisord, on loopback, no root needed."""
