"""Directing the music: hit points, ignored cuts, intensity keyframes, named sections, per-shot and
per-region video controls, music controls, the regions of the analysis, and their bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from cli_runner import cli
from feature_fixtures import IRREGULAR_CUTS, make_features
from scipy.stats import spearmanr
from video_factory import make_video

from cuescore.analysis import VideoFeatures, analyze
from cuescore.controls import Controls
from cuescore.engines.base import get_engine
from cuescore.engines.directing import shot_factors
from cuescore.errors import OptionError
from cuescore.music.timeline import Timeline

HITS = "5.3,12.3,0:21.7,33.5"
HIT_TIMES = (5.3, 12.3, 21.7, 33.5)


def compose(features: VideoFeatures, **options):
    return get_engine("affective", Controls.from_options(**options)).compose(features)


def wavy(cuts=(10.0, 20.0, 30.0)) -> VideoFeatures:
    """40 s with hard `cuts` and motion and flow swinging every few seconds inside every shot."""
    f = make_features(cuts=cuts)
    wave = np.sin(np.arange(f.T) * 0.9)
    f.motion, f.flow = np.clip(6 + 5 * wave, 0, None), np.clip(0.6 + 0.5 * wave, 0, None)
    return f


def bars_within(plan, start: float, end: float) -> list[int]:
    """Indices of the bars lying wholly inside [start, end)."""
    ends = list(plan.downbeats[1:]) + [plan.duration]
    return [i for i, (s, e) in enumerate(zip(plan.downbeats, ends)) if s >= start and e <= end]


@pytest.mark.parametrize("hits, times", [(HITS, HIT_TIMES), ("0.6,9.9,18.05,39.5", (0.6, 9.9, 18.05, 39.5))])
def test_hits_land_on_downbeats_with_a_chord_change_in_the_plan_and_the_midi(tmp_path, hits, times):
    """Also where the first hit makes the music start with a pickup: the MIDI's bars are the plan's."""
    composition = compose(make_features(cuts=IRREGULAR_CUTS), hits=hits, instruments="cinematic")
    plan, score = composition.plan, composition.score
    assert plan.hits == list(times)
    downbeats, chord_starts = np.asarray(plan.downbeats), np.array([c.start for c in plan.chords])
    pm = pretty_midi.PrettyMIDI(str(score.write_midi(tmp_path / "hits.mid")))
    midi_downbeats = pm.get_downbeats()
    pad = next(i for i in pm.instruments if i.name == "pad")
    crashes = [n.start for i in pm.instruments if i.is_drum for n in i.notes if n.pitch == 49]
    assert all(np.min(np.abs(midi_downbeats - d)) <= 0.02 for d in downbeats)
    for hit in times:
        assert np.min(np.abs(downbeats - hit)) <= 0.02, hit
        assert np.min(np.abs(chord_starts - hit)) <= 0.02, hit
        assert plan.chord_at(hit - 0.05) != plan.chord_at(hit + 0.05), hit
        assert hit in plan.accents and hit in plan.marked_cuts
        assert np.min(np.abs(midi_downbeats - hit)) <= 0.02, hit
        before = {n.pitch % 12 for n in pad.notes if n.start < hit - 0.02 < n.end}
        starting = {n.pitch % 12 for n in pad.notes if abs(n.start - hit) <= 0.02}
        assert starting and starting != before, hit
        assert np.min(np.abs(np.asarray(crashes) - hit)) <= 0.02, hit


def test_hits_bend_a_locked_tempo_and_work_without_chasing_cuts():
    for options in ({"tempo": "100"}, {"weight_cuts": "0"}):
        plan = compose(make_features(cuts=IRREGULAR_CUTS), hits="7.7,19.1", **options).plan
        for hit in (7.7, 19.1):
            assert np.min(np.abs(np.asarray(plan.downbeats) - hit)) <= 0.02


def test_ignored_cuts_are_dropped_within_the_tolerance_and_hits_replace_cuts():
    plan = compose(make_features(cuts=IRREGULAR_CUTS), ignore_cuts="11.6,0:30").plan
    assert 11.4 not in plan.cuts and 11.4 not in plan.marked_cuts
    assert set(plan.cuts) == set(IRREGULAR_CUTS) - {11.4}
    plan = compose(make_features(cuts=IRREGULAR_CUTS), hits="19.2").plan
    assert 19.05 not in plan.cuts and plan.marked_cuts.count(19.2) == 1
    assert not any(0 < abs(t - 19.2) < 0.25 for t in plan.marked_cuts)
    assert not any(0 < abs(t - 19.2) <= 0.1 for t in plan.accents)


def test_intensity_keyframes_are_followed_by_density_and_velocity(tmp_path):
    """Per bar of the written MIDI (bars before the held final chord): the mean velocity of the
    notes off the accents (hits and visual impacts add their own +16) and the onsets per second
    rank like the keyframed curve. Across 27 emotion × preset × seed runs the velocity's Spearman
    was 0.95-1.0 and the onset density's 0.69-0.98 (mean 0.89): the density levels are followed,
    but the parts' patterns and the lead's phrasing add their own variety."""
    keyframes = ([0, 14, 26, 40], [0.1, 1.0, 0.35, 0.8])
    composition = compose(make_features(emotion="tense"), intensity="0:0.1,14:1.0,26:0.35,40:0.8",
                          instruments="cinematic")
    plan, score = composition.plan, composition.score
    assert np.allclose(plan.intensity, np.interp(np.arange(40) + 0.5, *keyframes), atol=1e-4)
    pm = pretty_midi.PrettyMIDI(str(score.write_midi(tmp_path / "intensity.mid")))
    notes = [n for i in pm.instruments for n in i.notes]
    starts = np.array([n.start for n in notes])
    accents = np.asarray(Timeline(plan).accents)
    plain = np.array([np.min(np.abs(accents - t)) > 0.03 for t in starts])
    velocity = np.array([n.velocity for n in notes], float)
    ends = list(plan.downbeats[1:]) + [plan.duration]
    ending = Timeline(plan).ending
    bars = [(s, e) for s, e in zip(plan.downbeats, ends) if e - s > 1.0 and e <= ending]
    curve = [np.interp((s + e) / 2, *keyframes) for s, e in bars]
    inside = [(starts >= s) & (starts < e) for s, e in bars]
    onsets = [len(set(np.round(starts[m] / 0.03))) / (e - s) for m, (s, e) in zip(inside, bars)]
    loudness = [velocity[m & plain].mean() for m in inside]
    assert len(bars) >= 12
    assert spearmanr(curve, loudness).statistic >= 0.9
    assert spearmanr(curve, onsets).statistic >= 0.85


def test_energy_still_scales_the_intensity_curve():
    f = make_features()
    full = compose(f, intensity="0:0.4,40:0.8").plan
    half = compose(f, intensity="0:0.4,40:0.8", energy="0.5").plan
    assert np.allclose(np.asarray(half.energy), np.asarray(full.energy) * 0.5, atol=2e-4)
    assert half.intensity == full.intensity


def test_sections_are_named_and_start_on_bar_lines():
    plan = compose(make_features(cuts=IRREGULAR_CUTS), sections="0:intro,8:build,24:climax,35:outro").plan
    assert [s.label for s in plan.sections] == ["intro", "build", "climax", "outro"]
    assert plan.sections[0].start == 0.0 and plan.sections[-1].end == plan.duration
    for section, wanted in zip(plan.sections[1:], (8, 24, 35)):
        assert section.start in plan.downbeats
        assert abs(section.start - wanted) <= 60.0 / plan.mean_bpm * 2 + 1e-6


def keys_onsets(composition, start: float, end: float) -> list[int]:
    """Distinct keys onsets (30 ms apart) in each bar wholly inside [start, end)."""
    plan, keys = composition.plan, composition.score.track("keys")
    ends = list(plan.downbeats[1:]) + [plan.duration]
    return [len({round(n.start / 0.03) for n in keys.notes if plan.downbeats[i] <= n.start < ends[i]})
            for i in bars_within(plan, start, end)]


def test_video_control_turns_one_shots_motion_off_and_leaves_the_others():
    f = wavy()
    free_music, directed_music = compose(f, instruments="piano"), compose(f, instruments="piano",
                                                                         video_control="1,*,motion,0")
    free, directed = free_music.plan, directed_music.plan
    shot1, shot2 = bars_within(directed, 10.0, 20.0), bars_within(directed, 20.0, 30.0)
    assert len(shot1) >= 2 and len(set(directed.density[i] for i in shot1)) == 1
    assert len(set(free.density[i] for i in bars_within(free, 10.0, 20.0))) > 1
    flat, moving = keys_onsets(directed_music, 10.0, 20.0), keys_onsets(free_music, 10.0, 20.0)
    assert max(flat) - min(flat) < max(moving) - min(moving)
    motion2 = [np.mean(f.motion[int(directed.downbeats[i]):int(directed.downbeats[i + 1]) + 1]) for i in shot2]
    assert spearmanr(motion2, [directed.density[i] for i in shot2]).statistic > 0.7


def test_global_video_control_is_the_weight_flag():
    f = wavy()
    assert compose(f, video_control="*,*,motion,0.5").plan.to_dict() == compose(f, weight_motion="0.5").plan.to_dict()


def test_music_controls_flatten_what_they_turn_off():
    f = wavy()
    assert len(set(compose(f, music_control="rhythm,0").plan.density)) == 1
    assert len(set(compose(f).plan.density)) > 1
    moods = make_features(cuts=(10.0, 20.0, 30.0), emotion=["relaxing", "exciting", "sad", "tense"])
    plan = compose(moods, music_control=["dynamics,0", "pitch,0"]).plan
    assert len(set(plan.energy)) == 1 and set(plan.register) == {0.0}


def test_a_region_control_counts_by_the_regions_share():
    f = wavy()
    region = lambda area, motion: {"area": area, "motion": motion, "colour": [0.5] * 3,  # noqa: E731
                                   "brightness": 0.5, "centre": [0.5, 0.5]}
    f.regions = [{"shot": k, "start": 0, "end": 0, "time": 0, "regions": [region(0.25, 30.0), region(0.75, 2.0)]}
                 for k in range(4)]
    factors = shot_factors(f, Controls.from_options(video_control="2,0,motion,0").video_controls)
    moving_share = 0.25 * 30 / (0.25 * 30 + 0.75 * 2)
    assert np.allclose(factors["motion"][20:30], 1 - moving_share) and np.allclose(factors["motion"][:20], 1)
    colour = shot_factors(f, Controls.from_options(video_control="*,1,colour,2").video_controls)["colour"]
    assert np.allclose(colour, 0.25 + 0.75 * 2)


@pytest.mark.parametrize("options, words", [
    ({"hits": "12,12.5"}, "at least 1 s"),
    ({"hits": "abc"}, "not a time"),
    ({"intensity": "0:0.3,20:1.5"}, "outside 0..1"),
    ({"intensity": "10:0.3,5:0.6"}, "increasing"),
    ({"sections": "0:intro,8:bad label"}, "letters"),
    ({"video_control": "1,*,smell,1"}, "colour, motion, area, emotion"),
    ({"video_control": "1,*,motion,2.5"}, "0..2"),
    ({"video_control": "x,*,motion,1"}, "index"),
    ({"music_control": "tempo,1"}, "pitch, rhythm, dynamics"),
    ({"music_control": "pitch,-1"}, "0..2"),
])
def test_bad_directions_name_the_value_and_the_range(options, words):
    with pytest.raises(OptionError, match=words):
        Controls.from_options(**options)


@pytest.mark.parametrize("options, words", [
    ({"hits": "45"}, "hits: 45 s is outside the video"),
    ({"intensity": "0:0.2,41:0.5"}, "intensity: 41 s is outside"),
    ({"sections": "0:a,40:b"}, "sections: 40 s is outside"),
    ({"video_control": "4,*,motion,0"}, "shot 4 does not exist; allowed: 0..3"),
    ({"video_control": "1,0,motion,0"}, "region 0 does not exist"),
])
def test_directions_outside_the_video_fail_before_composing(options, words):
    with pytest.raises(OptionError, match=words):
        compose(make_features(cuts=(10.0, 20.0, 30.0)), **options)


def test_keyframes_from_a_csv_file(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("time,level\n0,0.2\n0:20,0.9\n")
    assert Controls.from_options(intensity=str(path)).intensity == "0:0.2,20:0.9"


def test_analyze_finds_each_shots_regions(tmp_path):
    frames = []
    for i in range(60):  # shot 0: a bright bar sweeping over grey; shot 1: still, blue over orange
        img = np.full((64, 96, 3), 90, np.uint8)
        if i < 30:
            img[:, (i * 3) % 80:(i * 3) % 80 + 16] = 250
        else:
            img[:32], img[32:] = (30, 60, 200), (230, 140, 40)
        frames.append(img)
    features = analyze(make_video(tmp_path / "two.mp4", frames=frames, fps=15, size=(96, 64)))
    assert features.cuts and len(features.regions) == len(features.cuts) + 1
    moving, still = features.regions[0]["regions"], features.regions[-1]["regions"]
    assert max(r["motion"] for r in moving) > 20 and max(r["motion"] for r in still) < 2
    assert abs(sum(r["area"] for r in still) - 1) < 1e-3 and still[0]["area"] >= still[-1]["area"]
    features.save(tmp_path / "f")
    assert VideoFeatures.load(tmp_path / "f").regions == features.regions


def test_generate_records_the_directions_and_rejects_bad_ones(demo_clip, features_dir, tmp_path):
    out = tmp_path / "directed.mp4"
    code, _, err = cli("generate", demo_clip.path, "-o", out, "--features", features_dir, "--hits", "0:04.5",
                       "--intensity", "0:0.2,10:0.9", "--video-control", "0,*,motion,0",
                       "--video-control", "*,0,colour,1.5", "--music-control", "pitch,2")
    assert code == 0, err
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["hits"] == [4.5] and len(data["intensity"]) == 12
    assert data["controls"]["video_control"] == "0,*,motion,0;*,0,colour,1.5"
    assert data["controls"]["music_control"] == "pitch,2"
    assert np.min(np.abs(np.asarray(data["downbeats"]) - 4.5)) <= 0.02
    bad = tmp_path / "bad.mp4"
    for flag, value in (("--hits", "30"), ("--intensity", "5:0.5,2:0.1"), ("--video-control", "0,*,motion,3")):
        code, _, err = cli("generate", demo_clip.path, "-o", bad, "--features", features_dir, flag, value)
        assert code == 2 and len(err.strip().splitlines()) == 1 and value.split(",")[0].split(":")[0] in err, err
        assert not list(Path(tmp_path).glob("bad*"))
