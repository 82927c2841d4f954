r"""The RSO paper's Tables 1-2 and §4.5 ablations at a scale a CPU can run, as compare presets.

The paper's experiments (CIFAR-100 / ImageNet ResNets and ViT, §4.2-4.5 of
"Recursive Subspace Optimization") need GPU-weeks. Each :class:`Preset` here is a small,
fully specified analogue that ``rso-ref compare --preset NAME`` runs end to end. The
definitions and the running are in :mod:`~rso_ref.presets.protocol` (steps 1-2 below),
the statistics in :mod:`~rso_ref.presets.analysis` (step 3), and the markdown pages,
the index and the figures in :mod:`~rso_ref.presets.pages`; the public names are
re-exported here. The protocol:

1. **Learning rates** are chosen on a validation split carved from the training data
   (:func:`rso_ref.compare.tune_learning_rates`): every arm gets the same five-point
   log grid around its optimizer's default, one seed, extended by up to two rates
   half a decade apart while the best rate sits at an edge. Ablation presets tune only
   the reference arm and give its rate to every variant, so that a variant differs from
   the reference in the ablated setting alone.
2. **Test runs**: every arm with every seed (five by default) at the chosen rate; the
   data split is fixed, seeds vary the initialisation and the minibatch order.
3. **Analysis** (:func:`analyse`):

   * Table 1 analogue: test accuracy mean ± std (``ddof=1``) per arm, and Welch's
     t-test (:func:`~rso_ref.stats.welch_diff`) of the arm under test (RSO)
     against every baseline, Holm-adjusted together (the tables single out the *best
     baseline*, the one with the highest mean, but no test depends on that choice);
   * ablations: every variant against the paper's preferred setting (K = 6; blocks),
     with Holm's adjustment over the variants of the preset;
   * Table 2 analogue (:mod:`rso_ref.metrics`): coefficient of variation of the
     gradient norm and the detrended loss variance over the second half of training,
     and the LR sensitivity range (the rates tried within 1 point of validation
     accuracy of the best, in decades; open where it reaches the last rate tried);
   * §4.3 analogue: epochs to reach 90 % of the best arm's final mean accuracy, and the
     gradient evaluations that costs (RSO's meta-solve included).

Where a test is not significant the page says so: with five seeds per arm, a
two-sided test at the 5 % level detects (80 % power) differences of about two
standard deviations, no less.
"""
from .analysis import LOSS_WINDOW, LR_TOLERANCE, TARGET_FRACTION, analyse
from .pages import (arm_grid, compact, index_rows, plot_preset, render_page, write_index,
                    write_preset)
from .protocol import LR_EDGE_EXTENSIONS, PRESETS, Preset, get_preset, run_preset

__all__ = ["Preset", "PRESETS", "get_preset", "run_preset", "analyse", "write_preset",
           "write_index", "index_rows", "arm_grid", "compact", "render_page", "plot_preset",
           "TARGET_FRACTION", "LR_TOLERANCE", "LR_EDGE_EXTENSIONS", "LOSS_WINDOW"]
