"""The registry of mixture families: adding a family touches one file plus its import here."""

from __future__ import annotations

from .base import Family

FAMILIES: dict[str, type[Family]] = {}


def register(cls: type[Family]) -> type[Family]:
    """Class decorator adding a family to the registry under ``cls.name``."""
    FAMILIES[cls.name] = cls
    return cls


def get_family(name: str) -> type[Family]:
    """The family class registered as ``name``."""
    return FAMILIES[name]


from . import gaussian, beta, poisson, gamma, lognormal, student_t  # noqa: E402,F401,I001  (registration order: the unions' order)

__all__ = ["FAMILIES", "Family", "get_family", "register"]
