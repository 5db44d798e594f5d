"""The default engine on hand-built features, the registry, and `score_video` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cuescore.analysis.features import EMOTIONS
from cuescore.controls import INSTRUMENT_PRESETS, Controls
from cuescore.engines import Composition, available_engines, get_engine
from cuescore.engines.affective import AffectiveRecord
from cuescore.errors import InputError, OptionError, OutputError
from cuescore.evaluation.correspondence import evaluate
from cuescore.music.plan import MusicPlan
from cuescore.music.theory import is_diatonic
from feature_fixtures import CLOSE_CUTS, IRREGULAR_CUTS, REGULAR_CUTS, make_features

SHOT_MOODS = ["exciting", "tense", "sad", "fearful", "relaxing", "exciting", "sad", "tense", "fearful", "relaxing",
              "exciting", "sad"]


def compose(features, **options) -> Composition:
    return get_engine("affective", Controls.from_options(**options)).compose(features)


def plan(features, **options) -> MusicPlan:
    return compose(features, **options).plan


def record(features, **options) -> AffectiveRecord:
    return compose(features, **options).record


def test_registry():
    assert available_engines()[0] == "affective"
    with pytest.raises(OptionError, match="unknown engine 'nope'.*affective"):
        get_engine("nope", Controls())
    with pytest.raises(OptionError, match="takes no option 'top-k'; it is an option of amt"):
        get_engine("affective", Controls(), top_k=3)


def test_a_symbolic_engine_returns_plan_score_and_record_without_audio():
    f = make_features(20.0, REGULAR_CUTS)
    out = compose(f, seed=3)
    assert out.audio is None and out.score is not None and out.plan.duration == 20.0
    assert isinstance(out.record, AffectiveRecord) and len(out.record.roman_numerals) == len(out.plan.chords)
    assert len(out.record.drive) == f.T and set(out.record.to_dict()) >= {"drive", "target_bpm", "instrument_preset"}


@pytest.mark.parametrize("cuts, moods", [(REGULAR_CUTS, "relaxing"), (IRREGULAR_CUTS, SHOT_MOODS)])
def test_cuts_land_on_beats_and_chord_changes(cuts, moods):
    f = make_features(40.0, cuts, emotion=moods, gradual=[(24.0, "dissolve")])
    p = plan(f, seed=1)
    p.validate()
    m = evaluate(p, f)
    assert m["cut_on_beat"] >= 0.95 and m["cut_on_chord_change"] >= 0.9
    assert np.mean([is_diatonic(s.chord, p.key) for s in p.chords]) > 0.8
    assert p.chords[0].start == 0.0 and p.chords[-1].end == 40.0 and p.chords[-1].chord.root == p.key.tonic
    assert p.sections[0].start == 0.0 and p.sections[-1].end == 40.0
    assert p.engine == "affective" and p.seed == 1 and p.cuts == list(f.hard_cuts)
    assert all(0 <= d <= 4 for d in p.density) and all(0.0 <= e <= 1.0 for e in p.energy)
    assert 60.0 <= p.mean_bpm <= 160.0


def test_same_seed_same_plan_other_seed_other_music():
    f = make_features(40.0, IRREGULAR_CUTS, emotion=SHOT_MOODS)
    a, b = plan(f, seed=5).to_dict(), plan(f, seed=5).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    labels = {tuple(s.label for s in plan(f, seed=s).chords) for s in range(4)}
    assert len(labels) > 1


def test_emotion_weight_raises_emotion_correspondence():
    f = make_features(40.0, IRREGULAR_CUTS, emotion=SHOT_MOODS, confidence=0.9)
    on = np.mean([evaluate(plan(f, seed=s), f)["emotion_correspondence"] for s in range(3)])
    off = np.mean([evaluate(plan(f, seed=s, weight_emotion=0), f)["emotion_correspondence"] for s in range(3)])
    assert on > off + 0.2


def test_cut_weight_zero_and_locked_tempo_give_a_steady_grid():
    f = make_features(40.0, IRREGULAR_CUTS)
    for p in (plan(f, weight_cuts=0), plan(f, tempo=100)):
        assert len(p.tempo_map) == 1
        assert np.ptp(np.diff(p.beats)) < 1e-9
    assert plan(f, tempo=100).tempo_map[0].bpm == 100.0
    off, on = compose(f, weight_cuts=0, instruments="rock"), compose(f, instruments="rock")
    assert off.plan.cuts == on.plan.cuts == f.hard_cuts  # the plan still reports where the cuts are
    assert off.plan.marked_cuts == [] and on.plan.marked_cuts == f.hard_cuts  # 0 = no fills or crashes either
    crashes = lambda c: sum(n.pitch == 49 for t in c.score.tracks if t.is_drum for n in t.notes)  # noqa: E731
    assert crashes(off) < crashes(on)


def test_a_clip_shorter_than_a_beat_with_a_cut_gets_a_plan():
    for duration, options in ((0.3, {}), (1.0, {"tempo_min": 40, "tempo_max": 50})):
        p = plan(make_features(duration, (duration / 2,)), **options)
        assert p.beats[0] == 0.0 and p.chords[-1].end == pytest.approx(duration)


def test_flash_cuts_become_accents():
    f = make_features(20.0, CLOSE_CUTS)
    p = plan(f)
    off = record(f).off_grid_cuts
    assert len(off) == 2 and all(any(abs(a - t) < 1e-6 for a in p.accents) for t in off)
    assert evaluate(p, f)["cut_on_beat"] == pytest.approx(4 / 6)


def test_controls_shape_the_plan():
    calm = make_features(30.0, REGULAR_CUTS, emotion="relaxing", motion=1.0, flow=0.1)
    wild = make_features(30.0, REGULAR_CUTS, emotion="exciting", motion=40.0, flow=5.0, brightness=0.8)
    assert np.mean(plan(wild).density) > np.mean(plan(calm).density)
    assert np.mean(plan(wild).energy) > np.mean(plan(calm).energy)
    assert np.mean(plan(wild, energy=0.5).energy) < np.mean(plan(wild).energy)
    assert set(plan(wild, weight_motion=0).density) == {2}
    assert plan(wild, weight_motion=0).accents == []
    assert plan(calm, instruments="piano").instruments == INSTRUMENT_PRESETS["piano"]
    assert plan(calm, key="F# minor").key.name == "F# minor"
    assert [s.label for s in plan(calm, primer="Dm G C").chords[:3]] == ["D:min", "G", "C"]
    sad = make_features(30.0, REGULAR_CUTS, emotion="sad", brightness=0.2)
    assert plan(sad).key.mode == "minor" and plan(wild).key.mode == "major"
    assert record(sad).instrument_preset != record(wild).instrument_preset


def test_short_video_without_cuts():
    p = plan(make_features(3.0, []))
    assert p.beats[0] == 0.0 and p.chords[-1].end == 3.0 and p.sections == [p.sections[0]]


@pytest.fixture(scope="module")
def scoring():
    import cuescore.scoring as module

    return module


def test_score_video_writes_all_outputs(scoring, demo_clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    result = scoring.score_video(demo_clip.path, controls=Controls(seed=2, loudness=-16),
                                 progress=lambda stage, done: seen.append(stage))
    assert result.video_out == tmp_path / "demo_scored.mp4"
    for path in result.outputs.values():
        assert path.is_file() and path.stat().st_size > 0
    assert seen == [*scoring.STAGES, "done"]
    assert set(scoring.STAGES) <= set(result.timings)
    data = json.loads(result.json.read_text())
    for field in ("tempo_bpm", "beats", "downbeats", "chords", "key", "cuts", "engine", "seed", "emotion", "timings"):
        assert field in data, field
    assert data["engine"] == "affective" and data["seed"] == 2 and len(data["emotion"]) == result.features.T
    assert len(data["emotion"][0]) == len(EMOTIONS) and "extra" not in data
    assert data["engine_record"]["instrument_preset"] in INSTRUMENT_PRESETS and data["engine_record"]["roman_numerals"]
    assert {"start", "end", "label"} == set(data["chords"][0])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in result.outputs.values())


def test_score_video_fails_early_and_leaves_nothing(scoring, demo_clip, tmp_path, monkeypatch):
    features = make_features(demo_clip.duration, demo_clip.cut_times)
    with pytest.raises(OutputError):
        scoring.score_video(demo_clip.path, tmp_path / "missing" / "out.mp4", features=features)
    with pytest.raises(OutputError, match="unsupported output type"):
        scoring.score_video(demo_clip.path, tmp_path / "out.avi", features=features)
    with pytest.raises(OptionError, match="unknown engine"):
        scoring.score_video(demo_clip.path, tmp_path / "out.mp4", features=features, engine="nope")
    with pytest.raises(InputError):
        scoring.score_video(tmp_path / "absent.mp4", tmp_path / "out.mp4", features=features)

    def broken(*args, **kwargs):
        raise RuntimeError("synth failed")

    monkeypatch.setattr(scoring, "synthesize_track", broken)
    with pytest.raises(RuntimeError):
        scoring.score_video(demo_clip.path, tmp_path / "out.mp4", features=features)
    assert list(tmp_path.iterdir()) == []
