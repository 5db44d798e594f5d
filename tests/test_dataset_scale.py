"""`dataset build` at scale: resumable, on several workers, on Ray, in shards; then trained on as built."""

from __future__ import annotations

import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import cli
from cuescore.data.builder import build_dataset
from cuescore.engines import get_engine
from cuescore.jobs import JOURNAL_FILE, LOG_DIR, Manifest
from test_dataset_build import make_music_video

SONGS = {
    "a.mp4": ["C", "C", "F", "G"],
    "b.mp4": ["A:min", "D:min", "E:7", "A:min"],
    "c.mp4": ["G", "C", "D", "G"],
    "d.mp4": ["D:min", "G", "C", "C"],
    "e.mp4": ["F", "F", "C", "G"],
}
OPTIONS = {"density": "onsets", "progress": False}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root except the logs and the lock, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and LOG_DIR not in p.relative_to(root).parts and p.name != ".manifest.lock"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("library")
    for name, chords in SONGS.items():
        make_music_video(folder / name, chords)
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    return folder


@pytest.fixture(scope="module")
def reference(videos, tmp_path_factory) -> Path:
    """One uninterrupted build on one worker."""
    root = tmp_path_factory.mktemp("reference") / "ds"
    report = build_dataset(videos, root, **OPTIONS)
    assert report.complete and len(report.written) == 5 and [Path(p).name for p, _ in report.skipped] == ["broken.mp4"]
    return root


def test_reference_build_records_every_video(reference, videos):
    manifest = json.loads((reference / "manifest.json").read_text())
    items = manifest["items"]
    # ids by sorted position: a b broken c d e
    assert sorted(items) == ["001", "002", "003", "004", "005", "006"]
    assert items["003"]["status"] == "failed" and items["003"]["source"] == str(videos / "broken.mp4")
    assert "reason" in items["003"] and all(items[v]["status"] == "ok" for v in ("001", "002", "004", "005", "006"))
    assert items["001"]["outputs"]["vevo_chord/lab_v2_norm/all/001.lab"]["bytes"] > 0
    assert not (reference / JOURNAL_FILE).exists()
    assert (reference / LOG_DIR / "build.log").read_text().count(" ok: ") == 5
    splits = {s: (reference / f"vevo_meta/split/v1/{s}.txt").read_text().split() for s in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == ["001", "002", "004", "005", "006"] and len(splits["val"]) == 1
    again = build_dataset(videos, reference, **OPTIONS)  # everything complete: nothing redone
    assert sorted(again.reused) == sorted(again.written) and len(again.written) == 5


def test_two_workers_build_the_same_dataset(reference, videos, tmp_path):
    build_dataset(videos, tmp_path / "ds", workers=2, **OPTIONS)
    assert tree(tmp_path / "ds") == tree(reference)


def test_a_killed_build_resumes_to_the_same_dataset(reference, videos, tmp_path):
    root = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "cuescore", "dataset", "build", str(videos), "-o", str(root),
                             "--density", "onsets"], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    journal = root / JOURNAL_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and '"ok"' in journal.read_text():
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = Manifest.load(root, "dataset").items
    assert 1 <= sum(e["status"] == "ok" for e in done.values()) < 5, "the build was not cut short"
    assert not (root / "vevo_meta/split/v1/train.txt").exists()  # splits wait for the whole build
    report = build_dataset(videos, root, **OPTIONS)
    assert report.complete and report.reused and len(report.written) == 5
    assert tree(root) == tree(reference)


def test_two_shards_merged_equal_one_build(reference, videos, tmp_path):
    first = build_dataset(videos, tmp_path / "s1", shard="1/2", **OPTIONS)
    second = build_dataset(videos, tmp_path / "s2", shard="2/2", **OPTIONS)
    assert first.written == ["001", "005"] and second.written == ["002", "004", "006"]  # 003: broken
    code, out, err = cli("dataset", "merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "merged")
    assert code == 0, err
    assert "5 videos from 2 shard(s)" in out and "broken.mp4" in out
    assert tree(tmp_path / "merged") == tree(reference)


def test_ray_backend_builds_the_same_dataset(reference, videos, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'cuescore[scale]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}})
    try:
        build_dataset(videos, tmp_path / "ds", backend="ray", workers=2, **OPTIONS)
    finally:
        ray.shutdown()
    assert tree(tmp_path / "ds") == tree(reference)


def test_exit_status_and_option_errors(videos, tmp_path):
    code, out, err = cli("dataset", "build", videos / "broken.mp4", "-o", tmp_path / "none", "--density", "onsets")
    assert code == 2 and "no video was added" in err and "broken.mp4" in out
    assert json.loads((tmp_path / "none/manifest.json").read_text())["items"]["001"]["status"] == "failed"
    code, _, err = cli("dataset", "build", videos, "-o", tmp_path / "x", "--shard", "3/2")
    assert code == 2 and "K/N" in err
    code, _, err = cli("dataset", "build", videos, "-o", tmp_path / "x", "--address", "ray://h:1")
    assert code == 2 and "--backend ray" in err
    code, _, err = cli("dataset", "merge", tmp_path / "nothing", "-o", tmp_path / "m")
    assert code == 2 and "no manifest.json" in err


def test_train_amt_on_a_handcrafted_build_needs_no_flags(reference, tmp_path):
    ckpt = tmp_path / "amt"
    code, _, err = cli("train", "amt", "--data", reference, "-o", ckpt, "--epochs", "1", "--size", "debug",
                       "--batch-size", "2", "--max-len", "8", "--device", "cpu")
    assert code == 0, err
    features = json.loads((ckpt / "config.json").read_text())["features"]
    (folder,) = [p.name for p in (reference / "vevo_semantic/all/2d").iterdir()]
    assert features["semantic_folder"] == folder and features["semantic_encoder"]["name"] == "handcrafted"
    assert get_engine("amt", checkpoint=str(ckpt)).analysis_needs().encoder == "handcrafted"  # what generate uses
    code, out, err = cli("evaluate", "amt", "--data", reference, "--checkpoint", ckpt, "--split", "val",
                         "--device", "cpu")
    assert code == 0, err
    assert "hits" in out.lower()


def test_force_redoes_every_video_to_the_same_files(reference, videos, tmp_path):
    root = Path(shutil.copytree(reference, tmp_path / "ds"))
    (root / "vevo_motion/all/002.lab").write_text("0 1.0\n")  # a damaged output: its size no longer matches
    again = build_dataset(videos, root, **OPTIONS)
    assert sorted(set(again.written) - set(again.reused)) == ["002"]
    assert tree(root) == tree(reference)  # redone, it keeps its split
    forced = build_dataset(videos, root, force=True, **OPTIONS)
    assert forced.reused == [] and len(forced.written) == 5
    assert tree(root) == tree(reference)
