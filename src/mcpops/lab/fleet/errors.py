"""The fleet lab's errors, shared by the lab and its faults (so neither imports the other for them)."""


class FleetError(Exception):
    """A fleet operation failed or cannot start; the message says what was tried and what to do."""


class UnknownFault(FleetError):
    pass
