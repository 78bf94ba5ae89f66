"""Drawing points from a fitted mixture: the component of each point, then the point."""

from __future__ import annotations

import numpy as np

from .schema import Model
from .scoring import model_family


def sample(
    model: Model | dict, n: int, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from a fitted mixture.

    Parameters
    ----------
    model : Model or dict
        A fitted model (``FitResult.model``) or its JSON form.
    n : int
        How many points.
    seed : int, numpy Generator or None
        The draws' randomness (None: fresh entropy).

    Returns
    -------
    X : ndarray of shape (n,) for a 1-D model, (n, d) otherwise
        Data a fit accepts (``Family.inside``): finite, at most ``MAX_ABS`` in magnitude, in
        the family's support (a value numpy rounds to an end of it, or past the cap, is
        moved to the nearest that is).
    labels : ndarray of int, shape (n,)
        Each point's component, drawn with probability ``weights``.
    """
    if not isinstance(model, Model):
        model = Model.model_validate(model)
    if n < 0:
        raise ValueError("n must be at least 0")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights = np.asarray(model.params.weights, dtype=float)
    labels = rng.choice(len(weights), size=n, p=weights / weights.sum())
    family = model_family(model)
    X = family.inside(family.draw(model.params, labels, rng))
    return (X[:, 0] if model.d == 1 else X), labels
