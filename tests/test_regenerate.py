"""Result files: `--from-plan` reproduces the WAV bit for bit; `regenerate` rewrites a range,
widened to bar lines, keeping every note outside it; bad ranges and foreign JSON are errors."""

from __future__ import annotations

import hashlib
import json

import pytest

from cli_runner import cli
from cuescore.errors import InputError
from cuescore.result_file import load_result
from video_factory import make_video


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """`generate` of a 16 s clip: (folder, clip, OUT.json)."""
    folder = tmp_path_factory.mktemp("regen")
    clip = make_video(folder / "clip.mp4", n_frames=160, fps=10, size=(96, 64))
    code, _, err = cli("generate", clip, "-o", folder / "a.mp4", "--soundfont", "bundled", "--seed", 4)
    assert code == 0, err
    return folder, clip, folder / "a.json"


@pytest.fixture(scope="module")
def regenerated(original):
    folder, _, result = original
    before = _digests(folder)
    code, out, err = cli("regenerate", result, "--from", 5, "--to", 9)
    assert code == 0, err
    return before, out, err, json.loads((folder / "a_regen.json").read_text())


def test_load_result_gives_what_made_the_result(original):
    folder, clip, result = original
    loaded = load_result(result)
    assert loaded.video == clip and loaded.engine == "affective" and loaded.controls.seed == 4
    assert loaded.plan is not None and loaded.score is not None and loaded.soundfont is not None
    assert loaded.score.tracks and loaded.fingerprint["size"] == clip.stat().st_size
    assert loaded.check_video() == clip


def test_from_plan_reproduces_the_wav_bit_for_bit(original, tmp_path):
    folder, clip, result = original
    code, _, err = cli("generate", clip, "--from-plan", result, "-o", tmp_path / "again.mp4")
    assert code == 0, err
    assert (tmp_path / "again.wav").read_bytes() == (folder / "a.wav").read_bytes()
    assert (tmp_path / "again.mid").read_bytes() == (folder / "a.mid").read_bytes()


def test_regenerate_keeps_every_note_outside_the_widened_range(original, regenerated):
    folder, _, result = original
    _, out, err, new = regenerated
    old = json.loads(result.read_text())
    a, b = new["regenerated"]["start"], new["regenerated"]["end"]
    assert a in old["downbeats"] and b in old["downbeats"] and a <= 5 < 9 <= b
    assert f"regenerated {a:.2f}-{b:.2f} s (asked 5-9 s, widened to bar lines) with seed 5" in out
    assert new["regenerated"]["seed"] == 5 and new["controls"]["seed"] == 5
    changed = 0
    for was, now in zip(old["score"]["tracks"], new["score"]["tracks"]):
        assert was["name"] == now["name"]
        outside = [n for n in was["notes"] if n[2] <= a or n[1] >= b]
        assert outside and all(n in now["notes"] for n in outside), was["name"]
        assert all(n[1] < a or n[1] >= b or n[2] <= b for n in now["notes"])  # nothing new rings past b
        inside = ([n for n in was["notes"] if a <= n[1] < b], [n for n in now["notes"] if a <= n[1] < b])
        changed += inside[0] != inside[1]
    assert changed >= 3
    assert [c for c in new["chords"] if c["end"] <= a] == [c for c in old["chords"] if c["end"] <= a]


def test_regenerate_writes_new_outputs_and_leaves_the_originals(original, regenerated):
    folder, _, _ = original
    before, *_ = regenerated
    after = _digests(folder)
    assert all(after[name] == digest for name, digest in before.items())
    assert {f"a_regen{s}" for s in (".mp4", ".mid", ".wav", ".json")} <= set(after)


def test_a_regenerated_result_reproduces_too(original, regenerated, tmp_path):
    folder, clip, _ = original
    code, _, err = cli("generate", clip, "--from-plan", folder / "a_regen.json", "-o", tmp_path / "r.mp4")
    assert code == 0, err
    assert (tmp_path / "r.wav").read_bytes() == (folder / "a_regen.wav").read_bytes()


@pytest.mark.parametrize("args, message", [
    (("--from", "9", "--to", "5"), "--from 9 must be below --to 5"),
    (("--from", "5", "--to", "5"), "--from 5 must be below --to 5"),
    (("--from", "5", "--to", "400"), "the range 5..400 s lies outside the video; allowed: 0..16 s"),
    (("--from", "-1", "--to", "4"), "lies outside the video"),
    (("--from", "2", "--to", "4", "--instruments", "piano"), "a range keeps the recorded parts"),
    (("--from", "2", "--to", "4", "--tempo", "90"), "these controls change the beat grid"),
])
def test_bad_ranges_and_controls_are_one_line_and_write_nothing(original, tmp_path, args, message):
    _, _, result = original
    code, _, err = cli("regenerate", result, *args, "-o", tmp_path / "x.mp4")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_foreign_json_and_other_videos_are_refused(original, tmp_path):
    folder, clip, result = original
    other = make_video(tmp_path / "other.mp4", n_frames=90, fps=10, size=(96, 64))
    (tmp_path / "plain.json").write_text(json.dumps({"duration": 3.0}))
    (tmp_path / "broken.json").write_text("{not json")
    moved = json.loads(result.read_text())
    moved["video"] = str(other)
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    moved["video"] = str(tmp_path / "gone.mp4")
    (tmp_path / "gone.json").write_text(json.dumps(moved))
    out = tmp_path / "out"
    out.mkdir()
    for args, message in [
        (("regenerate", tmp_path / "plain.json", "--from", "1", "--to", "2"), "not a cuescore result"),
        (("regenerate", tmp_path / "broken.json", "--from", "1", "--to", "2"), "not a cuescore result"),
        (("regenerate", tmp_path / "moved.json", "--from", "1", "--to", "2"), "belongs to another video"),
        (("regenerate", tmp_path / "gone.json", "--from", "1", "--to", "2"), "gone.mp4: the video of gone.json is missing"),
        (("generate", other, "--from-plan", result), "belongs to another video"),
        (("generate", clip, "--from-plan", result, "--seed", "3"), "leave out --seed"),
    ]:
        code, _, err = cli(*args, "-o", out / "x.mp4")
        assert code == 2 and message in err and err.count("\n") == 1, (args, err)
    assert list(out.iterdir()) == []
    with pytest.raises(InputError, match="no such result file"):
        load_result(tmp_path / "missing.json")
