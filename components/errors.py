"""The one exception type for operator mistakes."""

import pulumi


class OperatorError(pulumi.RunError):
    """A mistake an operator can fix: bad settings, a missing or unreadable secret.

    It derives from `pulumi.RunError`, so `pulumi up` prints the message alone,
    without a Python traceback. The message must name the file and key at fault
    and say how to fix it; it must never contain a secret value.
    """
