"""``GET /v1/families``: derived from the core's request models, so a new family shows up here
without touching the service."""

from __future__ import annotations

import functools
import types
import typing
from typing import Any, Literal

from mixfit.families import FAMILIES
from mixfit.schema import MAX_DIM, MAX_ITER, MAX_K, MAX_STARTS, FitOptions, FitRequest

from .models import Families, FamilyInfo, FamilyOption


def _literals(annotation: Any) -> list[str]:
    """The string values a field accepts as a plain choice (Literals anywhere in its union)."""
    if typing.get_origin(annotation) is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _literals(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [v for arg in typing.get_args(annotation) for v in _literals(arg)]
    return []


def _members(annotation: Any) -> list[type]:
    if isinstance(annotation, type) and issubclass(annotation, FitOptions):
        return [annotation]
    return [cls for arg in typing.get_args(annotation) for cls in _members(arg)]


def request_models() -> dict[str, type[FitOptions]]:
    """Family name -> its request model, read from ``FitRequest``'s discriminated union."""
    members = _members(FitRequest.model_fields["root"].annotation)
    return {_literals(cls.model_fields["family"].annotation)[0]: cls for cls in members}


@functools.cache
def families() -> Families:
    """Every registered family with its own options (those beyond the shared ``FitOptions``)."""
    models = request_models()
    infos = []
    for name in FAMILIES:
        cls = models[name]
        options = []
        for field_name, field in cls.model_fields.items():
            if field_name == "family" or (
                field_name in FitOptions.model_fields and field_name != "init"
            ):
                continue
            values = _literals(field.annotation)
            if values:
                options.append(
                    FamilyOption(
                        name=field_name,
                        values=values,
                        default=str(field.default),
                        description=field.description,
                    )
                )
        infos.append(
            FamilyInfo(
                name=name, description=" ".join((cls.__doc__ or "").split()), options=options
            )
        )
    return Families(
        families=infos,
        caps={"MAX_K": MAX_K, "MAX_STARTS": MAX_STARTS, "MAX_ITER": MAX_ITER, "MAX_DIM": MAX_DIM},
    )
