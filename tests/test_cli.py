"""The command line: outputs, one-line errors with exit 2, nothing written on failure."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cli_runner import cli
from clip_fixtures import make_tiny_clip
from cuescore import __version__
from video_factory import make_audio_only


def test_version_and_help_through_the_console_entry():
    done = subprocess.run([sys.executable, "-m", "cuescore", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"cuescore {__version__}"
    done = subprocess.run([sys.executable, "-m", "cuescore", "analyze", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--encoder" in done.stdout


def test_analyze_writes_features(features_dir):
    """`features_dir` is `cuescore analyze demo.mp4 -o DIR`, run once per session."""
    meta = json.loads((features_dir / "features.json").read_text())
    assert meta["T"] == 12 and len(meta["hard_cuts"]) == 4
    assert (features_dir / "features.npz").is_file()


def test_analyze_with_a_clip_model_folder(demo_clip, tmp_path):
    model = make_tiny_clip(tmp_path / "clip")
    code, _, err = cli("analyze", demo_clip.path, "-o", tmp_path / "f", "--encoder", f"clip:{model}", "--device", "cpu")
    assert code == 0, err
    meta = json.loads((tmp_path / "f" / "features.json").read_text())
    assert meta["encoder"]["name"] == "clip" and meta["encoder"]["dim"] == 16


@pytest.mark.parametrize(
    "make_args",
    [
        lambda d, clip: ["analyze", d / "missing.mp4", "-o", d / "out"],
        lambda d, clip: ["analyze", make_audio_only(d / "sound.mp4"), "-o", d / "out"],
        lambda d, clip: ["analyze", clip, "-o", d / "out", "--fps", "-3"],
        lambda d, clip: ["analyze", clip, "-o", d / "out", "--encoder", "nope"],
        lambda d, clip: ["analyze", clip, "-o", d / "out", "--encoder", f"clip:{d / 'no_model'}"],
        lambda d, clip: ["analyze", clip, "-o", d / "out", "--device", "tpu"],
        lambda d, clip: ["analyze", clip, "--fps", "fast"],
    ],
)
def test_bad_input_and_options_exit_2_with_one_line(demo_clip, tmp_path, make_args):
    work = tmp_path / "work"
    work.mkdir()
    before = set(work.iterdir())
    code, _, err = cli(*make_args(work, demo_clip.path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err
    assert not (work / "out").exists()
    assert set(work.iterdir()) - before <= {work / "sound.mp4"}



def test_dataset_build_through_the_cli(demo_clip, tmp_path):
    code, out, err = cli("dataset", "build", demo_clip.path, "-o", tmp_path / "ds", "--density", "onsets")
    assert code == 0, err
    assert (tmp_path / "ds" / "vevo_chord" / "lab_v2_norm" / "all" / "001.lab").is_file()
    splits = [(tmp_path / "ds" / "vevo_meta" / "split" / "v1" / f"{s}.txt").read_text().split() for s in ("train", "val", "test")]
    assert sum(splits, []) == ["001"]


def test_dataset_build_with_only_silent_videos_exits_2(tmp_path):
    code, _, err = cli("dataset", "build", make_audio_only(tmp_path / "a.mp4"), "-o", tmp_path / "ds")
    assert code == 2 and "error" in err.strip().splitlines()[-1]


def test_dataset_build_with_a_clip_model_folder(demo_clip, tmp_path):
    model = make_tiny_clip(tmp_path / "clip")
    args = ["dataset", "build", demo_clip.path, "-o", tmp_path / "ds", "--density", "onsets",
            "--encoder", f"clip:{model}", "--device", "cpu"]
    code, _, err = cli(*args)
    assert code == 0, err
    semantic = list((tmp_path / "ds" / "vevo_semantic" / "all" / "2d").iterdir())
    assert len(semantic) == 1 and semantic[0].name.startswith("clip")
    assert np.load(semantic[0] / "001.npy").shape == (12, 16)


def test_sigterm_while_the_outputs_are_written_leaves_no_file(demo_clip, features_dir, tmp_path):
    """SIGTERM unwinds like Ctrl-C: exit 143 and the outputs' temporary files removed (the
    default action ended the process at once and left five hidden .part files)."""
    import signal
    import time

    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "cuescore", "generate", str(demo_clip.path), "--features",
                             str(features_dir), "--stems", "-o", str(out / "x.mp4")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(path.name.startswith(".x.") for path in out.iterdir()):  # writing has begun
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "cuescore: terminated" in err, err
    assert list(out.iterdir()) == []
