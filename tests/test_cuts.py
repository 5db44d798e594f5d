"""Shot-boundary detection: hard cuts, fades and dissolves on rendered and real video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cuescore.analysis.cuts import CutDetector, scene_offset
from cuescore.analysis.features import HARD_CUT, Transition
from cuescore.media.decode import iter_frames
from cuescore.media.probe import probe
from video_factory import make_video

REAL_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "media" / "video"

FPS = 30
SIZE = (160, 96)


def detect(path: Path, fps: float) -> list[Transition]:
    """Run the detector over every frame of `path`, decoded the way the pipeline does it."""
    det = CutDetector(fps)
    last = 0.0
    for frame in iter_frames(path, max_side=320):
        det.update(frame.time, frame.image)
        last = frame.time
    det.finish(last + 1.0 / fps)
    return det.transitions


def texture(seed: int, width: int, height: int) -> np.ndarray:
    """A smooth random colour picture (float RGB 0-255, blobs about 32 px across)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30, 225, (height // 32 + 2, width // 32 + 2, 3)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 255)


def shot(seed: int, n: int, speed: float = 0.25) -> list[np.ndarray]:
    """`n` float frames of one shot: its texture panning `speed` pixels per frame."""
    w, h = SIZE
    tex = texture(seed, w + int(np.ceil(speed * n)) + 2, h)
    return [cv2.warpAffine(tex, np.float32([[1, 0, -speed * i], [0, 1, 0]]), (w, h)) for i in range(n)]


def blend(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Cross-dissolve from the frames `a` to the frames `b` (same length)."""
    n = len(a)
    return [(1 - (i + 1) / (n + 1)) * fa + (i + 1) / (n + 1) * fb for i, (fa, fb) in enumerate(zip(a, b))]


def encode(path: Path, frames: list[np.ndarray]) -> Path:
    """Encode float frames as h264 at FPS."""
    return make_video(path, fps=FPS, size=SIZE, frames=[f.clip(0, 255).astype(np.uint8) for f in frames])


def test_demo_clip_cuts_exact(demo_clip):
    found = detect(demo_clip.path, demo_clip.fps)
    assert [tr.kind for tr in found] == [HARD_CUT] * len(demo_clip.cut_times)
    assert np.allclose([tr.time for tr in found], demo_clip.cut_times, atol=0.25 / demo_clip.fps)


def test_fade_to_black_and_back(tmp_path):
    black = [np.zeros((SIZE[1], SIZE[0], 3), np.float32)] * 12
    a, b = shot(1, 80), shot(2, 80)
    ramp = np.linspace(1, 0, 20)
    frames = a[:60] + [f * g for f, g in zip(a[60:], ramp)] + black + [f * g for f, g in zip(b[:20], ramp[::-1])] + b[20:]
    found = detect(encode(tmp_path / "fade.mp4", frames), FPS)
    # 0.67 s fades: the fade-out reaches black at frame 79 (2.63 s); the fade-in leaves black
    # at frame 92 (3.07 s)
    assert [tr.kind for tr in found] == ["fade_out", "fade_in"], found
    assert abs(found[0].time - 79 / FPS) <= 0.5 and abs(found[1].time - 92 / FPS) <= 0.5
    assert found[0].start < found[0].time and found[1].end > found[1].time


@pytest.mark.parametrize("seconds", [0.7, 2.5])
def test_cross_dissolve(tmp_path, seconds):
    n = round(seconds * FPS)
    a, b = shot(3, 60 + n), shot(4, 60 + n)
    frames = a[:60] + blend(a[60:], b[:n]) + b[n:]
    found = detect(encode(tmp_path / "dissolve.mp4", frames), FPS)
    assert [tr.kind for tr in found] == ["dissolve"], found
    assert abs(found[0].time - (2.0 + seconds / 2)) <= 0.5
    assert abs(found[0].start - 2.0) <= 0.5 and abs(found[0].end - (2.0 + seconds)) <= 0.5


def test_vfr_cut_time_is_frame_timestamp(tmp_path):
    times = np.cumsum([0.0] + [1 / 24 if i % 3 else 1 / 12 for i in range(1, 72)]).tolist()
    a, b = shot(5, 36), shot(6, 36)
    path = make_video(tmp_path / "vfr.mp4", fps=24, size=SIZE, times=times, frames=[f.astype(np.uint8) for f in a + b])
    found = detect(path, len(times) / times[-1])
    assert [tr.kind for tr in found] == [HARD_CUT]
    assert found[0].time == pytest.approx(times[36], abs=1e-3)


def caption_over_pan() -> list[np.ndarray]:
    """A fast pan over a smooth picture (nearly linear in time, like a dissolve, but its change
    follows the picture's gradients) while a caption over a fifth of the frame fades in."""
    pan, caption = shot(7, 150, speed=1.0), shot(8, 150)
    box = (slice(30, 70), slice(40, 120))
    for i, frame in enumerate(pan[60:90]):
        frame[box] = frame[box] * (1 - (i + 1) / 31) + caption[60 + i][box] * (i + 1) / 31
    for frame in pan[90:]:
        frame[box] = caption[0][box]
    return pan


def exposure_drop() -> list[np.ndarray]:
    """One shot whose brightness falls to 60 % over 0.67 s: a blend, but not to black and not
    to another picture."""
    gain = np.concatenate([np.ones(60), np.linspace(1, 0.6, 21)[1:], np.full(70, 0.6)])
    return [f * g for f, g in zip(shot(9, 150), gain)]


@pytest.mark.parametrize("make", [caption_over_pan, exposure_drop])
def test_blends_that_are_not_transitions(tmp_path, make):
    assert detect(encode(tmp_path / "clip.mp4", make()), FPS) == []


def test_scene_offset_resets_in_the_second_of_each_boundary():
    out = scene_offset([1.001, 6.006, 6.9, 12.5, -1.0], 9)
    assert out.dtype == np.float32
    assert out.tolist() == [0, 0, 1, 2, 3, 4, 0, 1, 2]
    assert scene_offset([], 3).tolist() == [0, 1, 2]


def test_fps_must_be_positive():
    with pytest.raises(ValueError):
        CutDetector(0.0)


# Ground truth from ../shared/media/README.md. Gradual transitions are (kind, time, start, end):
# a dissolve's time is its centre, a fade's its black point (end of a fade-out, start of a
# fade-in). big_buck_bunny opens with a fade from black (0-1.9 s), reported as a fade-in.
REAL = {
    "testvideo.mp4": (
        [1.001, 6.006],
        [("fade_in", 7.240, None, None), ("fade_out", 12.145, None, None), ("fade_in", 13.346, None, None),
         ("dissolve", 18.2, 17.8, 18.6), ("fade_out", 23.256, None, None)],
    ),
    "goldeneye-vfr-drop3.mp4": ([3.754, 8.759], []),
    "big_buck_bunny_0_30.webm": ([11.795, 15.670, 22.961], [("fade_in", 0.0, 0.0, 1.9)]),
    "0102_0011.mp4": ([2.133, 20.100, 27.067], [("dissolve", 10.15, 9.8, 10.5)]),
    "demo_test_video_structuralize.mp4": ([], []),
}


@pytest.mark.realmedia
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_clip_transitions(name):
    path = REAL_VIDEO / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    fps = probe(path).fps
    found = detect(path, fps)
    cuts, gradual = REAL[name]
    matched: set[int] = set()
    for t in cuts:
        hits = [i for i, tr in enumerate(found) if tr.kind == HARD_CUT and abs(tr.time - t) <= 1.0 / fps + 1e-3]
        assert hits, f"cut at {t} not found in {found}"
        matched.update(hits)
    for kind, t, start, end in gradual:
        hits = [i for i, tr in enumerate(found) if tr.kind == kind and abs(tr.time - t) <= 0.5]
        assert hits, f"{kind} at {t} not found in {found}"
        if start is not None:
            assert abs(found[hits[0]].start - start) <= 0.5 and abs(found[hits[0]].end - end) <= 0.5, found[hits[0]]
        matched.update(hits)
    false = [tr for i, tr in enumerate(found) if i not in matched]
    assert len(false) <= 1, f"false boundaries: {false}"


def whip_pan(seed: int, n: int, at: int, jump: int) -> list[np.ndarray]:
    """`n` frames of one shot panning 0.5 px per frame, but for frame `at`, which jumps `jump` px
    and is smeared by a horizontal motion blur of that length (a whip pan, as a handheld camera
    and its codec give it)."""
    w, h = SIZE
    tex = texture(seed, w + jump + n + 4, h)
    frames, x = [], 0.0
    for i in range(n):
        x += jump if i == at else 0.5
        frame = cv2.warpAffine(tex, np.float32([[1, 0, -x], [0, 1, 0]]), (w, h))
        frames.append(cv2.blur(frame, (jump, 1)) if i == at else frame)
    return frames


@pytest.mark.parametrize("jump", [40, 64])
def test_a_whip_pan_inside_a_shot_is_not_a_cut(tmp_path, jump):
    """Three shots (cuts at 1.5 s and 4 s); the middle one whips 40-64 px (a quarter to 40 % of
    the frame) in one smeared frame at 2.7 s: only the two real cuts are found, each within 1.5 frames."""
    frames = shot(1, 45) + whip_pan(2, 75, 36, jump) + shot(3, 45)
    found = detect(encode(tmp_path / "whip.mp4", frames), FPS)
    cuts = [tr.time for tr in found if tr.kind == HARD_CUT]
    assert len(cuts) == 2 and len(found) == 2, found
    assert cuts == pytest.approx([1.5, 4.0], abs=1.5 / FPS)


def test_a_cut_to_a_nearly_black_frame_is_compared_without_numpy_warnings():
    """Phase correlation between a picture and a frame that is black but for a few dim pixels (the
    first frame of a repeated clip) can report a shift larger than the frame: no overlap, so no
    scene in common, and nothing to average (it warned "Mean of empty slice" on a 10-minute clip)."""
    import warnings

    from cuescore.analysis.cuts import aligned_match

    rng = np.random.default_rng(27)
    picture = cv2.resize(rng.uniform(0, 255, (9, 16, 3)).astype(np.float32), (160, 90), interpolation=cv2.INTER_CUBIC)
    black = np.zeros((90, 160, 3), np.float32)
    black[75:81] = rng.integers(0, 3, (6, 160, 1)) * (rng.random((6, 160, 1)) < 0.4)
    grey = [cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), (0, 0), 1.0) for x in (picture, black)]
    (dx, _), _ = cv2.phaseCorrelate(grey[0], grey[1], cv2.createHanningWindow((160, 90), cv2.CV_32F))
    assert abs(dx) > 160  # the case itself: a shift past the frame's edge
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert aligned_match(picture, black) == (0.0, 255.0)
