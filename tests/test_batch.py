"""Batch scoring: `cuescore generate VIDEO... --out-dir DIR` scores many videos, resumably, one failure aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import cli
from cuescore.batch import score_batch
from cuescore.errors import OptionError
from video_factory import make_video


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("catalogue")
    make_video(folder / "opening.mp4", n_frames=40, fps=20)
    sub = folder / "more"
    sub.mkdir()
    make_video(sub / "opening.mp4", n_frames=30, fps=15)  # same stem: gets id opening-2
    (folder / "damaged.mp4").write_bytes(b"\x00" * 64)
    (folder / "list.txt").write_text("more/opening.mp4\n")
    return folder


def test_batch_scores_each_video_and_records_the_failure(library, tmp_path):
    out = tmp_path / "scored"
    code, stdout, err = cli("generate", library, library / "list.txt", "--out-dir", out, "--workers", "2")
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    assert names == ["manifest.json", *sorted(f"{stem}_scored{ext}" for stem in ("opening", "opening-2")
                                             for ext in (".json", ".mid", ".mp4", ".wav"))]
    items = json.loads((out / "manifest.json").read_text())["items"]
    assert items["damaged"]["status"] == "failed" and "not a media file" in items["damaged"]["reason"]
    assert items["opening-2"]["source"] == str(library / "opening.mp4")  # sorted by name, then path
    assert "damaged" in stdout and "2 of 3 videos scored, 1 failed" in stdout
    assert list((out / "logs").glob("worker-*.log")) and (out / "logs" / "batch.log").is_file()

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*_scored.*")}
    again = score_batch([library, library / "list.txt"], out, progress=False)
    assert [r.status for r in again.rows] == ["failed", "done before", "done before"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*_scored.*")} == before
    with pytest.raises(OptionError, match="other settings"):
        score_batch([library], out, engine="amt", progress=False)


def test_batch_exit_status_and_option_errors(library, tmp_path):
    code, _, err = cli("generate", library / "damaged.mp4", "--out-dir", tmp_path / "none")
    assert code == 2 and "no video was scored" in err
    code, _, err = cli("generate", library / "opening.mp4", "--workers", "2")
    assert code == 2 and "--workers applies to batch scoring" in err
    code, _, err = cli("generate", library / "opening.mp4", library / "damaged.mp4")
    assert code == 2 and "--out-dir" in err


def test_batch_on_ray_matches_the_local_outputs(library, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'cuescore[scale]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = score_batch([library / "opening.mp4", library / "damaged.mp4"], tmp_path / "ray", backend="ray",
                             workers=2, progress=False)
    finally:
        ray.shutdown()
    assert [r.status for r in report.rows] == ["failed", "ok"]
    local = score_batch([library / "opening.mp4"], tmp_path / "local", progress=False)
    assert local.rows[0].status == "ok"
    for ext in (".mid", ".wav"):  # same music, wherever it was made
        assert (tmp_path / "ray" / f"opening_scored{ext}").read_bytes() == \
            (tmp_path / "local" / f"opening_scored{ext}").read_bytes()
