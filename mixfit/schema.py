"""The one request/result schema, shared by the core, the REST service, the client and the CLI.

The family-independent models live in ``mixfit.options``; each family module defines its own
request, start-value and parameter models. This module joins them from the family registry
(``mixfit.families.FAMILIES``) into the unions the faces use: ``FitRequest`` (discriminated by
``family``), ``Params``, and the result models that hold parameters. Names follow one ladder:
``FitRequest`` -> ``FitResult`` (whose ``model`` is a ``Model``), ``ScoreRequest`` ->
``ScoreResult``. Everything of ``mixfit.options`` is importable from here too.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, RootModel, Tag

from .families import FAMILIES
from .options import *  # noqa: F403  (one import place for the faces)
from .options import (
    BoundaryPolicy,
    CovarianceType,
    Criterion,
    FitOptions,
    ReferenceDensity,
    Schema,
    ScreeningSummary,
    StartSummary,
    Vector,
    family_tag,
)

Family = Literal[tuple(FAMILIES)]  # type: ignore[valid-type]
# Each family's own models, re-exported by name (GaussianFitRequest, BetaParams, ...).
globals().update(
    {
        model.__name__: model
        for cls in FAMILIES.values()
        for model in (cls.request_model, cls.start_model, cls.params_model)
    }
)
# Every family's start methods (the CLI's choices).
INIT_METHODS = tuple(
    dict.fromkeys(
        str(m)
        for cls in FAMILIES.values()
        for m in typing.get_args(cls.request_model.model_fields["init"].annotation)
        if typing.get_origin(m) is Literal
        for m in typing.get_args(m)
    )
)


def literal_values(annotation: Any) -> list[str]:
    """The string values a field accepts as a plain choice (Literals anywhere in its union)."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if origin is Annotated:
        return literal_values(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [v for arg in typing.get_args(annotation) for v in literal_values(arg)]
    return []


def family_options() -> dict[str, dict[str, list[str]]]:
    """Per family, its own choice options beyond the shared ``FitOptions`` (``init`` apart):
    option name -> accepted values. What the CLI's flags and ``/v1/families`` derive from."""
    out: dict[str, dict[str, list[str]]] = {}
    for name, cls in FAMILIES.items():
        fields = cls.request_model.model_fields
        out[name] = {
            field: literal_values(info.annotation)
            for field, info in fields.items()
            if field not in FitOptions.model_fields
            and field != "family"
            and literal_values(info.annotation)
        }
    return out


_NAMES = ", ".join(f"'{name}'" for name in FAMILIES)

FitRequestUnion = Annotated[
    Union[tuple(Annotated[cls.request_model, Tag(name)] for name, cls in FAMILIES.items())],  # noqa: UP007
    Discriminator(
        family_tag,
        custom_error_type="unknown_family",
        custom_error_message=f"family must be one of {_NAMES}",
    ),
]


class FitRequest(RootModel[FitRequestUnion]):
    """A fit request: one member per family, chosen by ``family`` (default ``gaussian``)."""


Params = Union[tuple(cls.params_model for cls in FAMILIES.values())]  # noqa: UP007


class KResult(Schema):
    """Everything fitted for one K. Information criteria: lower is better."""

    k: int
    status: Literal["ok", "failed"]
    message: str | None = None
    loglik: float | None = None
    n_params: int
    bic: float | None = Field(None, description="-2 LL + p ln n (lower is better).")
    aic: float | None = Field(None, description="-2 LL + 2 p (lower is better).")
    icl: float | None = Field(
        None, description="BIC + 2 x classification entropy (lower is better)."
    )
    converged: bool = False
    n_iter: int = 0
    best_start: int | None = None
    params: Params | None = None
    points: Vector | None = Field(
        None, description="Points' worth of weight per component: n x weight."
    )
    small_components: list[int] = Field(
        default_factory=list,
        description="Components with fewer points' worth of weight than the parameters they "
        "hold on their own: well defined, but resting on little data.",
    )
    screening: ScreeningSummary | None = None
    starts: list[StartSummary]
    path: list[Params] | None = Field(
        None, description="Best start's parameters at each iteration (keep_path only)."
    )


class Model(Schema):
    """A fitted mixture: what scoring needs."""

    family: Family
    k: int
    d: int
    covariance: CovarianceType | None = None
    boundary: BoundaryPolicy | None = None
    n_train: float = Field(description="Training sample size (sum of weights).")
    params: Params
    reference: ReferenceDensity


class FitResult(Schema):
    """The result of a fit: per-K results, the selection, and the selected model."""

    family: Family
    criterion: Criterion
    k_selected: int
    n: int
    d: int
    n_effective: float = Field(description="Sum of point weights (n when unweighted).")
    boundary_moved: int = Field(0, description="Points moved off 0/1 by squeeze or clip.")
    results: list[KResult]
    model: Model
    seed: int
    data_hash: str
    versions: dict[str, str]
    options: dict[str, Any] = Field(description="The validated request, without the data.")

    def _repr_html_(self) -> str:
        """Jupyter's summary: the K table, the selected parameters, the density as SVG."""
        from .display import result_html

        return result_html(self)

    def plot(self, x: Any = None, weights: Any = None, *, pairs: bool = False) -> Any:
        """A matplotlib ``Figure`` of the data (optional) and fitted density, every start's
        trace of the selected K and the criteria against K; see ``mixfit.display.figure``.
        Needs the ``plot`` extra: ``pip install 'mixfit[plot]'``."""
        from .display import figure

        return figure(self, x, weights, pairs=pairs)
