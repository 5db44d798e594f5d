"""Video2Music's training losses.

The published AMT (`v27_video_rpr_nosep_l0.4`: `IS_SEPERATED = False`, `LOSS_LAMBDA = 0.4`) is
trained on

    total = 0.4 * chord + 0.6 * affective

chord: cross-entropy of the 159-way chord logits against the next chord, label-smoothed during
    training (Music Transformer's smoothed CE), PAD targets ignored.
affective: binary cross-entropy with logits between the same 159 logits and a multi-hot target per
    second: every chord whose quality suits the second's dominant emotion (argmax of the emotion
    probabilities; `EMOTION_QUALITIES`: e.g. sad -> min, min7, sus2 on all 12 roots), END alone
    where the target is END, PAD alone where it is PAD, nothing for neutral. It is averaged over
    all positions and tokens, padding included, as in the original.

Video2Music's code also has a "separated" variant (chord root and chord quality heads, loss =
root CE + quality CE, affective loss on the quality head); the paper's reported model does not use
it, and neither does cuescore. The baseline Music Transformer is trained on the chord loss alone.
The regressor's loss is the mean squared error of (note density, loudness) over real seconds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cuescore.analysis.features import EMOTIONS
from cuescore.music.chords import EMOTION_QUALITIES, END, PAD, QUALITIES, VOCAB_SIZE

CHORD_WEIGHT = 0.4
"""Video2Music's lambda: weight of the chord loss; the affective loss gets 1 - lambda."""


def emotion_chord_table(emotions: tuple[str, ...] = EMOTIONS) -> Tensor:
    """float32 [len(emotions), 159]: 1 for each chord token whose quality suits the emotion."""
    table = torch.zeros(len(emotions), VOCAB_SIZE)
    for e, name in enumerate(emotions):
        for q, quality in enumerate(QUALITIES):
            if quality in EMOTION_QUALITIES[name]:
                table[e, 1 + q : 1 + 12 * 13 : 13] = 1.0
    return table


def affective_targets(tgt: Tensor, emotion: Tensor, emotions: tuple[str, ...] = EMOTIONS) -> Tensor:
    """Multi-hot targets [B, L, 159] for chord targets tgt [B, L] and the emotion probabilities
    of the same seconds emotion [B, L, E] (E = len(emotions))."""
    table = emotion_chord_table(emotions).to(emotion.device)
    targets = table[emotion.argmax(dim=-1)]
    special = F.one_hot(tgt.clamp(max=VOCAB_SIZE - 1), VOCAB_SIZE).to(targets.dtype)
    is_special = ((tgt == END) | (tgt == PAD)).unsqueeze(-1)
    return torch.where(is_special, special, targets)


def smoothed_cross_entropy(logits: Tensor, target: Tensor, smoothing: float = 0.1) -> Tensor:
    """Mean label-smoothed cross-entropy over non-PAD targets; logits [..., V], target [...].

    The smoothed target puts 1 - smoothing on the true token and smoothing / V on every token."""
    logits = logits.reshape(-1, logits.shape[-1]).float()
    target = target.reshape(-1)
    return F.cross_entropy(logits, target, ignore_index=PAD, label_smoothing=smoothing)


def affective_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Binary cross-entropy with logits, averaged over all elements: logits, targets [B, L, V]."""
    return F.binary_cross_entropy_with_logits(logits.float(), targets)


def amt_loss(
    logits: Tensor,
    tgt: Tensor,
    emotion: Tensor | None,
    *,
    smoothing: float = 0.1,
    chord_weight: float = CHORD_WEIGHT,
    emotions: tuple[str, ...] = EMOTIONS,
) -> dict[str, Tensor]:
    """The AMT loss: {"loss", "chord", "affective"}. logits [B, L, V]; tgt [B, L]; emotion
    [B, L, E] probabilities of the target seconds, or None (baseline: chord loss alone)."""
    chord = smoothed_cross_entropy(logits, tgt, smoothing)
    if emotion is None:
        return {"loss": chord, "chord": chord, "affective": torch.zeros_like(chord)}
    affective = affective_loss(logits, affective_targets(tgt, emotion, emotions))
    return {"loss": chord_weight * chord + (1 - chord_weight) * affective, "chord": chord, "affective": affective}


def regression_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the seconds in mask [B, T]; pred, target [B, T, 2]."""
    sq = (pred.float() - target).pow(2).sum(dim=-1)
    return (sq * mask).sum() / (mask.sum() * pred.shape[-1]).clamp(min=1)
