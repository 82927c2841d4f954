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
   data split is fixed, seeds vary the initialisation and the minibatch order, the same
   way for every arm (:mod:`rso_ref.train`: ``model.init(seed)`` and
   ``default_rng([seed, epoch])``).
3. **Analysis** (:func:`analyse`):

   * Table 1 analogue: test accuracy mean ± std (``ddof=1``) per arm, and the paired
     t-test (:func:`~rso_ref.stats.paired_diff`, runs matched by seed id) of the arm
     under test (RSO) against every baseline, Holm-adjusted over exactly that family
     (:func:`~rso_ref.presets.analysis.holm_family`, printed on the page); the tables
     single out the *best baseline*, the one with the highest mean, but no test depends
     on that choice;
   * ablations: every variant against the paper's preferred setting (K = 6; blocks),
     paired, with Holm's adjustment over the variants of the preset, a paired TOST, and
     both again at equal gradient evaluations;
   * Table 2 analogue (:mod:`rso_ref.metrics`): coefficient of variation of the
     gradient norm and the detrended loss variance over the second half of training,
     and the LR sensitivity range (the rates tried within 1 point of validation
     accuracy of the best, in decades; open where it reaches the last rate tried), on
     seed 0's grid and, for the cheap presets, on the mean over three seeds
     (:mod:`~rso_ref.presets.lr_seeds`);
   * §4.3 analogue: the median epochs to reach 90 % of the best arm's final mean, over
     every run (a run that never reaches it counts as beyond the budget,
     :func:`~rso_ref.stats.censored_median`), and the gradient evaluations that costs
     (RSO's meta-solve included).

4. **Controls and pairs of presets** (:mod:`~rso_ref.presets.settings`): the literal
   ResNet run beside the paper's setting, and ``compute-matched-mnist1d-mlp`` (the
   baselines, re-tuned, at the gradient evaluations of ``table1-mnist1d-mlp``'s RSO)
   beside the preset it controls, arms compared across presets paired by seed.

A committed ``report.json`` is analysed and rendered again without training by
:func:`~rso_ref.presets.stored.rerender`. Where a test is not significant the page says
which difference it would have detected: with five seeds, a paired two-sided t-test at
the 5 % level (4 degrees of freedom) detects with 80 % power a mean difference of
3.72 standard errors (:func:`~rso_ref.stats.detectable_effect`), about 1.7 standard
deviations of the per-seed differences, no less.
"""
from .analysis import LOSS_WINDOW, LR_TOLERANCE, TARGET_FRACTION, analyse
from .lr_seeds import score_grid_seeds
from .pages import (arm_grid, compact, index_rows, plot_preset, render_page, write_index,
                    write_preset)
from .protocol import LR_EDGE_EXTENSIONS, PRESETS, Preset, get_preset, run_preset
from .stored import reanalyse, rerender, rerender_tables

__all__ = ["Preset", "PRESETS", "get_preset", "run_preset", "analyse", "write_preset",
           "write_index", "index_rows", "arm_grid", "compact", "render_page", "plot_preset",
           "reanalyse", "rerender", "rerender_tables", "score_grid_seeds",
           "TARGET_FRACTION", "LR_TOLERANCE", "LR_EDGE_EXTENSIONS", "LOSS_WINDOW"]
