"""Frames at chosen times by seeking: VidMuse's short-term (2 fps window) and long-term (spread) streams."""

from __future__ import annotations

import numpy as np
import pytest

from cuescore.errors import InputError
from cuescore.media import iter_frames
from cuescore.media.frames import frames_at, spread_frames, window_frames
from video_factory import make_audio_only, make_video


@pytest.fixture(scope="module")
def keyframed(tmp_path_factory):
    """A 30 s clip at 10 fps with a keyframe every 10 frames, and every frame at 224x224 decoded in order."""
    path = make_video(tmp_path_factory.mktemp("frames") / "clip.mp4", n_frames=300, fps=10, gop=10, size=(160, 96))
    return path, np.stack([f.image for f in iter_frames(path, size=(224, 224))])


def test_frames_at_gives_the_frame_on_screen_by_seeking(keyframed):
    path, every = keyframed
    times = [25.04, 0.0, 0.06, 3.1, 12.95, 29.9, 40.0]
    got = frames_at(path, times)
    assert got.shape == (7, 224, 224, 3) and got.dtype == np.uint8
    for image, t in zip(got, times):
        np.testing.assert_array_equal(image, every[min(299, int(round(t * 10, 6)))])


def test_window_frames_are_two_per_second_of_the_window(keyframed):
    path, every = keyframed
    window = window_frames(path, 20.5, 30.0)
    assert window.shape == (19, 224, 224, 3)
    np.testing.assert_array_equal(window, every[205:300:5])
    assert window_frames(path, 0.0, 30.0).shape[0] == 60


def test_spread_frames_run_from_first_to_last(keyframed):
    path, every = keyframed
    spread = spread_frames(path, 32, 30.0)
    assert spread.shape == (32, 224, 224, 3)
    np.testing.assert_array_equal(spread[0], every[0])
    np.testing.assert_array_equal(spread[-1], every[-1])


def test_rotated_video_is_squashed_in_display_orientation(tmp_path):
    path = make_video(tmp_path / "rot.mp4", size=(96, 64), rotation=90, n_frames=5)
    expected = next(iter_frames(path, size=(224, 224))).image
    np.testing.assert_array_equal(frames_at(path, [0.0])[0], expected)


def test_no_video_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="video track"):
        frames_at(make_audio_only(tmp_path / "sound.mp4"), [0.0])
