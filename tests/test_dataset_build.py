"""`build_dataset`: tiny music videos with known chords → a MuVi-Sync folder that the readers load."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cuescore.data.builder import BuildReport, assign_splits, build_dataset, collect_videos, split_counts, stem_id
from cuescore.data.dataset import MuViSyncDataset
from cuescore.data.muvisync import (
    CHORD_DIR,
    LOUDNESS_DIR,
    MOTION_DIR,
    NOTE_DENSITY_DIR,
    read_chord_lab,
    read_semantic,
    read_split,
    read_value_lab,
    semantic_dir,
)
from cuescore.errors import InputError, OptionError
from cuescore.music.chords import chord_from_token
from cuescore.music.plan import Key
from test_audio_labels import chord_track
from video_factory import colour_frame, make_video

AUDIO_RATE = 22050


def make_music_video(path: Path, chords: list[str], fps: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """An mp4 with `len(chords)` seconds of changing colour frames and a mono AAC track playing
    each chord for one second (`chord_track` of the audio-label tests)."""
    samples = chord_track(chords, seconds=1.0, sr=AUDIO_RATE)
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for i in range(len(chords) * fps):
            frame = av.VideoFrame.from_ndarray(colour_frame(i, *size), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        for start in range(0, len(samples), 1024):
            block = np.ascontiguousarray(samples[None, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = AUDIO_RATE, start
            out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    make_music_video(folder / "a_song.mp4", ["D", "D", "G", "G", "A", "A", "D", "D"])
    make_music_video(folder / "b song.mp4", ["A:min", "A:min", "D:min", "D:min", "E:7", "E:7", "A:min", "A:min"])
    make_video(folder / "c_silent_film.mp4", n_frames=20, fps=10)
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def built(video_folder, tmp_path_factory) -> tuple[Path, BuildReport]:
    root = tmp_path_factory.mktemp("muvisync")
    return root, build_dataset(video_folder, root, density="onsets", progress=False)


def labels_of(root: Path, vid: str) -> tuple[Key | None, list[str]]:
    lab = read_chord_lab(root / CHORD_DIR / f"{vid}.lab")
    return lab.key, [chord_from_token(int(t)).label for t in lab.tokens]


def test_build_writes_videos_with_audio_and_skips_the_silent_film(built, video_folder):
    root, report = built
    assert report.written == ["001", "002"] and report.seconds == 16
    assert report.sources == {"001": str(video_folder / "a_song.mp4"), "002": str(video_folder / "b song.mp4")}
    assert [Path(p).name for p, _ in report.skipped] == ["c_silent_film.mp4"]
    assert "no audio track" in report.skipped[0][1]
    assert report.keys == {"001": "D major", "002": "A minor"}
    assert "c_silent_film.mp4: " in report.summary() and "2 videos written" in report.summary()


def test_chords_are_normalised_to_c_major_and_a_minor(built):
    root, _ = built
    assert labels_of(root, "001") == (Key(0, "major"), ["C", "C", "F", "F", "G", "G", "C", "C"])
    minor = ["A:min", "A:min", "D:min", "D:min", "E:7", "E:7", "A:min", "A:min"]
    assert labels_of(root, "002") == (Key(9, "minor"), minor)
    sources = (root / "vevo_meta" / "sources.tsv").read_text().splitlines()
    assert sources == ["id\tsource\tkey\tseconds", "001\ta_song.mp4\tD major\t8", "002\tb song.mp4\tA minor\t8"]


def test_layout_is_readable_and_loads_for_training(built):
    root, report = built
    folder = next((root / "vevo_semantic" / "all" / "2d").iterdir()).name
    for vid in report.written:
        assert read_value_lab(root / MOTION_DIR / f"{vid}.lab").shape == (8,)
        loudness = read_value_lab(root / LOUDNESS_DIR / f"{vid}.lab")
        assert loudness.shape == (8,) and np.all((loudness > 0.01) & (loudness < 1))
        assert np.all(read_value_lab(root / NOTE_DENSITY_DIR / f"{vid}.lab") >= 1)
        assert read_semantic(root / semantic_dir(folder) / f"{vid}.npy").shape[0] == 8
    assert sorted(read_split(root, "train") + read_split(root, "val") + read_split(root, "test")) == ["001", "002"]
    item = MuViSyncDataset(root, "train", semantic=folder, max_len=16)[0]
    assert item["length"] == 8 and int(item["mode"]) in (0, 1)


def test_a_second_build_adds_numbers_and_keeps_splits(built, video_folder, tmp_path):
    root = Path(shutil.copytree(built[0], tmp_path / "root"))
    before = {s: read_split(root, s) for s in ("train", "val", "test")}
    single = tmp_path / "more"
    single.mkdir()
    (single / "again.mp4").symlink_to(video_folder / "a_song.mp4")
    again = build_dataset([single], root, density="onsets", progress=False, seed=3)
    assert again.written == ["004"] and not again.skipped  # 003 stays the failed silent film's
    after = {s: read_split(root, s) for s in ("train", "val", "test")}
    assert all(after[s][: len(before[s])] == before[s] for s in after)
    assert sum(map(len, after.values())) == 3


def test_stem_ids_and_option_errors(video_folder, tmp_path):
    assert stem_id(Path("b song (live).mp4")) == "b_song__live_" and stem_id(Path("__.mp4")) == "video"
    with pytest.raises(OptionError, match="split"):
        build_dataset(video_folder, tmp_path / "x", split=(0.5, -0.1, 0.6))
    with pytest.raises(OptionError, match="ids"):
        build_dataset(video_folder, tmp_path / "x", ids="uuid")
    with pytest.raises(InputError, match="no videos"):
        collect_videos([tmp_path])
    report = build_dataset([video_folder / "b song.mp4", tmp_path / "missing.mp4"], tmp_path / "stems",
                           ids="stem", density="onsets", progress=False)
    assert report.written == ["b_song"] and "no such file" in report.skipped[0][1]


def test_splits_are_deterministic_and_proportional():
    assert split_counts(10, (0.8, 0.1, 0.1)) == (8, 1, 1)
    assert split_counts(2, (0.8, 0.1, 0.1)) == (1, 1, 0) and split_counts(2, (1, 0, 0)) == (2, 0, 0)
    assert split_counts(7, (1, 1, 1)) == (3, 2, 2)
    ids = [f"{i:03d}" for i in range(1, 21)]
    first = assign_splits(ids, (0.8, 0.1, 0.1), seed=5)
    assert first == assign_splits(ids, (0.8, 0.1, 0.1), seed=5) != assign_splits(ids, (0.8, 0.1, 0.1), seed=6)
    assert sorted(first.values()).count("train") == 16 and list(first.values()).count("test") == 2
