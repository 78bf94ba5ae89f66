"""``GET /v1/families``: derived from the core's request models, so a new family shows up here
without touching the service."""

from __future__ import annotations

import functools
import typing
from typing import Any

from mixfit.families import FAMILIES
from mixfit.schema import (
    MAX_DIM,
    MAX_HELD_VALUES,
    MAX_ITER,
    MAX_K,
    MAX_PATH_KEPT,
    MAX_PATH_VALUES,
    MAX_SCORE_POINTS,
    MAX_STARTS,
    FitOptions,
    FitRequest,
    literal_values,
)

from .models import Families, FamilyInfo, FamilyOption


def _members(annotation: Any) -> list[type]:
    if isinstance(annotation, type) and issubclass(annotation, FitOptions):
        return [annotation]
    return [cls for arg in typing.get_args(annotation) for cls in _members(arg)]


def request_models() -> dict[str, type[FitOptions]]:
    """Family name -> its request model, read from ``FitRequest``'s discriminated union."""
    members = _members(FitRequest.model_fields["root"].annotation)
    return {literal_values(cls.model_fields["family"].annotation)[0]: cls for cls in members}


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
            values = literal_values(field.annotation)
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
        caps={
            "MAX_K": MAX_K,
            "MAX_STARTS": MAX_STARTS,
            "MAX_ITER": MAX_ITER,
            "MAX_DIM": MAX_DIM,
            "MAX_PATH_VALUES": MAX_PATH_VALUES,
            "MAX_PATH_KEPT": MAX_PATH_KEPT,
            "MAX_HELD_VALUES": MAX_HELD_VALUES,
            "MAX_SCORE_POINTS": MAX_SCORE_POINTS,
        },
    )
