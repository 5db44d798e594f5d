"""Media I/O: probing, streaming decode across formats, VFR and rotation, bad input, muxing."""

from __future__ import annotations

import av
import numpy as np
import pytest

from cuescore.errors import InputError, OutputError
from cuescore.media import Audio, iter_frames, mux, probe, read_audio_track
from video_factory import make_audio_only, make_video


def test_probe_demo_clip(demo_clip):
    info = probe(demo_clip.path)
    assert info.duration == pytest.approx(12.0, abs=1e-6)
    assert info.fps == pytest.approx(30.0)
    assert (info.width, info.height) == (640, 360)
    assert info.has_audio and info.n_frames == 360 and info.codec == "h264"


@pytest.mark.parametrize(
    "codec,suffix",
    [("libx264", ".mp4"), ("libvpx", ".webm"), ("libx264", ".mkv"), ("libx264", ".mov"), ("mpeg4", ".avi")],
)
def test_every_container_decodes_every_frame(tmp_path, codec, suffix):
    path = make_video(tmp_path / f"clip{suffix}", codec=codec, n_frames=20, fps=10)
    frames = list(iter_frames(path))
    assert len(frames) == 20
    assert [round(f.time, 3) for f in frames] == [round(i / 10, 3) for i in range(20)]
    assert frames[0].image.shape == (64, 96, 3) and frames[0].image.dtype == np.uint8


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    times = [0.0, 0.033, 0.2, 0.25, 0.9, 1.0, 1.5, 2.75]
    path = make_video(tmp_path / "vfr.mp4", times=times, n_frames=len(times))
    got = [f.time for f in iter_frames(path)]
    assert got == pytest.approx(times, abs=1e-3)


def test_rotated_video_reports_and_yields_display_orientation(tmp_path):
    path = make_video(tmp_path / "rot.mp4", size=(96, 64), rotation=90, n_frames=5)
    info = probe(path)
    assert info.rotation == 90
    assert (info.width, info.height) == (64, 96)
    assert (info.coded_width, info.coded_height) == (96, 64)
    frame = next(iter_frames(path))
    assert frame.image.shape == (96, 64, 3)
    assert next(iter_frames(path, max_side=48)).image.shape == (48, 32, 3)


def test_sampled_decode_takes_the_frame_at_each_second(demo_clip):
    frames = list(iter_frames(demo_clip.path, fps=1, max_side=160))
    assert [f.time for f in frames] == pytest.approx(list(range(12)), abs=1e-6)
    assert frames[0].image.shape == (90, 160, 3)


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    image = tmp_path / "picture.mp4"
    import cv2

    ok, png = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))
    image.write_bytes(png.tobytes())
    good = make_video(tmp_path / "good.mp4", n_frames=60)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    audio_only = make_audio_only(tmp_path / "audio.mp4")
    frameless = tmp_path / "frameless.mp4"
    with av.open(str(frameless), mode="w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    return {
        "missing": tmp_path / "nope.mp4", "empty": empty, "text": text, "image": image,
        "truncated": truncated, "audio_only": audio_only, "frameless": frameless, "folder": tmp_path,
    }


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "image", "truncated", "audio_only", "frameless", "folder"])
def test_bad_input_is_a_one_line_input_error(tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    for read in (probe, lambda p: list(iter_frames(p))):
        if kind == "image" and read is not probe:
            continue  # FFmpeg decodes a still image as one frame; only probe refuses it
        with pytest.raises(InputError) as err:
            read(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message


def _video_packets(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(bytes(p), float(p.pts * p.time_base), p.is_keyframe) for p in c.demux(v) if p.size > 0]


def test_mux_copies_video_packets_and_fits_audio_to_the_video(demo_clip, tmp_path):
    rng = np.random.default_rng(0)
    audio = Audio(rng.uniform(-0.2, 0.2, (2, 44100 * 5)).astype(np.float32), 44100)  # shorter than the video
    out = mux(demo_clip.path, audio, tmp_path / "out.mp4")
    assert _video_packets(out) == _video_packets(demo_clip.path)
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        assert float(a.duration * a.time_base) == pytest.approx(12.0, abs=1 / 30)
    track = read_audio_track(out)
    assert track.duration == pytest.approx(12.0, abs=1 / 30)
    assert np.abs(track.samples[:, 44100 * 6 :]).max() < 1e-3  # padded with silence after the 5 s of noise
    assert list(tmp_path.iterdir()) == [out]


def test_mux_keeps_original_audio_under_the_new_track(demo_clip, tmp_path):
    silence = Audio(np.zeros((2, 44100 * 12), np.float32), 44100)
    plain = read_audio_track(mux(demo_clip.path, silence, tmp_path / "plain.mp4"))
    mixed = read_audio_track(mux(demo_clip.path, silence, tmp_path / "mixed.mp4", original_gain=0.5))
    assert np.sqrt((plain.samples ** 2).mean()) < 1e-3
    assert np.sqrt((mixed.samples ** 2).mean()) == pytest.approx(0.5 * 0.2 / np.sqrt(2), rel=0.15)


def test_mux_to_webm_uses_opus(tmp_path):
    src = make_video(tmp_path / "in.webm", codec="libvpx", n_frames=30, fps=30)
    out = mux(src, Audio(np.zeros((2, 44100), np.float32), 44100), tmp_path / "out.webm")
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "opus"
    assert _video_packets(out) == _video_packets(src)


def test_mux_failures_leave_nothing(demo_clip, tmp_path):
    audio = Audio(np.zeros((2, 1000), np.float32), 44100)
    with pytest.raises(OutputError):
        mux(demo_clip.path, audio, tmp_path / "out.xyz")
    with pytest.raises(OutputError):
        mux(demo_clip.path, audio, tmp_path / "missing_dir" / "out.mp4")
    vp8 = make_video(tmp_path / "in.webm", codec="libvpx", n_frames=10)
    with pytest.raises(OutputError):
        mux(vp8, audio, tmp_path / "vp8.mov")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.webm"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_mux_keeps_the_first_keyframe_of_a_matroska_source(tmp_path, suffix):
    """Matroska gives the first packets of a B-frame stream no DTS; they must be copied too."""
    src = make_video(tmp_path / "in.mkv", n_frames=40)
    with av.open(str(src)) as c:
        assert any(p.dts is None and p.size for p in c.demux(video=0))
    out = mux(src, Audio(np.zeros((2, 44100), np.float32), 44100), tmp_path / f"out{suffix}")
    assert [p[0] for p in _video_packets(out)] == [p[0] for p in _video_packets(src)]
    assert len(list(iter_frames(out))) == 40
    assert probe(out).duration == pytest.approx(probe(src).duration, abs=1 / 30)


def test_duration_is_the_video_streams_even_when_the_audio_runs_longer(tmp_path):
    path = tmp_path / "long_audio.mkv"
    with av.open(str(path), mode="w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("aac", rate=44100, layout="stereo")
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 4, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        for start in range(0, 44100 * 6, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 44100, start
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    assert probe(path).duration == pytest.approx(2.0, abs=1 / 30)
