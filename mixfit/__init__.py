"""mixfit: finite mixture fitting. ``fit`` data, read the ``FitResult``, ``score`` new points.

The core imports numpy, scipy and pydantic only; the REST service and the workers run it.
"""

__version__ = "0.1.0"

from .errors import FitError  # noqa: E402
from .families.beta import BetaFitRequest  # noqa: E402
from .families.gaussian import GaussianFitRequest  # noqa: E402
from .fit import assemble, fit, prepare, run  # noqa: E402
from .inference import bootstrap, observed_information  # noqa: E402
from .lrt import bootstrap_lrt  # noqa: E402
from .sampling import sample  # noqa: E402
from .schema import (  # noqa: E402
    BootstrapResult,
    FitRequest,
    FitResult,
    KResult,
    LRTResult,
    Model,
    ScoreRequest,
    ScoreResult,
)
from .scoring import score  # noqa: E402

__all__ = [
    "BetaFitRequest",
    "BootstrapResult",
    "FitError",
    "FitRequest",
    "FitResult",
    "GaussianFitRequest",
    "KResult",
    "LRTResult",
    "Model",
    "ScoreRequest",
    "ScoreResult",
    "__version__",
    "assemble",
    "bootstrap",
    "bootstrap_lrt",
    "fit",
    "observed_information",
    "prepare",
    "run",
    "sample",
    "score",
]
