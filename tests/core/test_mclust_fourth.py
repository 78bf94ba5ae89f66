"""mixfit's default fit against mclust on 22 more R data sets (2026-12-04), the classic
clustering sets no other fixture uses: palmerpenguins' four measurements, bill lengths and
flipper lengths (integers), cluster's ruspini, xclara (3,000 points), pluton and chorSub (61
rows, 10 columns), mlbench's Vehicle (846 rows, 18 columns), mixtools' tonedata (both columns
and the tuned one), NOdata and RTdata, mclust's Baudry et al. (2010) examples 4.2, 4.3, 4.4.1
and 4.4.2 and GvHD.control (6,809 rows, 4 columns), carData's Davis (with its mis-recorded
weight), Prestige and UN (logged), boot's frets and coal's disaster dates; every model both
have (VVV, VVI, VII, EEE; in 1-D V and E), K = 1..9 where mclust fitted. mixfit's
log-likelihood reaches mclust's - 1e-6 n.

Fixtures: ``tests/fixtures/mclust_fourth/make_mclust_fourth.R``. The sweep that made them
(seed 0, 80 set-and-model cases, 649 cells) found no cell below mclust and no refused K
that mclust fitted; mixfit was higher by more than 1e-6 n in 537 of them. ``make validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_mclust_wide import cases_in, reaches_mclust

FOURTH = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_fourth"


@pytest.mark.validate
@pytest.mark.parametrize(("name", "model"), cases_in(FOURTH))
def test_default_fit_reaches_mclust_at_k_1_to_9(name: str, model: str) -> None:
    reaches_mclust(json.loads((FOURTH / f"mclust_{name}.json").read_text()), model, {})
