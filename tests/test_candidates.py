"""`--candidates N`: N versions with seeds SEED.. SEED+N-1 from one analysis, each with its files."""

from __future__ import annotations

import json

import pytest

from cli_runner import cli
from video_factory import make_video

N = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`generate --candidates 3` on a 12 s clip, counting the analyses (the real one runs)."""
    from cuescore import candidates

    folder = tmp_path_factory.mktemp("candidates")
    clip = make_video(folder / "clip.mp4", n_frames=120, fps=10, size=(96, 64))
    calls = []
    real = candidates.analyze

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(candidates, "analyze", counted)
        code, out, err = cli("generate", clip, "-o", folder / "c.mp4", "--candidates", N, "--seed", 7,
                             "--soundfont", "bundled")
    return folder, clip, code, out, err, calls


def test_candidates_share_one_analysis_and_differ(run):
    folder, _, code, out, err, calls = run
    assert code == 0, err
    assert len(calls) == 1
    wavs, seeds = [], []
    for i in range(1, N + 1):
        for suffix in (".mp4", ".mid", ".wav", ".json"):
            assert (folder / f"c_{i}{suffix}").is_file(), (i, suffix)
        data = json.loads((folder / f"c_{i}.json").read_text())
        seeds.append(data["controls"]["seed"])
        wavs.append((folder / f"c_{i}.wav").read_bytes())
    assert seeds == [7, 8, 9]
    assert len(set(wavs)) == N  # every candidate sounds different
    assert not (folder / "c.mp4").exists()


def test_one_summary_line_per_candidate(run):
    folder, _, _, out, _, _ = run
    lines = out.strip().splitlines()
    assert len(lines) == N
    for i, line in enumerate(lines, start=1):
        data = json.loads((folder / f"c_{i}.json").read_text())
        energy = f"energy {min(data['energy']):.2f}-{max(data['energy']):.2f}"
        assert line.startswith(f"candidate {i} (seed {6 + i}): {data['key']}, ") and "BPM" in line and energy in line


@pytest.mark.parametrize("args, message", [
    (("--candidates", "1"), "--candidates 1 is not allowed; allowed: 2..16"),
    (("--candidates", "3", "--seed", str(2**32 - 2)), "pass the largest seed"),
    (("--candidates", "2", "--features", "somewhere"), "leave out --features"),
    (("--candidates", "2", "--hits", "500"), "500"),  # a hit past the end: refused before the analysis
])
def test_bad_candidate_requests_write_nothing(run, tmp_path, args, message):
    _, clip, *_ = run
    code, _, err = cli("generate", clip, "-o", tmp_path / "c.mp4", *args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []
