"""The one exception family that reaches users as a single line, never as a traceback."""


class ShopperError(Exception):
    """A problem the user can fix; str() is one line naming the file, value or step and the fix."""
