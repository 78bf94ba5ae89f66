"""The figures the README gives for the normalmixEM sweep (``tests/fixtures/normalmixem_sweep``):
``python -m tests.sweeps.normalmixem`` prints how closely the 114 runs normalmixEM makes from
the start alone are reproduced (worst and median relative differences), then SQUAREM against
plain EM from the same 128 starts, with and without the warm-up of explicit starts
(``mixfit.em.EXPLICIT_WARMUP``): the runs where SQUAREM ends lower and the median saving in
E-steps. About a minute."""

from __future__ import annotations

import numpy as np

import mixfit
import mixfit.em
from tests.core.test_normalmixem_sweep import case_id, from_start, runs, start_options


def relative(a: object, b: object) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def reproduction(every: list[tuple[dict, list]]) -> None:
    params: dict[str, list[float]] = {"K <= 3": [], "K >= 4": []}
    traces, apart = [], []
    for case, x in every:
        if "error" in case or case["result"]["restarts"]:
            continue
        expected, r = case["result"], from_start(case, x)
        trace, theirs = r.starts[0].trace, expected["all_loglik"]
        common = min(len(trace), len(theirs))
        traces.append(relative(trace[:common], theirs[:common]))
        if r.n_iter != expected["iterations"]:
            apart.append(case_id(case))
            continue
        sds = np.broadcast_to(expected["sigma"], (case["k"],))
        worst = max(
            relative(r.params.weights, expected["lambda"]),
            relative(r.params.means, expected["mu"]),
            relative(r.params.sds, sds),
            relative([r.loglik], [expected["loglik"]]),
        )
        params["K <= 3" if case["k"] <= 3 else "K >= 4"].append(worst)
    every = params["K <= 3"] + params["K >= 4"]
    print(f"reproduced at R's iteration: {len(every)}; an iteration apart: {apart}")
    for group, values in params.items():
        print(f"  parameters and LL, {group}: worst {max(values):.2g}")
    print(
        f"  median {np.median(every):.2g}; traces: worst {max(traces):.2g}, median "
        f"{np.median(traces):.2g} over {len(traces)}"
    )


def squarem(every: list[tuple[dict, list]], warmup: int) -> None:
    mixfit.em.EXPLICIT_WARMUP = warmup
    lower, savings = [], []
    for case, x in every:
        fits = {}
        for accelerate in (False, True):
            options = start_options(case) | {"accelerate": accelerate, "seed": 0}
            try:
                fits[accelerate] = mixfit.fit(x, **options).results[0]
            except mixfit.FitError:
                break
        if len(fits) < 2:
            continue
        plain, fast = fits[False], fits[True]
        savings.append(plain.starts[0].evaluations / fast.starts[0].evaluations)
        if fast.loglik < plain.loglik - 1e-9 * abs(plain.loglik):
            given = "rescued" if plain.starts[plain.best_start].init == "params (rescue)" else ""
            lower.append(
                f"{case_id(case)} {(fast.loglik - plain.loglik) / abs(plain.loglik):+.2g} "
                f"{given}".strip()
            )
    print(f"SQUAREM warm-up {warmup}: lower than plain EM in {len(lower)}: {lower}")
    print(f"  median saving in E-steps {np.median(savings):.2f}x over {len(savings)}")


def main() -> None:
    every = runs()
    reproduction(every)
    default = mixfit.em.EXPLICIT_WARMUP
    for warmup in (0, default):
        squarem(every, warmup)
    mixfit.em.EXPLICIT_WARMUP = default


if __name__ == "__main__":
    main()
