"""Key choice, chord colours, harmonic rhythm and cadence-constrained progressions."""

from __future__ import annotations

import numpy as np
import pytest

from cuescore.analysis.features import EMOTIONS
from cuescore.controls import Controls
from cuescore.engines.harmony import (
    DEGREES, _cadence_masks, _sample_chain, _transition_matrix, choose_key, color_chord, harmonic_slots,
    is_diatonic, progression,
)
from cuescore.engines.tempo import constant_grid
from cuescore.music.chords import EMOTION_QUALITIES, Chord
from cuescore.music.plan import Key
from tests.feature_fixtures import emotion_rows, make_features


def one_hot(name: str, p: float = 0.9) -> np.ndarray:
    return emotion_rows([name], p)[0]


def write(duration=40.0, bpm=120.0, cuts=(), emotion="relaxing", controls=Controls(), key=Key(0, "major"),
          pace=0.5, seed=0):
    """Chords over a steady grid with chord changes forced at `cuts`."""
    _, beats, downbeats = constant_grid(duration, bpm)
    rows = emotion_rows([emotion] * int(np.ceil(duration)))
    slots = harmonic_slots(beats, downbeats, list(cuts), [pace] * len(downbeats))
    sections = [0.0, duration / 2]
    return progression(key, slots, duration, sections, rows, controls, np.random.default_rng(seed)), beats


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


@pytest.mark.parametrize("emotion, root, triad, expected", [
    ("tense", 7, "maj", {"7", "sus4"}),          # V in C major turns V7 or Vsus4
    ("sad", 9, "min", {"min", "min7"}),          # vi stays minor
    ("fearful", 11, "dim", {"dim", "hdim7"}),    # vii° keeps its diminished colour
    ("fearful", 2, "min", {"min7"}),             # ii becomes ii7
    ("relaxing", 0, "maj", {"maj", "maj7", "maj6"}),
])
def test_emotion_colours_stay_in_key(emotion, root, triad, expected):
    key = Key(0, "major")
    chord = color_chord(root, triad, key, one_hot(emotion), 1.0)
    assert chord.quality in expected and is_diatonic(chord, key)
    assert chord.quality in EMOTION_QUALITIES[emotion]


def test_weight_zero_keeps_plain_triads():
    for name in EMOTIONS:
        assert color_chord(7, "maj", Key(0, "major"), one_hot(name), 0.0).quality == "maj"


def test_final_chord_is_resolved():
    chord = color_chord(0, "maj", Key(0, "major"), one_hot("exciting"), 2.0, resolved=True)
    assert chord.quality in ("maj", "7", "maj7", "maj6") and chord.quality != "sus4"


def test_progression_is_diatonic_cadences_and_changes_at_cuts():
    cuts = [3.0, 7.5, 13.0, 21.0, 26.5, 33.0]
    for seed in range(5):
        (spans, romans), beats = write(cuts=cuts, emotion="tense", seed=seed)
        key = Key(0, "major")
        diatonic = np.mean([is_diatonic(s.chord, key) for s in spans])
        assert diatonic > 0.8
        assert spans[-1].chord.root == 0 and spans[-1].end == 40.0
        assert romans[-1] == "I" and romans[-2] in ("V", "vii°")
        starts = {round(s.start, 6) for s in spans}
        assert all(round(c, 6) in starts for c in cuts)
        assert all(b.start == a.end for a, b in zip(spans, spans[1:]))


def test_minor_progression_ends_on_i_with_a_dominant():
    (spans, romans), _ = write(key=Key(9, "minor"), emotion="sad")
    assert spans[-1].chord == Chord(9, "min") or spans[-1].chord.root == 9
    assert romans[-2] in ("V", "v", "VII")
    assert np.mean([is_diatonic(s.chord, Key(9, "minor")) for s in spans]) > 0.8


def test_primer_opens_the_progression():
    (spans, romans), _ = write(controls=Controls(primer="C Am F G"))
    assert [s.label for s in spans[:4]] == ["C", "A:min", "F", "G"]
    assert romans[:4] == ["I", "vi", "IV", "V"]


def test_harmonic_rhythm_follows_pace():
    _, beats, downbeats = constant_grid(32.0, 120.0)   # 2 s bars
    slow = harmonic_slots(beats, downbeats, [], [0.0] * len(downbeats))
    mid = harmonic_slots(beats, downbeats, [], [0.5] * len(downbeats))
    fast = harmonic_slots(beats, downbeats, [], [1.0] * len(downbeats))
    assert (len(slow), len(mid), len(fast)) == (8, 16, 16)   # two bars, one bar; never 1 s chords
    forced = harmonic_slots(beats, downbeats, [4.5, 5.6], [0.5] * len(downbeats))
    assert 4.5 in forced and 5.5 in forced and 4.0 not in forced  # no downbeat chord one beat before a cut
    _, beats, downbeats = constant_grid(32.0, 60.0)    # 4 s bars
    assert len(harmonic_slots(beats, downbeats, [], [1.0] * len(downbeats))) == 16   # half bars
    assert len(harmonic_slots(beats, downbeats, [], [0.0] * len(downbeats))) == 8    # whole bars


def test_conditioned_chain_meets_the_cadence():
    rng = np.random.default_rng(0)
    trans = _transition_matrix("major")
    trans = trans / trans.sum(axis=1, keepdims=True)
    for kind, last in (("authentic", 0), ("half", 4), ("deceptive", 5)):
        masks = _cadence_masks(6, "major", kind)
        for _ in range(20):
            states = _sample_chain(np.eye(7)[0], [trans] * 5, masks, rng)
            assert states[-1] == last and states[0] == 0
            assert all(trans[a, b] > 0 for a, b in zip(states, states[1:]))
    impossible = [np.eye(7)[0], np.eye(7)[0]]   # I cannot follow I
    assert _sample_chain(np.eye(7)[0], [trans], impossible, rng) is None
    assert [d[0] for d in DEGREES["minor"]][5] == "V"
