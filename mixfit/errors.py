"""The one domain error of mixfit."""


class FitError(ValueError):
    """A fit or score that cannot run as asked. The message says what to change.

    ``largest_k``: where the data cannot support as many components as asked, the most they can
    (for callers that ask for K under another name, such as an LRT's ``max_k``); else None.
    """

    def __init__(self, message: str, largest_k: int | None = None) -> None:
        super().__init__(message)
        self.largest_k = largest_k
