"""The key of a soundtrack: fixed by the user, fitted to the primer chords, or chosen from the
video's valence, brightness and colour."""

from __future__ import annotations

import math

import numpy as np

from cuescore.analysis.features import VideoFeatures
from cuescore.controls import Controls
from cuescore.music.plan import Key
from cuescore.music.theory import key_for_chords

_SCRIABIN_HUES = {0: 0.0, 7: 30.0, 2: 60.0, 9: 120.0, 4: 190.0, 11: 220.0, 6: 245.0, 1: 270.0, 8: 290.0,
                  3: 310.0, 10: 330.0, 5: 350.0}
"""Tonic → hue in degrees after Scriabin's colour keys (C red, G orange, D yellow, A green, E sky
blue, B blue, F# bright blue, Db violet, Ab purple, Eb steel, Bb rose, F deep red): walking the
hue wheel walks the circle of fifths."""

_COMMON_TONICS = {"major": (0, 2, 3, 5, 7, 9, 10), "minor": (9, 2, 4, 0, 7, 11, 5)}


def choose_key(features: VideoFeatures, controls: Controls, rng: np.random.Generator) -> Key:
    """The key: fixed by the user, else fitted to the primer chords, else from the video.

    Mode: major when weight_emotion × mean valence + weight_colour × (mean brightness − 0.45)
    is ≥ 0 (unless the user fixed the mode). Tonic: the hue of saturated footage through
    Scriabin's colour keys when colour is strong enough (× weight_colour), else a common key
    drawn with the seed.
    """
    if controls.key_value is not None:
        return controls.key_value
    if controls.mode != "auto":
        mode = controls.mode
    else:
        score = (controls.weight_emotion * float(np.mean(features.valence))
                 + controls.weight_colour * (float(np.mean(features.brightness)) - 0.45))
        mode = "major" if score >= 0 else "minor"
    if controls.primer is not None:
        return key_for_chords(controls.primer_chords, mode, fixed_mode=controls.mode != "auto")
    weights = np.asarray(features.saturation, float) * np.clip(np.asarray(features.colorfulness, float), 0.05, 1)
    angle = np.deg2rad(np.asarray(features.hue, float))
    vec = np.array([np.sum(weights * np.cos(angle)), np.sum(weights * np.sin(angle))]) / max(len(angle), 1)
    strength = float(np.hypot(*vec)) * controls.weight_colour
    if strength >= 0.15:
        hue = math.degrees(math.atan2(vec[1], vec[0])) % 360.0
        return Key(min(_SCRIABIN_HUES, key=lambda k: abs((_SCRIABIN_HUES[k] - hue + 180.0) % 360.0 - 180.0)), mode)
    return Key(int(rng.choice(_COMMON_TONICS[mode])), mode)

