"""Hand-built `VideoFeatures` for engine and metric tests: synthetic per-second arrays, cuts at
given times, emotions per shot or per second. No video is decoded."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cuescore.analysis.features import EMOTIONS, HARD_CUT, Transition, VideoFeatures, timeline_length

MOOD = {
    "exciting": (0.6, 0.8), "fearful": (-0.7, 0.7), "tense": (-0.4, 0.5),
    "sad": (-0.6, -0.5), "relaxing": (0.5, -0.5), "neutral": (0.0, 0.0),
}
"""Emotion → (valence, arousal) used when a fixture does not give them."""

REGULAR_CUTS = tuple(float(t) for t in np.arange(2.5, 40.0, 2.5))
IRREGULAR_CUTS = (1.0, 2.3, 6.1, 6.9, 11.4, 14.8, 19.05, 21.7, 27.3, 28.4, 33.9)
CLOSE_CUTS = (3.0, 3.2, 8.0, 12.5, 12.8, 17.0)
"""Cut sets used across the tests: steady editing, irregular editing, flash cuts (< a beat apart)."""


def emotion_rows(labels: Sequence[str], confidence: float = 0.85) -> np.ndarray:
    """[len(labels), 6]: `confidence` on each label, the rest spread over the other classes."""
    rows = np.full((len(labels), len(EMOTIONS)), (1.0 - confidence) / (len(EMOTIONS) - 1))
    for i, label in enumerate(labels):
        rows[i, EMOTIONS.index(label)] = confidence
    return rows


def per_shot(duration: float, cuts: Sequence[float], values: Sequence) -> list:
    """Per-second list holding `values[k]` during shot k (shot k starts at cut k-1)."""
    edges = np.asarray(sorted(cuts))
    return [values[int(np.searchsorted(edges, t + 0.5, side="right"))] for t in range(timeline_length(duration))]


def make_features(
    duration: float = 40.0,
    cuts: Sequence[float] = REGULAR_CUTS,
    *,
    gradual: Sequence[tuple[float, str]] = (),
    emotion: str | Sequence[str] | np.ndarray = "relaxing",
    confidence: float = 0.85,
    motion: float | Sequence[float] = 6.0,
    flow: float | Sequence[float] = 0.6,
    brightness: float = 0.5,
    hue: float = 30.0,
    saturation: float = 0.5,
    seed: int = 0,
) -> VideoFeatures:
    """Features of an imaginary `duration`-second video with hard `cuts` (seconds).

    emotion: one label for the whole video, one label per shot (len(cuts) + 1), one per
        second, or a [T, 6] probability array. Valence and arousal follow from it (`MOOD`).
    motion, flow: a constant or one value per shot; small seeded noise is added.
    gradual: (time, kind) transitions such as (12.0, "dissolve"), added to the hard cuts.
    """
    T = timeline_length(duration)
    rng = np.random.default_rng(seed)
    cuts = [float(t) for t in cuts if 0 < t < duration]
    n_shots = len(cuts) + 1
    if isinstance(emotion, np.ndarray):
        probs = emotion.astype(float)
    else:
        labels = [emotion] * T if isinstance(emotion, str) else list(emotion)
        labels = per_shot(duration, cuts, labels) if len(labels) == n_shots and n_shots != T else labels
        probs = emotion_rows(labels, confidence)
    mood = np.array([MOOD[EMOTIONS[i]] for i in probs.argmax(axis=1)])

    def shots(value: float | Sequence[float]) -> np.ndarray:
        base = np.full(T, float(value)) if np.isscalar(value) else np.asarray(per_shot(duration, cuts, value), float)
        return np.clip(base * rng.uniform(0.85, 1.15, T), 0.0, None)

    transitions = [Transition(t, HARD_CUT) for t in cuts]
    transitions += [Transition(t, kind, t - 0.4, t + 0.4) for t, kind in gradual]
    boundaries = sorted(t.time for t in transitions)
    scene_offset = np.array([t - max([b for b in boundaries if b <= t] or [0.0]) for t in range(T)], float).round()
    motion_s = shots(motion)
    beat_times = np.sort(rng.uniform(0.0, duration, size=int(duration * 1.2)))
    return VideoFeatures(
        duration=float(duration), fps=30.0, width=320, height=180,
        transitions=sorted(transitions, key=lambda t: t.time),
        scene_offset=scene_offset, motion=motion_s, flow=shots(flow),
        brightness=np.full(T, brightness), saturation=np.full(T, saturation), colorfulness=np.full(T, 0.5),
        hue=np.full(T, hue), valence=mood[:, 0].copy(), arousal=mood[:, 1].copy(), emotion=probs,
        semantic=np.zeros((T, 8), np.float32), beat_times=beat_times,
        beat_strengths=rng.uniform(0.1, 1.0, beat_times.size), source="fixture",
    )
