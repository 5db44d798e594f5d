"""Training loops (single process or `torchrun` DDP) and Video2Music's losses.

`cuescore.training.loop` holds `train_amt` and `train_regression`. This file imports nothing, so
that `cuescore.evaluation.amt_metrics` can use the losses without importing the loops (which
import it back).
"""
