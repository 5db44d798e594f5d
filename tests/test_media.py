"""Media I/O: probing, streaming decode across formats, VFR and rotation, bad input, muxing."""

from __future__ import annotations

import tracemalloc

import av
import numpy as np
import pytest
import soxr

from cuescore.errors import InputError, OutputError
from cuescore.media import Audio, iter_frames, mux, probe, read_audio_track, write_wav
from cuescore.media.mux import mix_original
from cuescore.media.track import ArrayTrack, Mapped, Silence, resampled, with_channels
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
    tone = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)[None] * 0.5  # mono, 44.1 kHz
    out = mux(src, Audio(tone, 44100), tmp_path / "out.webm")
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "opus" and c.streams.audio[0].rate == 48000
    assert _video_packets(out) == _video_packets(src)
    sound = read_audio_track(out, 48000).samples[:, 4800:43200]  # stereo, resampled to 48 kHz on the way
    spectrum = np.abs(np.fft.rfft(sound[0]))
    assert np.argmax(spectrum) * 48000 / sound.shape[1] == pytest.approx(440, abs=2)
    assert np.sqrt((sound ** 2).mean()) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


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


def _mixed_for_the_muxer(music, rate, source, gain, start_time=0.0):
    """What `mux` encodes for `music` [C, N] at `rate` with `source`'s audio under it: stereo at
    48 kHz (Opus's rate), resampled and mixed a block at a time."""
    return mix_original(resampled(with_channels(ArrayTrack(music, rate), 2), 48000), source, gain, start_time)


def test_the_streamed_opus_soundtrack_with_the_original_under_it_equals_the_one_made_in_memory(demo_clip):
    music = np.random.default_rng(1).uniform(-0.95, 0.95, (1, 44100 * 12 + 7)).astype(np.float32)
    start = probe(demo_clip.path).start_time
    track = _mixed_for_the_muxer(music, 44100, demo_clip.path, 0.9, start)
    streamed = np.concatenate([block for _, block in track.blocks(size=5000)], axis=1)

    whole = soxr.resample(np.repeat(music, 2, axis=0).T, 44100, 48000).T
    original = read_audio_track(demo_clip.path, 48000, 2, align_to=start).fit_length(whole.shape[1]).samples
    mixed = whole + np.float32(0.9) * original
    peak = float(np.abs(mixed).max())
    assert peak > 0.999  # the peak scaling is exercised
    assert streamed.shape == mixed.shape
    assert np.abs(streamed - mixed * np.float32(0.999 / peak)).max() <= 1e-6


def test_streamed_mixing_and_resampling_take_memory_independent_of_duration(tmp_path):
    def peak_bytes(minutes):
        n = int(minutes * 60 * 44100)
        source = tmp_path / f"original_{minutes}.wav"
        write_wav(Mapped(Silence(2, n, 44100), lambda b: b + np.float32(0.25)), source)
        tracemalloc.start()
        music = Mapped(Silence(2, n, 44100), lambda b: b + np.float32(0.1))
        for _ in mix_original(resampled(music, 48000), source, 0.5).blocks():
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    short, long = peak_bytes(0.5), peak_bytes(2)
    assert long < 1.3 * short + (1 << 20), (short, long)  # an in-memory mix of 2 min would need 90 MB more
