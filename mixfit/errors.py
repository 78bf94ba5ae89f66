"""The one domain error of mixfit."""


class FitError(ValueError):
    """A fit or score that cannot run as asked. The message says what to change."""
