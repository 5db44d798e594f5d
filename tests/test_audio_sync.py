"""Audio-side evaluation: a click track with beats at known times against a video with cuts at
known times, through `cuescore evaluate AUDIO --video VIDEO [--plan PLAN.json]`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from cli_runner import cli
from cuescore.evaluation.audio_sync import HeardRhythm, audio_cut_on_beat, tempo_agreement, video_hard_cuts
from cuescore.music.plan import ChordSpan, Key, MusicPlan, TempoChange
from video_factory import make_video

RATE = 22050
DURATION = 12.0
BEAT = 0.5
"""Seconds between clicks (120 BPM)."""
CUTS = [2.0, 4.5, 7.0, 9.5]
"""Hard cuts of the test video, each on a click."""


def click_track(path, shift: float = 0.0) -> str:
    """Clicks every `BEAT` s from 0.5 s on, moved by `shift` s: C5 (523 Hz) tones decaying over 150 ms."""
    y = np.zeros(int(DURATION * RATE), np.float32)
    t = np.arange(int(0.15 * RATE)) / RATE
    click = (np.sin(2 * np.pi * 523.25 * t) * np.exp(-t / 0.04)).astype(np.float32)
    for beat in np.arange(BEAT, DURATION - 0.3, BEAT) + shift:
        i = int(round(beat * RATE))
        y[i: i + click.size] += click[: y.size - i]
    sf.write(str(path), 0.8 * y, RATE)
    return str(path)


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    """A 12 s, 20 fps video whose shots (flat colours with a moving bar) change at `CUTS`."""
    fps, width, height = 20, 96, 64
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 40), (200, 40, 200)]
    frames = []
    for i in range(int(DURATION * fps)):
        img = np.zeros((height, width, 3), np.uint8)
        img[:] = colours[int(np.searchsorted(CUTS, i / fps, side="right"))]
        img[:, (i * 2) % width: (i * 2) % width + 3] = 255
        frames.append(img)
    return make_video(tmp_path_factory.mktemp("cuts") / "cuts.mp4", fps=fps, frames=frames, size=(width, height))


def test_the_video_has_its_cuts(cut_video):
    assert np.allclose(video_hard_cuts(cut_video), CUTS, atol=1e-6)


def _evaluate(*args) -> dict:
    code, out, err = cli("evaluate", *args)
    assert code == 0, err
    return json.loads(out)


def test_clicks_on_the_cuts_score_all_and_shifted_clicks_none(cut_video, tmp_path):
    on = _evaluate(click_track(tmp_path / "on.wav"), "--video", cut_video)
    assert on["hard_cuts"] == 4 and on["audio_cut_on_beat"] == 1.0
    assert abs(on["audio_tempo_bpm"] - 120) < 3 and on["tempo_agreement"] is None and on["chord_agreement"] is None
    late = _evaluate(click_track(tmp_path / "late.wav", shift=0.15), "--video", cut_video)
    assert late["audio_cut_on_beat"] <= 0.25


def test_a_plan_gives_tempo_and_chord_agreement(cut_video, tmp_path):
    """C5 clicks: the plan's C major spans hold most of the chroma, its D# major spans little."""
    beats = list(np.arange(0.0, DURATION, BEAT))
    plan = MusicPlan(duration=DURATION, tempo_map=[TempoChange(0.0, 120.0)], beats=beats, downbeats=beats[::4],
                     key=Key(0, "major"), chords=[ChordSpan(0.0, 6.0, "C"), ChordSpan(6.0, DURATION, "D#")],
                     density=[2] * len(beats[::4]), energy=[0.5] * len(beats[::4]), cuts=CUTS)
    path = plan.save_json(tmp_path / "plan.json")
    metrics = _evaluate(click_track(tmp_path / "on.wav"), "--video", cut_video, "--plan", path)
    assert metrics["tempo_agreement"]["acc1"] and metrics["tempo_agreement"]["plan_tempo_bpm"] == 120
    spans = metrics["chord_agreement"]["spans"]
    assert [s["label"] for s in spans] == ["C", "D#"]
    assert spans[0]["chord_tone_share"] > 0.6 > 0.3 > spans[1]["chord_tone_share"]
    assert metrics["chord_agreement"]["chance"] == 0.25


def test_cuts_near_an_end_outside_the_tracked_beats_count_on_an_onset():
    rhythm = HeardRhythm(beats=np.array([2.0, 2.5, 3.0]), onsets=np.array([0.3, 2.0, 2.5, 3.0, 6.5, 11.02]),
                         tempo_bpm=120, duration=12.0)
    assert audio_cut_on_beat([0.32, 2.51, 11.0], rhythm) == (1.0, 2)
    assert audio_cut_on_beat([0.5, 2.7, 6.5, 11.5], rhythm) == (0.0, 2)  # 6.5: an onset, but mid-piece
    short = HeardRhythm(beats=np.array([4.0, 4.5]), onsets=np.array([1.0, 3.0]), tempo_bpm=120, duration=10.0)
    assert audio_cut_on_beat([1.0, 3.0], short) == (0.5, 1)  # ends of a 10 s piece: its first and last 2 s
    assert audio_cut_on_beat([], rhythm) == (None, 0)


def test_tempo_agreement_allows_octave_errors():
    assert tempo_agreement(121.0, 120.0)["acc1"] and not tempo_agreement(240.0, 120.0)["acc1"]
    assert tempo_agreement(240.0, 120.0)["acc2"] and not tempo_agreement(150.0, 120.0)["acc2"]


def test_options_that_do_not_fit_the_target_are_one_line_errors(cut_video, tmp_path):
    wav = click_track(tmp_path / "on.wav")
    code, _, err = cli("evaluate", wav, "--plan", tmp_path / "p.json")
    assert code == 2 and "--plan needs --video" in err
    code, _, err = cli("evaluate", tmp_path / "p.json", "--video", cut_video)
    assert code == 2 and "--video applies to an audio or video target" in err
    code, _, err = cli("evaluate", wav)
    assert code == 2 and "for an audio file give --video VIDEO" in err and err.count("\n") == 1


def test_a_scored_video_beside_a_broken_json_is_a_one_line_error(cut_video, tmp_path):
    video = tmp_path / "out.mp4"
    video.write_bytes(cut_video.read_bytes())
    (tmp_path / "out.json").write_text("{broken")
    code, _, err = cli("evaluate", video)
    assert code == 2 and "out.json is not JSON" in err and err.count("\n") == 1, err
