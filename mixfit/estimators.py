"""scikit-learn estimators over mixfit's engine, one per family: ``GaussianMixture`` and
``BetaMixture`` written here, one for every other registered family made from its registry
entry (``ESTIMATORS``: a family named ``a_b`` gets ``ABMixture``).

They follow ``sklearn.mixture.GaussianMixture``'s interface (``fit``, ``predict``,
``predict_proba``, ``score_samples``, ``score``, ``bic``, ``aic``, ``sample``, and fitted
attributes ``weights_``, ``means_``, ``covariances_``, ``converged_``, ``n_iter_``,
``lower_bound_``) and run ``mixfit.fit``: the same start portfolio, screening, SQUAREM and
degeneracy policy as the library and the service. The whole mixfit result is ``result_`` (every
K, every start's trace) and the fitted model ``model_`` (what ``mixfit.score`` and the REST
service's models take). Where mixfit differs from scikit-learn, mixfit's default is kept
(README: "scikit-learn estimators" maps every ``GaussianMixture`` argument):

- ``n_components`` is an int or a range/list of ints; with several, the ``criterion`` (BIC by
  default) picks one, recorded as ``n_components_``.
- ``n_init`` defaults to 10 starts per K (scikit-learn: 1), chosen by short-EM screening.
- ``tol`` is relative to |log-likelihood| in standard units by default (``tol_type``), 1e-8.
- ``var_floor`` (relative to the data's variance, or its robust variance or 100 times the
  spread of its tightest clusters where smaller) stands where ``reg_covar`` (absolute, added
  to the diagonal) does.

Importing this module needs scikit-learn (the ``sklearn`` extra); ``import mixfit`` does not.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .families import FAMILIES
from .fit import fit as mixfit_fit
from .options import FitOptions
from .sampling import sample as mixfit_sample
from .schema import FitResult, KResult
from .scoring import joint_log_density, log_density, model_family, p_values

# scikit-learn's init_params names, as mixfit's start methods
INIT_ALIASES = {"k-means++": "kmeans++", "random_from_data": "random"}


class _Mixture(DensityMixin, BaseEstimator):
    """What every family's estimator shares: fitting through ``mixfit.fit`` and scoring."""

    _family = "gaussian"

    # -- fitting ----------------------------------------------------------------------------------
    def _family_options(self) -> dict[str, Any]:
        return {}

    def _k(self) -> int | list[int]:
        k = self.n_components
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            return int(k)
        if isinstance(k, range | list | tuple | np.ndarray) and len(k) > 0:
            return sorted({int(v) for v in k})
        raise ValueError(
            f"n_components must be an int or a non-empty range or list of ints, got {k!r}"
        )

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _init(self) -> Any:
        init = self.init_params
        if isinstance(init, dict):
            return init
        if isinstance(init, str):
            return INIT_ALIASES.get(init, init)
        raise ValueError(f"init_params must be a start method or start values, got {init!r}")

    def _warm(self, k: int | list[int]) -> dict[str, Any] | None:
        """The last fit's parameters as explicit start values, when warm_start applies."""
        if not (self.warm_start and hasattr(self, "model_")):
            return None
        if k != self.n_components_ and k != [self.n_components_]:
            return None
        return self.model_.params.model_dump(exclude_none=True)

    def fit(self, X: Any, y: Any = None) -> _Mixture:
        """Fit the mixture (every K of ``n_components``) and keep the selected one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self._check_features(X)
        k = self._k()
        options: dict[str, Any] = {
            "family": self._family,
            "k": k,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "tol_type": self.tol_type,
            "criterion": self.criterion,
            "var_floor": self.var_floor,
            "accelerate": self.accelerate,
            "seed": self._seed(),
            **self._family_options(),
        }
        warm = self._warm(k)
        if warm is not None:
            options["init"] = warm  # one start, from where the last fit ended
            options.pop("k")
        else:
            options["init"] = self._init()
            if not isinstance(options["init"], dict):
                options["n_starts"] = self.n_init
        data = X[:, 0] if X.shape[1] == 1 else X
        result = mixfit_fit(data, **options)
        self._keep(result)
        return self

    def _check_features(self, X: np.ndarray) -> None:
        """Refuse data of a shape the family cannot fit (raises ValueError)."""

    def _keep(self, result: FitResult) -> None:
        chosen = next(r for r in result.results if r.k == result.k_selected)
        self.result_ = result
        self.model_ = result.model
        self.n_components_ = result.k_selected
        self.weights_ = np.asarray(result.model.params.weights, dtype=float)
        self.converged_ = bool(chosen.converged)
        self.n_iter_ = int(chosen.n_iter)
        # scikit-learn's lower_bound_: the best start's final mean log-likelihood per point
        self.lower_bound_ = float(chosen.loglik) / result.n_effective
        best = next(s for s in chosen.starts if s.start == chosen.best_start)
        self.lower_bounds_ = [value / result.n_effective for value in best.trace]
        self.n_params_ = int(chosen.n_params)
        self._keep_params(result, chosen)  # each family's estimator names its parameters
        if not self.converged_:
            warnings.warn(
                f"the best start of K = {chosen.k} did not converge in {self.max_iter} "
                "iterations; raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then the most likely component of every training point, shape (n_samples,)."""
        return self.fit(X, y).predict(X)

    # -- scoring ----------------------------------------------------------------------------------
    def _joint(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return joint_log_density(self.model_, X[:, 0] if X.shape[1] == 1 else X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of the mixture at every point, shape (n_samples,)."""
        return log_density(self._joint(X))

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-density per point (higher is better; what ``GridSearchCV`` maximizes)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each point's component responsibilities, shape (n_samples, n_components_)."""
        joint = self._joint(X)
        return np.exp(joint - log_density(joint)[None, :]).T

    def predict(self, X: Any) -> np.ndarray:
        """The most likely component of every point, shape (n_samples,)."""
        return np.argmax(self._joint(X), axis=0)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on ``X``: -2 LL + p ln n (lower is better)."""
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return -2.0 * float(self.score_samples(X).sum()) + self.n_params_ * np.log(X.shape[0])

    def aic(self, X: Any) -> float:
        """Akaike information criterion on ``X``: -2 LL + 2 p (lower is better)."""
        return -2.0 * float(self.score_samples(X).sum()) + 2.0 * self.n_params_

    def p_value(self, X: Any) -> np.ndarray:
        """Share of training points at most as likely as each point, shape (n_samples,).

        The anomaly score of ``mixfit.score``: small means the point sits where the fitted
        mixture put little of its training data."""
        return p_values(self.model_, self.score_samples(X))

    def is_anomaly(self, X: Any, alpha: float = 0.01) -> np.ndarray:
        """Whether each point's p-value (``p_value``) is below ``alpha``, shape (n_samples,)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must lie strictly between 0 and 1")
        return self.p_value(X) < alpha

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw points from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Each point's component.
        """
        check_is_fitted(self, "model_")
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        X, labels = mixfit_sample(self.model_, n_samples, rng)
        return X.reshape(n_samples, -1), labels

    def _repr_html_(self) -> str:
        result = getattr(self, "result_", None)
        if result is not None and hasattr(result, "_repr_html_"):
            return result._repr_html_()
        return f"<pre>{self!r}</pre>"


class GaussianMixture(_Mixture):
    """A Gaussian mixture fitted by mixfit, with scikit-learn's ``GaussianMixture`` interface.

    Parameters
    ----------
    n_components : int or sequence of int, default 1
        K, or the Ks to fit; the ``criterion`` picks among several (``n_components_``).
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
        With one feature, "tied" means equal variances, the others free variances.
    criterion : {"bic", "aic", "icl"}, default "bic"
    n_init : int, default 10
        Starts per K (after screening candidates from the start portfolio).
    init_params : str or dict, default "auto"
        mixfit's start method ("auto" portfolio, "kmeans++", "kmeans", "hc", "random", ...;
        scikit-learn's "k-means++" and "random_from_data" are understood), or explicit start
        values ``{"weights", "means", "covariances"}`` (1-D: ``"sds"``).
    max_iter : int, default 1000
    tol : float, default 1e-8
    tol_type : {"relative", "absolute", "per_sample"}, default "relative"
        "per_sample" is scikit-learn's convention (gain of the mean log-likelihood).
    var_floor : float, default 1e-6
        Variance floor relative to the data's variance (in d > 1 each column's).
    accelerate : bool, default True
        SQUAREM acceleration.
    random_state : int, RandomState or None
    warm_start : bool, default False
        Refit from the last fit's parameters (one start) when K is unchanged.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components_,)
    means_ : ndarray of shape (n_components_, n_features)
    covariances_ : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical, as scikit-learn's.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_components_, n_features_in_
    result_ : mixfit.FitResult
    model_ : mixfit.Model
    """

    def __init__(
        self,
        n_components: Any = 1,
        *,
        covariance_type: str = "full",
        criterion: str = "bic",
        n_init: int = 10,
        init_params: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-8,
        tol_type: str = "relative",
        var_floor: float = 1e-6,
        accelerate: bool = True,
        random_state: Any = None,
        warm_start: bool = False,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.n_init = n_init
        self.init_params = init_params
        self.max_iter = max_iter
        self.tol = tol
        self.tol_type = tol_type
        self.var_floor = var_floor
        self.accelerate = accelerate
        self.random_state = random_state
        self.warm_start = warm_start

    def _family_options(self) -> dict[str, Any]:
        return {"covariance": self.covariance_type}

    def _keep_params(self, result: FitResult, chosen: KResult) -> None:
        params = result.model.params
        k = len(params.weights)
        self.means_ = np.asarray(params.means, dtype=float).reshape(k, -1)
        if params.sds is not None:
            full = (np.asarray(params.sds, dtype=float) ** 2)[:, None, None]
        else:
            full = np.asarray(params.covariances, dtype=float)
        kind = self.covariance_type
        if kind == "full":
            self.covariances_ = full
        elif kind == "tied":
            self.covariances_ = full[0]
        elif kind == "diag":
            self.covariances_ = np.diagonal(full, axis1=1, axis2=2).copy()
        else:
            self.covariances_ = full[:, 0, 0].copy()


class BetaMixture(_Mixture):
    """A beta mixture on (0, 1) fitted by mixfit, with a scikit-learn estimator's interface.

    ``X`` has one feature. Parameters as ``GaussianMixture``'s, without ``covariance_type``,
    plus ``boundary`` ("reject", "squeeze" or "clip": what to do with values at exactly 0 or 1).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components_,)
    alphas_, betas_ : ndarray of shape (n_components_,)
        Component k's density is x^(alpha-1) (1-x)^(beta-1) / B(alpha, beta).
    means_ : ndarray of shape (n_components_, 1)
        alpha / (alpha + beta).
    converged_, n_iter_, lower_bound_, lower_bounds_, n_components_, result_, model_
    """

    _family = "beta"

    def __init__(
        self,
        n_components: Any = 1,
        *,
        boundary: str = "reject",
        criterion: str = "bic",
        n_init: int = 10,
        init_params: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-8,
        tol_type: str = "relative",
        var_floor: float = 1e-6,
        accelerate: bool = True,
        random_state: Any = None,
        warm_start: bool = False,
    ) -> None:
        self.n_components = n_components
        self.boundary = boundary
        self.criterion = criterion
        self.n_init = n_init
        self.init_params = init_params
        self.max_iter = max_iter
        self.tol = tol
        self.tol_type = tol_type
        self.var_floor = var_floor
        self.accelerate = accelerate
        self.random_state = random_state
        self.warm_start = warm_start

    def _family_options(self) -> dict[str, Any]:
        return {"boundary": self.boundary}

    def _check_features(self, X: np.ndarray) -> None:
        if X.shape[1] != 1:
            raise ValueError(f"a beta mixture is fitted to one feature; X has {X.shape[1]}")

    def _keep_params(self, result: FitResult, chosen: KResult) -> None:
        params = result.model.params
        self.alphas_ = np.asarray(params.alphas, dtype=float)
        self.betas_ = np.asarray(params.betas, dtype=float)
        self.means_ = (self.alphas_ / (self.alphas_ + self.betas_))[:, None]


# -- an estimator for every other family, made from the registry -------------------------------
# A family lives in its module (README: Adding a family): its estimator is made from the
# registry's request and parameter models, not written here. Its parameters: the common ones,
# the family's own request options ("covariance" under scikit-learn's name) with the family's
# defaults (the t's tol 1e-10 and max_iter 5000); its fitted attributes: weights_ and each
# other parameter array of the family's model as "<name>_", and means_ (n_components_,
# n_features) from "means" or the family's moments.
REQUEST_PARAMETERS = ("max_iter", "tol", "tol_type", "var_floor", "accelerate")
ESTIMATOR_NAMES = {"covariance": "covariance_type"}  # request option -> scikit-learn's name
COMMON_DEFAULTS = {
    "criterion": "bic",
    "n_init": 10,
    "init_params": "auto",
    "random_state": None,
    "warm_start": False,
}


def _class_name(family: str) -> str:
    return "".join(part.capitalize() for part in family.split("_")) + "Mixture"


def _family_estimator(name: str, family: Any) -> type[_Mixture]:
    """The estimator class of the registered family ``name`` (class ``family``)."""
    request = family.request_model
    fields = request.model_fields
    own = [f for f in fields if f not in FitOptions.model_fields and f != "family"]
    defaults = {
        "n_components": 1,
        **{ESTIMATOR_NAMES.get(f, f): fields[f].default for f in own},
        **{key: COMMON_DEFAULTS[key] for key in ("criterion", "n_init", "init_params")},
        **{f: fields[f].default for f in REQUEST_PARAMETERS},
        **{key: COMMON_DEFAULTS[key] for key in ("random_state", "warm_start")},
    }
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(
                key,
                inspect.Parameter.POSITIONAL_OR_KEYWORD
                if key == "n_components"
                else inspect.Parameter.KEYWORD_ONLY,
                default=value,
            )
            for key, value in defaults.items()
        ]
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for key, value in list(bound.arguments.items())[1:]:
            setattr(self, key, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]  # what get_params reads

    def _family_options(self: Any) -> dict[str, Any]:
        return {f: getattr(self, ESTIMATOR_NAMES.get(f, f)) for f in own}

    def _keep_params(self: Any, result: FitResult, chosen: KResult) -> None:
        params = result.model.params
        k = len(params.weights)
        for field in family.params_model.model_fields:
            value = getattr(params, field)
            if value is not None and field != "weights":
                setattr(self, f"{field}_", np.asarray(value, dtype=float))
        if "means" in family.params_model.model_fields:
            self.means_ = np.asarray(params.means, dtype=float).reshape(k, -1)
        else:
            self.means_ = np.asarray(model_family(result.model).moments(params)[0]).reshape(k, 1)

    attributes = ", ".join(
        f"{field}_" for field in family.params_model.model_fields if field != "weights"
    )
    summary = (request.__doc__ or "").strip().split(".")[0]
    doc = (
        f"scikit-learn estimator: {summary[:1].lower()}{summary[1:]} with mixfit's engine (made "
        "from the family's registry entry).\n\n"
        "Parameters\n----------\n"
        + "".join(f"{key} : default {value!r}\n" for key, value in defaults.items())
        + "\nAttributes\n----------\nweights_ : ndarray of shape (n_components_,)\n"
        f"{attributes} : ndarray\n    The family's parameters, component first.\n"
        "means_ : ndarray of shape (n_components_, n_features)\n"
        "converged_, n_iter_, lower_bound_, lower_bounds_, n_components_, result_, model_\n"
    )
    namespace = {
        "__init__": __init__,
        "__doc__": doc,
        "__module__": __name__,
        "_family": name,
        "_family_options": _family_options,
        "_keep_params": _keep_params,
    }
    return type(_class_name(name), (_Mixture,), namespace)


ESTIMATORS: dict[str, type[_Mixture]] = {
    GaussianMixture._family: GaussianMixture,
    BetaMixture._family: BetaMixture,
}
for _name, _cls in FAMILIES.items():
    if _name not in ESTIMATORS:
        ESTIMATORS[_name] = globals()[_class_name(_name)] = _family_estimator(_name, _cls)
