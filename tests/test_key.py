"""Key choice: the user's key or mode, the primer's key, else the video's valence, brightness and hue."""

from __future__ import annotations

import numpy as np

from cuescore.controls import Controls
from cuescore.engines.key import choose_key
from cuescore.music.plan import Key
from feature_fixtures import make_features


def test_fixed_key_and_mode_win():
    f = make_features(emotion="sad")
    rng = np.random.default_rng(0)
    assert choose_key(f, Controls(key="D major"), rng) == Key(2, "major")
    assert choose_key(f, Controls(mode="major"), rng).mode == "major"


def test_mode_follows_valence_and_brightness():
    rng = np.random.default_rng(0)
    assert choose_key(make_features(emotion="exciting", brightness=0.7), Controls(), rng).mode == "major"
    assert choose_key(make_features(emotion="sad", brightness=0.2), Controls(), rng).mode == "minor"
    # Dark footage of a happy scene: with colour switched off only the emotion counts.
    bright_off = Controls(weight_colour=0.0)
    assert choose_key(make_features(emotion="relaxing", brightness=0.0), bright_off, rng).mode == "major"


def test_tonic_follows_hue_and_seed_when_colour_is_off():
    rng = np.random.default_rng(0)
    assert choose_key(make_features(hue=0.0, saturation=0.9), Controls(), rng).tonic == 0      # red → C
    assert choose_key(make_features(hue=120.0, saturation=0.9), Controls(), rng).tonic == 9    # green → A
    tonics = {choose_key(make_features(hue=120.0), Controls(weight_colour=0.0), np.random.default_rng(s)).tonic
              for s in range(12)}
    assert len(tonics) > 1


def test_primer_sets_the_key():
    key = choose_key(make_features(emotion="exciting"), Controls(primer="Am F C G"), np.random.default_rng(0))
    assert key == Key(9, "minor") or key == Key(0, "major")
    assert choose_key(make_features(), Controls(primer="D G A D"), np.random.default_rng(0)) == Key(2, "major")
