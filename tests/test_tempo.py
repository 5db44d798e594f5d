"""Beat grids fitted to cuts: regular, irregular and too-close cuts; smooth, in-range tempo."""

from __future__ import annotations

import numpy as np
import pytest

from cuescore.music.tempo import constant_grid, fit_beat_grid, on_grid_share
from feature_fixtures import CLOSE_CUTS, IRREGULAR_CUTS, REGULAR_CUTS

RANGE = (60.0, 160.0)


def check_grid(tempo_map, beats, downbeats, duration, bpm_range=RANGE):
    """Beats increase, stay in [0, duration), follow the tempo map, and keep to the tempo range."""
    b = np.asarray(beats)
    assert b[0] == 0.0 and np.all(np.diff(b) > 0) and b[-1] < duration
    assert tempo_map[0].time == 0.0
    assert set(downbeats) <= set(beats)
    bpm = 60.0 / np.diff(b)
    assert bpm.min() >= bpm_range[0] - 1e-6 and bpm.max() <= bpm_range[1] + 1e-6
    # Integrating the tempo map from 0 s reproduces the beats.
    t, rebuilt = 0.0, []
    changes = [(c.time, c.bpm) for c in tempo_map]
    for _ in beats:
        rebuilt.append(t)
        bpm_now = [m for s, m in changes if s <= t + 1e-9][-1]
        t += 60.0 / bpm_now
    assert np.allclose(rebuilt, beats, atol=1e-3)
    return bpm


def test_regular_cuts_fall_on_downbeats_at_steady_tempo():
    tempo_map, beats, downbeats = fit_beat_grid(40.0, list(REGULAR_CUTS), 110.0, RANGE)
    bpm = check_grid(tempo_map, beats, downbeats, 40.0)
    assert on_grid_share(list(REGULAR_CUTS), beats) == 1.0
    assert on_grid_share(list(REGULAR_CUTS), downbeats) == 1.0
    assert np.ptp(bpm) < 0.01


@pytest.mark.parametrize("cuts, duration", [((1.0, 2.3, 6.1, 6.9, 11.4), 14.0), (IRREGULAR_CUTS, 40.0)])
def test_irregular_cuts_land_on_beats_with_smooth_tempo(cuts, duration):
    tempo_map, beats, downbeats = fit_beat_grid(duration, list(cuts), 100.0, RANGE)
    bpm = check_grid(tempo_map, beats, downbeats, duration)
    assert on_grid_share(list(cuts), beats) >= 0.95
    assert on_grid_share(list(cuts), downbeats) >= 0.35  # chance is 0.25
    assert len(tempo_map) > 1
    assert np.max(np.abs(np.diff(np.log2(bpm)))) < 0.35  # no jump of more than ~27% from one beat to the next


def test_random_edits_keep_95_percent_on_beat():
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(5):
        cuts = list(np.cumsum(rng.uniform(0.8, 7.0, 12)))
        duration = cuts[-1] + 3.0
        tempo_map, beats, downbeats = fit_beat_grid(duration, cuts, float(rng.uniform(70, 140)), RANGE)
        check_grid(tempo_map, beats, downbeats, duration)
        hits.append(on_grid_share(cuts, beats))
    assert np.mean(hits) >= 0.95 and min(hits) >= 0.9


def test_cuts_closer_than_a_beat_leave_one_off_the_grid():
    tempo_map, beats, downbeats = fit_beat_grid(20.0, list(CLOSE_CUTS), 100.0, RANGE)
    check_grid(tempo_map, beats, downbeats, 20.0)
    b = np.asarray(beats)
    on = [t for t in CLOSE_CUTS if np.min(np.abs(b - t)) <= 0.05]
    assert len(on) == len(CLOSE_CUTS) - 2           # one of (3.0, 3.2) and one of (12.5, 12.8)
    assert {8.0, 17.0} <= set(on)
    assert sum(t in on for t in (3.0, 3.2)) == 1 and sum(t in on for t in (12.5, 12.8)) == 1


def test_weight_zero_or_locked_tempo_gives_constant_grid():
    for tempo_map, beats, _ in (fit_beat_grid(30.0, list(IRREGULAR_CUTS), 90.0, RANGE, weight=0.0),
                                fit_beat_grid(30.0, list(IRREGULAR_CUTS), 90.0, (90.0, 90.0))):
        assert len(tempo_map) == 1 and tempo_map[0].bpm == 90.0
        assert np.allclose(np.diff(beats), 60.0 / 90.0)
    assert fit_beat_grid(10.0, [], 200.0, RANGE)[0][0].bpm == 160.0  # target clamped into the range


def test_low_weight_chases_fewer_cuts_than_high_weight():
    rng = np.random.default_rng(3)
    cuts = list(np.cumsum(rng.uniform(1.5, 4.0, 10)))
    duration = cuts[-1] + 2.0
    low = fit_beat_grid(duration, cuts, 120.0, (100.0, 140.0), weight=0.05)
    high = fit_beat_grid(duration, cuts, 120.0, (100.0, 140.0), weight=2.0)
    assert on_grid_share(cuts, high[1]) > on_grid_share(cuts, low[1])


def test_last_bar_ends_with_the_video_when_possible():
    _, beats, downbeats = fit_beat_grid(20.0, [5.0, 10.0, 15.0], 96.0, RANGE)
    step = beats[-1] - beats[-2]
    assert abs(beats[-1] + step - 20.0) < 0.05
    assert abs(downbeats[-1] + 4 * step - 20.0) < 0.1


def test_constant_grid_and_share_helper():
    tempo_map, beats, downbeats = constant_grid(4.0, 120.0)
    assert beats == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5] and downbeats == [0.0, 2.0]
    assert on_grid_share([0.52, 1.3], beats) == 0.5
    assert on_grid_share([], beats) is None
