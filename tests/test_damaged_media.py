"""Damaged but readable video: corrupted packets and cut-off files are decoded past, with one
warning naming the damaged times; a file with nothing decodable is an input error."""

from __future__ import annotations

import re
import warnings

import av
import numpy as np
import pytest

from cuescore.errors import InputError
from cuescore.media import iter_frames, probe, render_demo_clip
from cuescore.media.decode import DamagedMediaWarning

RANGE = re.compile(r"\d+\.\d(-\d+\.\d)? s")


def _faststart(src, dst) -> None:
    """`src` remuxed with its index first, as cameras and web encoders write MP4 (a cut-off copy stays readable)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


def _variants(source, folder) -> dict[str, object]:
    """Five damaged copies of `source`: noise and zeros over packet data, a garbled keyframe,
    scattered noise, and the file cut off at 60 %."""
    with av.open(str(source)) as c:
        packets = [(p.pos, p.size, p.is_keyframe) for p in c.demux(video=0) if p.size]
    data = source.read_bytes()
    rng = np.random.default_rng(0)
    mid = packets[len(packets) // 2][0]
    keyframe = [p for p in packets if p[2]][1 if sum(p[2] for p in packets) > 1 else 0]

    def damaged(name, spans):
        out = bytearray(data)
        for start, length, fill in spans:
            out[start:start + length] = fill(length)
        path = folder / f"{name}{source.suffix}"
        path.write_bytes(bytes(out))
        return path

    noise = lambda k: rng.integers(0, 256, k, dtype=np.uint8).tobytes()  # noqa: E731
    variants = {
        "noise": damaged("noise", [(mid, 2000, noise)]),
        "zeros": damaged("zeros", [(packets[len(packets) // 3][0], 4000, bytes)]),
        "keyframe": damaged("keyframe", [(keyframe[0] + 10, keyframe[1] - 10, noise)]),
        "scattered": damaged("scattered", [(int(len(data) * f), 300, noise) for f in (0.2, 0.4, 0.6, 0.8)]),
    }
    fast = folder / f"fast{source.suffix}"
    _faststart(source, fast)
    cut = folder / f"truncated{source.suffix}"
    cut.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    variants["truncated"] = cut
    return variants


def _decode(path) -> tuple[int, float, list[str]]:
    """(frames, last frame time, warning messages) of a full decode."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times = [f.time for f in iter_frames(path, max_side=64)]
    return len(times), times[-1], [str(w.message) for w in caught if issubclass(w.category, DamagedMediaWarning)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return render_demo_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", fps=10, size=(160, 96))


def test_damaged_variants_decode_to_the_end_with_a_warning_naming_the_times(clip, tmp_path):
    variants = _variants(clip.path, tmp_path)
    for name, path in variants.items():
        frames, last, messages = _decode(path)
        assert len(messages) <= 1, (name, messages)
        if name == "truncated":
            assert 0.4 * clip.duration < last < 0.8 * clip.duration
            assert messages and "breaks off after" in messages[0], messages
        else:  # corrupted packets: skipped (not a failure), the decode goes on to the end
            assert frames >= 0.9 * clip.n_frames and last >= clip.duration - 0.2, (name, frames, last)
        if messages:
            assert str(path) in messages[0] and RANGE.search(messages[0]), messages
    assert sum(bool(_decode(p)[2]) for p in variants.values()) >= 3  # most damage is named, not silent


def test_a_video_with_no_decodable_frame_is_an_input_error(clip, tmp_path):
    with av.open(str(clip.path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(clip.path.read_bytes())
    for pos, size in packets:
        data[pos:pos + size] = bytes(size)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(InputError, match="broken.mp4: .*(no decodable frames|cannot be decoded)"):
        _decode(broken)


def test_generate_scores_a_damaged_video_with_a_warning(clip, tmp_path):
    from cli_runner import cli

    damaged = _variants(clip.path, tmp_path)["zeros"]
    code, _, err = cli("generate", damaged, "-o", tmp_path / "out.mp4")
    assert code == 0, err
    assert "cuescore: warning:" in err and RANGE.search(err)
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_a_truncated_video_is_scored_up_to_where_it_breaks_off(clip, tmp_path):
    import json

    from cli_runner import cli

    truncated = _variants(clip.path, tmp_path)["truncated"]
    frames, last, _ = _decode(truncated)
    assert probe(truncated).duration > last + 1.0  # the header still promises the whole clip
    code, _, err = cli("generate", truncated, "-o", tmp_path / "out.mp4")
    assert code == 0, err
    assert "cuescore: warning:" in err and "breaks off after" in err
    scored = json.loads((tmp_path / "out.json").read_text())["duration"]
    assert scored == pytest.approx(last, abs=0.5) and scored < 0.8 * clip.duration
    with av.open(str(tmp_path / "out.mp4")) as out:
        sound = out.streams.audio[0]
        assert float(sound.duration * sound.time_base) == pytest.approx(scored, abs=0.1)


@pytest.mark.realmedia
def test_damaged_copies_of_the_shared_test_video_decode_with_warnings(shared_media, tmp_path):
    source = tmp_path / "testvideo.mp4"
    source.write_bytes((shared_media / "video" / "testvideo.mp4").read_bytes())
    for name, path in _variants(source, tmp_path).items():
        frames, last, messages = _decode(path)
        assert frames > 0 and len(messages) <= 1, (name, messages)
        if messages:
            assert RANGE.search(messages[0]), messages


def test_the_features_of_a_truncated_video_score_it_and_fit_no_other(clip, tmp_path):
    import json

    from cli_runner import cli

    from cuescore.analysis import VideoFeatures

    truncated = _variants(clip.path, tmp_path)["truncated"]
    code, _, err = cli("analyze", truncated, "-o", tmp_path / "features")
    assert code == 0, err
    analysed = VideoFeatures.load(tmp_path / "features").duration
    assert analysed < probe(truncated).duration - 1.0  # cut to what decodes, shorter than the header says
    code, _, err = cli("generate", "--features", tmp_path / "features", truncated, "-o", tmp_path / "out.mp4")
    assert code == 0, err
    assert json.loads((tmp_path / "out.json").read_text())["duration"] == pytest.approx(analysed)
    with av.open(str(tmp_path / "out.mp4")) as out:
        sound = out.streams.audio[0]
        assert float(sound.duration * sound.time_base) == pytest.approx(analysed, abs=0.1)
    code, _, err = cli("generate", "--features", tmp_path / "features", clip.path, "-o", tmp_path / "whole.mp4")
    assert code == 2 and "features describe" in err  # the whole clip is longer: not its features


def _truncated_times(source, folder) -> tuple[list[float], list[float]]:
    from cuescore.media.decode import iter_decoded

    cut = _variants(source, folder)["truncated"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedMediaWarning)
        return ([t for t, _ in iter_decoded(cut, threads=True)], [t for t, _ in iter_decoded(cut, threads=False)])


def test_a_truncated_video_decodes_the_same_frames_with_and_without_frame_threads(clip, tmp_path):
    threaded, single = _truncated_times(clip.path, tmp_path)
    assert threaded == single and len(single) > 20

