"""The main job end to end: `cuescore generate` on real encoded video, no mocks.

One generate run per setting is shared through module-scoped fixtures: the default run goes
through the console entry (`python -m cuescore`), the others call `cli.main` in-process with
features saved by `cuescore analyze` (which also proves that --features gives the same plan as
analysing again). Bad input and bad options are checked at the file-descriptor level (capfd),
so nothing that FFmpeg or a library prints behind Python's back goes unseen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pretty_midi
import pyloudnorm
import pytest
import soundfile as sf

from cli_runner import cli
from cuescore.cli import main
from cuescore.evaluation import chord_changes, evaluate_plan, load_plan
from cuescore.media import probe
from cuescore.media.audio import read_audio_track

TOLERANCE = 0.05          # s: a cut "on" a beat or chord change
PEAK_CEILING = 10 ** (-1.0 / 20.0) + 2e-3   # the mastering's -1 dBTP guard, plus 16-bit rounding
SILENT_DB = -45.0         # per-second RMS under this counts as silence
OUTPUTS = ("mp4", "mid", "wav", "json")


# ---------------------------------------------------------------- helpers

def generate(video, out: Path, *options) -> Path:
    """Run `cuescore generate VIDEO -o OUT OPTIONS`, check it succeeded, return OUT."""
    out.parent.mkdir(parents=True, exist_ok=True)
    code, _, err = cli("generate", video, "-o", out, *options)
    assert code == 0, err
    return out


def video_packets(path) -> list[tuple[bytes, Fraction, bool]]:
    """Every video packet: its bytes, presentation time (exact) and keyframe flag."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(bytes(p), Fraction(p.pts) * v.time_base, p.is_keyframe) for p in c.demux(v) if p.size > 0]


def midi_notes(path) -> list[tuple]:
    midi = pretty_midi.PrettyMIDI(str(path))
    return sorted((i.program, i.is_drum, n.pitch, round(n.start, 6), round(n.end, 6), n.velocity)
                  for i in midi.instruments for n in i.notes)


def integrated_loudness(path) -> float:
    samples, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def plan_of(out: Path):
    return load_plan(out.with_suffix(".json"))


def nearest(times, t) -> float:
    return float(np.min(np.abs(np.asarray(times, float) - t))) if len(times) else float("inf")


def check_outputs(video: Path, out: Path, *, loudness: float = -14.0) -> dict:
    """Everything a successful `generate` promises, for any input video; returns facts for more checks."""
    for suffix in OUTPUTS:
        assert out.with_suffix(f".{suffix}").is_file(), f"{suffix} missing"
    assert not [p for p in out.parent.iterdir() if ".part" in p.name], "temporary files left behind"
    info = probe(video)
    frame = 1.0 / info.fps

    # the video stream is copied, packet for packet
    assert video_packets(out) == video_packets(video)

    # the new audio track and the WAV last as long as the video
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        a = c.streams.audio[0]
        assert float(a.duration * a.time_base) == pytest.approx(info.duration, abs=frame)
    track = read_audio_track(out)
    assert track.duration == pytest.approx(info.duration, abs=frame)
    wav, rate = sf.read(str(out.with_suffix(".wav")), dtype="float64", always_2d=True)
    assert wav.shape[0] / rate == pytest.approx(info.duration, abs=frame)

    # loud enough, never clipping, and sounding wherever the score has notes
    assert integrated_loudness(out.with_suffix(".wav")) == pytest.approx(loudness, abs=1.0)
    assert np.abs(wav).max() <= PEAK_CEILING
    assert np.abs(track.samples).max() <= 1.0
    midi = pretty_midi.PrettyMIDI(str(out.with_suffix(".mid")))
    notes = [n for inst in midi.instruments for n in inst.notes]
    assert notes, "the score has no notes"
    seconds = int(round(wav.shape[0] / rate))   # a last part-second under 0.5 s is all fade-out
    for t in range(seconds):
        if any(n.start < t + 1 and n.end > t for n in notes):
            rms = np.sqrt(np.mean(wav[t * rate:(t + 1) * rate] ** 2))
            assert 20 * np.log10(rms + 1e-12) > SILENT_DB, f"silent at {t} s although notes sound"

    plan, data = plan_of(out)
    assert plan.duration == pytest.approx(info.duration, abs=frame)
    assert data["outputs"]["video"] == str(out)
    assert data["soundfont"]["source"] in ("path", "env", "user", "installed", "bundled")
    assert Path(data["soundfont"]["path"]).is_file()
    return {"info": info, "plan": plan, "data": data, "wav": wav, "rate": rate, "track": track}


# ---------------------------------------------------------------- shared runs

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("generate")


@pytest.fixture(scope="module")
def default_run(demo_clip, work) -> Path:
    """`python -m cuescore generate demo.mp4 -o OUT.mp4` through the console entry (analyses)."""
    out = work / "default" / "out.mp4"
    out.parent.mkdir()
    done = subprocess.run([sys.executable, "-m", "cuescore", "generate", str(demo_clip.path), "-o", str(out)],
                          capture_output=True, text=True, cwd=out.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"{out}:"), done.stdout
    assert "Traceback" not in done.stderr
    return out


@pytest.fixture(scope="module")
def run_with(demo_clip, work, features_dir):
    """`generate --features DIR OPTIONS` on the demo clip, each setting run once per module."""
    cache: dict[tuple, Path] = {}

    def run(*options: str, again: bool = False) -> Path:
        """`again` runs the same setting a second time (into another folder)."""
        if (options, again) not in cache:
            name = "_".join(o.strip("-").replace(" ", "") for o in options) or "features"
            out = work / (name + ("_again" if again else "")) / "out.mp4"
            cache[options, again] = generate(demo_clip.path, out, "--features", features_dir, *options)
        return cache[options, again]
    return run


# ---------------------------------------------------------------- the main job

def test_generate_writes_four_valid_outputs(demo_clip, default_run):
    facts = check_outputs(demo_clip.path, default_run)
    assert sorted(p.name for p in default_run.parent.iterdir()) == sorted(f"out.{s}" for s in OUTPUTS)
    assert facts["data"]["controls"]["seed"] == 0 and facts["plan"].engine == "affective"


def test_every_cut_lands_on_a_beat_and_a_chord_change(demo_clip, default_run):
    plan, _ = plan_of(default_run)
    truth = demo_clip.cut_times
    assert len(plan.cuts) == len(truth)
    assert all(nearest(plan.cuts, t) <= 1.0 / demo_clip.fps for t in truth)
    changes = chord_changes(plan.chords)
    for t in truth:
        assert nearest(plan.beats, t) <= TOLERANCE, f"cut at {t:.3f} s is off the beat"
        assert nearest(changes, t) <= TOLERANCE, f"cut at {t:.3f} s has no chord change"


def test_evaluate_reads_the_outputs(default_run, features_dir):
    code, out, err = cli("evaluate", default_run.with_suffix(".json"))
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["hard_cuts"] == 4 and metrics["cut_on_beat"] == 1.0 and metrics["cut_on_chord_change"] == 1.0
    assert metrics["density_source"] == "midi" and metrics["loudness_source"] == "wav"
    code, out, err = cli("evaluate", default_run.with_suffix(".json"), "--features", features_dir)
    assert code == 0, err
    with_features = json.loads(out)
    assert with_features.keys() == metrics.keys()
    for name, value in metrics.items():   # the JSON's series are rounded to 4 decimals
        assert with_features[name] == (pytest.approx(value, abs=0.02) if isinstance(value, float) else value), name


def test_features_folder_gives_the_same_plan_and_notes(demo_clip, default_run, run_with):
    """--features skips the analysis and changes nothing; the same seed gives the same MIDI.

    The default run analysed the clip itself, `analyze` did it again for the features folder, so
    this also needs the analysis to be deterministic (visual beats once depended on last-bit
    noise in the flow speeds around cuts).
    """
    again = run_with()
    fresh, saved = plan_of(default_run)[0], plan_of(again)[0]
    assert saved.accents == fresh.accents, "visual beats differ between two analyses of one clip"
    assert saved == fresh
    assert midi_notes(again.with_suffix(".mid")) == midi_notes(default_run.with_suffix(".mid"))
    check_outputs(demo_clip.path, again)


def test_same_seed_same_music_other_seed_other_music(run_with):
    first, same = run_with("--seed", "7"), run_with("--seed", "7", again=True)
    assert midi_notes(first.with_suffix(".mid")) == midi_notes(same.with_suffix(".mid"))
    assert plan_of(first)[0] == plan_of(same)[0]
    seeds = [run_with(), first, run_with("--seed", "8")]
    notes = [midi_notes(out.with_suffix(".mid")) for out in seeds]
    assert notes[0] != notes[1] and notes[1] != notes[2] and notes[0] != notes[2]


def test_key_option_sets_the_key(demo_clip, run_with):
    out = run_with("--key", "D minor")
    plan, _ = plan_of(out)
    assert plan.key.name == "D minor"
    tonic = plan.chords[0].chord
    assert (tonic.root, tonic.quality in ("min", "min7")) == (2, True)  # opens on the tonic, i
    check_outputs(demo_clip.path, out)


def test_tempo_option_locks_the_tempo(demo_clip, run_with):
    out = run_with("--tempo", "90")
    plan, data = plan_of(out)
    assert [round(c.bpm, 6) for c in plan.tempo_map] == [90.0]
    assert np.allclose(np.diff(plan.beats), 60.0 / 90.0, atol=1e-6)
    assert data["tempo_bpm"] == pytest.approx(90.0)
    midi = pretty_midi.PrettyMIDI(str(out.with_suffix(".mid")))
    assert np.allclose(midi.get_tempo_changes()[1], 90.0, atol=0.01)
    check_outputs(demo_clip.path, out)


def test_loudness_option_sets_the_loudness(demo_clip, run_with):
    check_outputs(demo_clip.path, run_with("--loudness", "-20"), loudness=-20.0)


def test_original_audio_is_kept_under_the_music(demo_clip, run_with):
    """The demo clip's own 220 Hz tone comes back at half its level under unchanged music."""
    plain, mixed = run_with(), run_with("--original-gain", "0.5")
    facts = check_outputs(demo_clip.path, mixed)
    with sf.SoundFile(str(plain.with_suffix(".wav"))) as a, sf.SoundFile(str(mixed.with_suffix(".wav"))) as b:
        assert np.array_equal(a.read(), b.read()), "the WAV is the music alone"
    original = read_audio_track(demo_clip.path).samples
    music = read_audio_track(plain).samples
    both = facts["track"].samples
    n = min(original.shape[1], music.shape[1], both.shape[1])
    original, music, both = original[:, :n], music[:, :n], both[:, :n]
    rest = both - music
    gain = float(np.sum(rest * original) / np.sum(original * original))
    assert gain == pytest.approx(0.5, abs=0.08)
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    assert rms(rest - gain * original) < 0.25 * rms(gain * original)   # what was added is the tone
    assert rms(music) > 1.5 * rms(gain * original)                     # and it sits under the music


# ---------------------------------------------------------------- bad input and options

BAD = {
    "missing file": lambda d, clip: [d / "missing.mp4", "-o", d / "out.mp4"],
    "text named .mp4": lambda d, clip: [_text(d / "notes.mp4"), "-o", d / "out.mp4"],
    "output under a file": lambda d, clip: [clip, "-o", _text(d / "some_file.txt") / "out.mp4"],
    "output folder missing": lambda d, clip: [clip, "-o", d / "nowhere" / "out.mp4"],
    "output is a folder": lambda d, clip: [clip, "-o", d],
    "output is .": lambda d, clip: [clip, "-o", "."],
    "output overwrites input": lambda d, clip: [_copy(clip, d / "in.mp4"), "-o", d / "in.mp4"],
    "unknown extension": lambda d, clip: [clip, "-o", d / "out.xyz"],
    "negative seed": lambda d, clip: [clip, "-o", d / "out.mp4", "--seed", "-1"],
    "tempo 5": lambda d, clip: [clip, "-o", d / "out.mp4", "--tempo", "5"],
    "key H major": lambda d, clip: [clip, "-o", d / "out.mp4", "--key", "H major"],
    "unknown engine": lambda d, clip: [clip, "-o", d / "out.mp4", "--engine", "nope"],
    "unknown instruments": lambda d, clip: [clip, "-o", d / "out.mp4", "--instruments", "kazoo"],
    "tempo range upside down": lambda d, clip: [clip, "-o", d / "out.mp4", "--tempo-min", "150", "--tempo-max", "90"],
    "missing soundfont": lambda d, clip: [clip, "-o", d / "out.mp4", "--soundfont", d / "none.sf2"],
    "corrupt soundfont": lambda d, clip: [clip, "-o", d / "out.mp4", "--soundfont", _corrupt_sf2(d / "bad.sf2")],
    "features not a folder": lambda d, clip: [clip, "-o", d / "out.mp4", "--features", d / "nothing"],
    "output under an executable file": lambda d, clip: [clip, "-o", _text(d / "tool", mode=0o755) / "out.mp4"],
}



def _text(path: Path, mode: int = 0o644) -> Path:
    path.write_text("not a video\n")
    path.chmod(mode)
    return path


def _corrupt_sf2(path: Path) -> Path:
    path.write_bytes(b"RIFF\x00\x01\x00\x00sfbk" + bytes(range(256)) * 8)  # a header and no preset data
    return path


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(Path(src).read_bytes())
    return dst


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_or_option_exits_2_with_one_line_and_leaves_nothing(demo_clip, tmp_path, capfd, monkeypatch, case):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = BAD[case](work, demo_clip.path)
    before = sorted(work.rglob("*"))
    capfd.readouterr()
    try:
        code = main(["generate", *map(str, args)])
    except SystemExit as exc:
        code = exc.code
    out, err = capfd.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err
    assert out == ""
    assert sorted(work.rglob("*")) == before, "outputs or temporary files left behind"


# ---------------------------------------------------------------- real footage

REAL = {
    # file: ground-truth hard cuts (s); the 0102 dissolve at 9.8-10.5 is not a hard cut
    "0102_0011.mp4": [2.133, 20.100, 27.067],
    "goldeneye-vfr-drop3.mp4": [3.754, 8.759],
}


@pytest.mark.realmedia
@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_real_footage_cuts_land_on_beats_and_chord_changes(shared_media, tmp_path, name):
    video = shared_media / "video" / name
    out = generate(video, tmp_path / f"{Path(name).stem}_scored.mp4")
    facts = check_outputs(video, out)
    plan, truth = facts["plan"], REAL[name]
    changes = chord_changes(plan.chords)
    on_beat = np.mean([nearest(plan.beats, t) <= TOLERANCE for t in truth])
    on_change = np.mean([nearest(changes, t) <= TOLERANCE for t in truth])
    assert on_beat >= 0.95 and on_change >= 0.90, (plan.cuts, on_beat, on_change)
    metrics = evaluate_plan(out.with_suffix(".json"))
    assert metrics["cut_on_beat"] >= 0.95 and metrics["cut_on_chord_change"] >= 0.90
