"""A small synthetic MuVi-Sync dataset with learnable structure, written through the real writer.

Each video is a run of scenes (2-5 s). A scene has a root (C, F, G or A) and a dominant emotion:
the semantic rows are a fixed prototype vector of the root plus noise, the emotion rows put 0.85
on the emotion, motion and loudness grow with the emotion's energy, and the chord of every second
is the scene's root with a quality that suits its emotion. So the video predicts the chords (the
AMT can learn them through cross-attention) and chords persist within a scene (the no-video
baseline can learn part of them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cuescore.analysis.features import EMOTIONS, Transition, VideoFeatures
from cuescore.data.muvisync import write_muvisync_example
from cuescore.music.chords import Chord

ROOTS = (0, 5, 7, 9)
QUALITY_OF = {"exciting": "maj", "fearful": "dim7", "tense": "sus4", "sad": "min", "relaxing": "maj7"}
ENERGY = {"exciting": 0.9, "fearful": 0.6, "tense": 0.7, "sad": 0.2, "relaxing": 0.3}
ENCODER = {"name": "synthetic", "id": "synthetic", "dim": 8}
SEMANTIC_FOLDER = "synthetic"


def root_prototypes(semantic_dim: int = 8) -> np.ndarray:
    """The fixed semantic vector of each root [len(ROOTS), semantic_dim]."""
    return np.random.default_rng(123).normal(size=(len(ROOTS), semantic_dim))


def synthetic_video(
    seconds: int, rng: np.random.Generator, semantic_dim: int = 8, prototypes: np.ndarray | None = None
):
    """One video: (VideoFeatures, chord labels per second, key, loudness [T], note density [T])."""
    protos = prototypes if prototypes is not None else root_prototypes(semantic_dim)
    scene_root, scene_emo, offset, chords, cuts = [], [], [], [], []
    t = 0
    while t < seconds:
        n = int(rng.integers(2, 6))
        r = int(rng.integers(len(ROOTS)))
        e = str(rng.choice(list(QUALITY_OF)))
        if t:
            cuts.append(Transition(float(t)))
        for k in range(min(n, seconds - t)):
            scene_root.append(r)
            scene_emo.append(e)
            offset.append(k)
            chords.append(Chord(ROOTS[r], QUALITY_OF[e]).label)
        t += n
    T = seconds
    emotion = np.full((T, len(EMOTIONS)), 0.03, np.float32)
    for i, e in enumerate(scene_emo):
        emotion[i, EMOTIONS.index(e)] = 0.85
    emotion /= emotion.sum(axis=1, keepdims=True)
    energy = np.array([ENERGY[e] for e in scene_emo])
    semantic = protos[scene_root] + 0.1 * rng.normal(size=(T, semantic_dim))
    motion = 60 * energy + rng.normal(scale=2.0, size=T)
    zeros = np.zeros(T, np.float32)
    features = VideoFeatures(
        duration=float(seconds), fps=25.0, width=64, height=48, transitions=cuts,
        scene_offset=np.array(offset, np.float32), motion=motion.astype(np.float32), flow=zeros,
        brightness=zeros, saturation=zeros, colorfulness=zeros, hue=zeros, valence=zeros,
        arousal=energy.astype(np.float32), emotion=emotion, semantic=semantic.astype(np.float32),
        beat_times=np.zeros(0), beat_strengths=np.zeros(0), encoder=dict(ENCODER), source="synthetic",
    )
    major = sum(e in ("exciting", "relaxing") for e in scene_emo) * 2 >= T
    key = "C major" if major else "A minor"
    loudness = 0.1 + 0.5 * energy
    density = np.round(1 + 8 * energy)
    return features, chords, key, loudness, density


def make_muvisync(root: str | Path, *, n_train: int = 24, n_val: int = 6, n_test: int = 6,
                  seconds: tuple[int, int] = (16, 24), semantic_dim: int = 8, seed: int = 0) -> Path:
    """Write a synthetic dataset under `root` (splits v1/train, val, test); returns root."""
    rng = np.random.default_rng(seed)
    protos = root_prototypes(semantic_dim)
    counts = {"train": n_train, "val": n_val, "test": n_test}
    for split, count in counts.items():
        for i in range(count):
            feats, chords, key, loud, dens = synthetic_video(int(rng.integers(*seconds, endpoint=True)), rng,
                                                             semantic_dim, protos)
            write_muvisync_example(root, f"{split}{i:03d}", feats, chords, key, loud, dens, split)
    return Path(root)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The test models are tiny: one torch thread avoids oversubscribing a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
