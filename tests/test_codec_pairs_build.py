"""`dataset build --codec-pairs`: the builder writes what `train codec --pairs ROOT` reads."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from cli_runner import cli
from clip_fixtures import make_tiny_clip
from cuescore.training.codec_data import PAIRS_DIR, SPEC_FILE
from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)
from musicgen_fixtures import music_dir  # noqa: F401  (fixture)
from test_dataset_build import make_music_video


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def built(tmp_path_factory, music_dir, clip_dir):
    videos = tmp_path_factory.mktemp("videos")
    make_music_video(videos / "a.mp4", ["C", "F", "G", "C"])
    make_music_video(videos / "b.mp4", ["A:min", "E:7", "A:min"])
    root = tmp_path_factory.mktemp("ds") / "ds"
    code, out, err = cli("dataset", "build", videos, "-o", root, "--density", "onsets", "--codec-pairs",
                         "--music-model", music_dir, "--codec-encoder", f"clip:{clip_dir}")
    assert code == 0, err
    return root


def test_pairs_are_written_and_recorded(built):
    (folder,) = (built / PAIRS_DIR).iterdir()
    spec = json.loads((folder / SPEC_FILE).read_text())
    assert spec["kind"] == "vidmuse" and spec["short_fps"] == 2.0
    items = json.loads((built / "manifest.json").read_text())["items"]
    assert f"{PAIRS_DIR}/{folder.name}/001.safetensors" in items["001"]["outputs"]
    with safe_open(str(folder / "001.safetensors"), "pt") as f:
        assert set(f.keys()) == {"codes", "tokens"}
        assert f.get_slice("tokens").get_shape()[0] == 8  # 4 s at 2 fps
        assert float(f.metadata()["duration"]) == pytest.approx(4.0, abs=0.1)


def test_train_codec_reads_the_built_pairs(built, music_dir, clip_dir, tmp_path):
    out = tmp_path / "ckpt"
    code, _, err = cli("train", "codec", "--pairs", built, "-o", out, "--music-model", music_dir,
                       "--encoder", f"clip:{clip_dir}", "--epochs", "1", "--batch-size", "2", "--window", "2",
                       "--device", "cpu", "--precision", "fp32")
    assert code == 0, err
    assert not (out / "cache").exists()  # nothing encoded again
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["epoch"] == 1
    code, _, err = cli("train", "codec", "--pairs", built, "-o", tmp_path / "other", "--music-model", music_dir,
                       "--encoder", f"clip:{clip_dir}", "--conditioner", "thesis", "--epochs", "1", "--device", "cpu")
    assert code == 2 and "no pairs for the thesis conditioner" in err and "it holds: vidmuse pairs" in err


def test_codec_options_go_together(tmp_path, music_dir):
    (tmp_path / "v.mp4").write_bytes(b"")  # never read: the options are refused first
    code, _, err = cli("dataset", "build", tmp_path, "-o", tmp_path / "x", "--codec-pairs")
    assert code == 2 and "--music-model" in err
    code, _, err = cli("dataset", "build", tmp_path, "-o", tmp_path / "x", "--codec-pairs", "--music-model", music_dir)
    assert code == 2 and "needs a CLIP" in err
