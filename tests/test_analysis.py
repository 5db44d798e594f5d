"""The analysis pipeline on videos with known content."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cuescore.analysis import EMOTIONS, VideoFeatures, analyze
from cuescore.analysis.emotion import emotion_probabilities, valence_arousal
from cuescore.analysis.features import fill_forward
from cuescore.errors import InputError, OptionError
from video_factory import make_video


@pytest.fixture(scope="module")
def demo_features(features_dir):
    """The demo clip's features from the session's one `cuescore analyze` run."""
    return VideoFeatures.load(features_dir)


def test_timeline_shapes_and_ranges(demo_features):
    f = demo_features
    assert f.T == 12
    for name in ("motion", "flow", "brightness", "saturation", "colorfulness", "hue", "valence", "arousal", "scene_offset"):
        assert getattr(f, name).shape == (12,), name
    assert f.semantic.shape == (12, 128) and np.isfinite(f.semantic).all()
    assert f.emotion.shape == (12, len(EMOTIONS))
    np.testing.assert_allclose(f.emotion.sum(axis=1), 1.0, atol=1e-5)
    assert f.encoder == {"name": "handcrafted", "id": "handcrafted-v1", "dim": 128}
    assert 0 <= f.brightness.min() and f.brightness.max() <= 1
    assert np.all((f.valence >= -1) & (f.valence <= 1) & (f.arousal >= -1) & (f.arousal <= 1))


def test_features_follow_the_scenes(demo_features, demo_clip):
    """Scenes (see DEFAULT_SCENES): 0-2.5 s calm blue, 2.5-4.5 fast bright orange, 4.5-7.5 green,
    7.5-9 frantic red, 9-12 dark and still."""
    f = demo_features
    calm, fast, frantic, still = [1], [3], [8], [10, 11]
    assert f.motion[fast].mean() > 3 * f.motion[calm].mean()
    assert f.flow[frantic].mean() > 3 * f.flow[still].mean()
    assert f.brightness[fast].mean() > f.brightness[still].mean() + 0.3
    assert abs(f.hue[1] - 220) <= 15 and abs(f.hue[3] - 40) <= 15
    assert f.valence[fast].mean() > f.valence[still].mean()
    assert f.arousal[frantic].mean() > f.arousal[still].mean()
    assert EMOTIONS[int(f.emotion[11].argmax())] in ("sad", "relaxing", "neutral")
    assert f.scene_offset.tolist()[:4] == [0, 1, 0, 1]


def test_cuts_of_the_demo_clip_are_exact(demo_features, demo_clip):
    assert demo_features.hard_cuts == pytest.approx(demo_clip.cut_times, abs=0.5 / demo_clip.fps)


def test_save_and_load_round_trip(demo_features, tmp_path):
    demo_features.save(tmp_path / "feat")
    meta = json.loads((tmp_path / "feat" / "features.json").read_text())
    assert meta["cuts"] == demo_features.cuts and meta["encoder"]["dim"] == 128
    back = VideoFeatures.load(tmp_path / "feat")
    np.testing.assert_array_equal(back.semantic, demo_features.semantic)
    np.testing.assert_array_equal(back.emotion, demo_features.emotion)
    assert back.transitions == demo_features.transitions
    np.testing.assert_allclose(back.beat_times, demo_features.beat_times)
    (tmp_path / "feat" / "features.npz").write_bytes(b"garbage")
    with pytest.raises(InputError):
        VideoFeatures.load(tmp_path / "feat")


def test_visual_beats_fall_where_motion_stops(tmp_path):
    """A square moves for 0.5 s (right, then left next time), then stops dead for 0.5 s: an
    impact at every stop."""
    fps, frames, x = 30, [], 40
    for i in range(4 * fps):
        second, moving = divmod(i, fps)[0], (i % fps) < fps // 2
        x += (10 if second % 2 == 0 else -10) if moving else 0
        img = np.full((180, 320, 3), 40, np.uint8)
        img[70:110, x : x + 40] = 230
        frames.append(img)
    path = make_video(tmp_path / "stops.mp4", frames=frames, fps=fps, size=(320, 180))
    f = analyze(path)
    stops = [0.5, 1.5, 2.5, 3.5]
    for stop in stops:
        assert np.min(np.abs(f.beat_times - stop)) <= 0.1, (stop, f.beat_times)
    assert len(f.beat_times) <= len(stops) + 1


def test_the_flow_is_the_same_however_many_threads_compute_it(demo_clip):
    from cuescore.analysis.motion import MotionAnalyzer
    from cuescore.media import iter_frames

    analyzers = [MotionAnalyzer(background=workers) for workers in (0, 1, 3)]
    for frame in iter_frames(demo_clip.path, max_side=320):
        for motion in analyzers:
            motion.update(frame.time, frame.image)
    results = []
    for motion in analyzers:
        motion.finish(demo_clip.duration)
        results.append((motion.times, motion.speeds, motion.visual_beats(demo_clip.cut_times)[0].tolist()))
    assert len(results[0][0]) > 100 and results[1] == results[0] and results[2] == results[0]


def test_sampled_analysis_and_bad_options(demo_clip):
    f = analyze(demo_clip.path, fps=10)
    assert f.T == 12 and f.hard_cuts == pytest.approx(demo_clip.cut_times, abs=0.1)
    with pytest.raises(OptionError):
        analyze(demo_clip.path, fps=0)
    with pytest.raises(OptionError):
        analyze(demo_clip.path, encoder="nonsense")


def test_emotion_mapping_follows_valence_and_arousal():
    bright = valence_arousal(np.array([0.9]), np.array([0.8]), np.array([20.0]), np.array([2.0]), np.array([4.0]))
    dark = valence_arousal(np.array([0.1]), np.array([0.1]), np.array([0.2]), np.array([0.01]), np.array([0.0]))
    assert bright[0][0] > 0.3 and bright[1][0] > 0.3 and dark[0][0] < -0.3 and dark[1][0] < -0.3
    p = emotion_probabilities(np.array([0.7, -0.7, 0.6, -0.6, 0.0]), np.array([0.7, 0.8, -0.6, -0.5, 0.0]))
    assert [EMOTIONS[i] for i in p.argmax(axis=1)] == ["exciting", "fearful", "relaxing", "sad", "neutral"]


def test_fill_forward_holds_the_last_row_and_fills_the_lead_as_asked():
    rows = np.array([[np.nan, np.nan], [1.0, 2.0], [np.nan, np.nan], [3.0, 4.0], [np.nan, 0.0]])
    missing = np.isnan(rows).any(axis=1)
    first = fill_forward(rows, missing, lead="first")
    np.testing.assert_array_equal(first, [[1, 2], [1, 2], [1, 2], [3, 4], [3, 4]])
    np.testing.assert_array_equal(fill_forward(rows, missing, lead="zeros")[0], [0, 0])
    np.testing.assert_array_equal(fill_forward(np.arange(3.0), [True, True, True]), [0, 0, 0])
    assert np.isnan(rows).sum() == 5  # the input is left alone
    with pytest.raises(ValueError):
        fill_forward(rows, missing, lead="back")


def _textured_clip(path, rgb: tuple[int, int, int], seconds: int = 4, fps: int = 15):
    """A clip of one colour with a soft texture drifting 2 px per frame (no cuts)."""
    rng = np.random.default_rng(0)
    texture = rng.normal(0.0, 12.0, (120, 400)).astype(np.float32)
    frames = []
    for i in range(seconds * fps):
        shade = np.roll(texture, 2 * i, axis=1)[:, :160]
        frames.append(np.clip(np.asarray(rgb, np.float32) + shade[..., None], 0, 255).astype(np.uint8))
    return make_video(path, frames=frames, fps=fps, size=(160, 120))


def test_warm_bright_and_dark_desaturated_clips_get_other_emotions_and_modes(tmp_path):
    from cuescore.controls import Controls
    from cuescore.engines import get_engine

    moods, modes = [], []
    for name, rgb in (("warm", (250, 175, 60)), ("dark", (42, 44, 48))):
        f = analyze(_textured_clip(tmp_path / f"{name}.mp4", rgb))
        moods.append(EMOTIONS[int(np.bincount(f.emotion.argmax(axis=1), minlength=len(EMOTIONS)).argmax())])
        modes.append(get_engine("affective", Controls(seed=0)).compose(f).plan.key.mode)
    assert moods[0] != moods[1] and moods[0] in ("relaxing", "exciting") and moods[1] in ("sad", "fearful", "tense")
    assert modes == ["major", "minor"]


def test_emotion_moves_within_a_video_of_one_narrow_colour_band():
    """Footage graded in one band (brightness 0.32-0.40, saturation 0.78-0.84, as a real clip of
    flowers) still changes class where the picture changes: a still shot, a busier brighter one."""
    T = 20
    brightness = np.r_[np.full(10, 0.32), np.full(10, 0.40)]
    saturation = np.r_[np.full(10, 0.84), np.full(10, 0.78)]
    motion, flow = np.r_[np.full(10, 0.3), np.full(10, 2.5)], np.r_[np.full(10, 0.03), np.full(10, 0.3)]
    valence, arousal = valence_arousal(brightness, saturation, motion, flow, np.ones(T))
    classes = emotion_probabilities(valence, arousal).argmax(axis=1)
    assert valence[15] > valence[5] + 0.2 and arousal[15] > arousal[5] + 0.4
    assert classes[2] != classes[17]
    flat = valence_arousal(np.full(T, 0.36), np.full(T, 0.81), np.full(T, 1.0), np.full(T, 0.1), np.ones(T))
    assert np.ptp(flat[0]) < 1e-6 and np.ptp(flat[1]) < 1e-6


def test_arousal_rises_with_cutting_within_a_video():
    """Same colour and motion throughout; the cut rate rises from 0 to 6 per 10 s halfway."""
    T = 20
    cuts = np.r_[np.zeros(10), np.full(10, 6.0)]
    _, arousal = valence_arousal(np.full(T, 0.5), np.full(T, 0.4), np.full(T, 2.0), np.full(T, 0.2), cuts)
    assert arousal[15:].mean() > arousal[:5].mean() + 0.3
