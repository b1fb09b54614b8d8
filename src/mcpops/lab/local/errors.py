"""The local lab's errors, shared by the lab, its faults and its command (none imports another for them)."""


class LabError(Exception):
    """A lab operation failed; the message says what was tried and what to do next."""


class UnknownFault(LabError):
    pass
