"""Sweeps that fit many data sets with two checkouts of the core and compare them cell by cell.

Not part of ``make test`` (each takes minutes to an hour); run from the repository's root, where
``tests/fixtures`` supplies the data sets to both sides. ``ROOT`` is the checkout whose
``mixfit`` is fitted (``.`` for this one; a ``git worktree add /tmp/old <commit>`` for another):

    python -m tests.sweeps.grids ROOT OUT.json        # K = 1..5 grids, every family per data set
    python -m tests.sweeps.alone ROOT OUT.json        # K = 3, 4, 5 asked alone (mclust data)
    python -m tests.sweeps.beta ROOT OUT.json         # beta K = 1..4 grids, seeds 0..8
    python -m tests.sweeps.compare OLD.json NEW.json  # identical / higher / lower per cell
    python -m tests.sweeps.options BASE N [ROOT]      # random option combinations, checked
    python -m tests.sweeps.refusals GRID.json... [N]  # a grid's refused Gaussian Ks vs sklearn

The README's figures "over 840 grids", "over 543 single-K fits", the beta screening trial and
the option fuzz come from these.
"""
