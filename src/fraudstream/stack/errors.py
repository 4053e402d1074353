"""The one error type of the stack: its message is shown to the user as a single line."""

from __future__ import annotations


class StackError(RuntimeError):
    """A problem the user can fix (missing Java, taken port, component not fetched); no traceback needed."""
