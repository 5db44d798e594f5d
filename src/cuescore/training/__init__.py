"""Training loops (single process or `torchrun` DDP) and Video2Music's losses."""

from cuescore.training.loop import train_amt, train_regression

__all__ = ["train_amt", "train_regression"]
