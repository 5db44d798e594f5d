"""The `amt` engine end to end, through the command line.

The demo clip is analysed by our own pipeline (handcrafted encoder, 128-d) and exported into a
small MuVi-Sync folder with `write_muvisync_example`; `cuescore train amt` / `train
regression` / `train baseline` fit debug-sized models on it for an epoch or two, `cuescore
evaluate amt` scores them, and `cuescore generate --engine amt` scores the clip with them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pretty_midi
import pytest

from cuescore.analysis import VideoFeatures
from cli_runner import cli
from cuescore.controls import Controls
from cuescore.data.muvisync import write_muvisync_example
from cuescore.engines import get_engine
from cuescore.engines.amt import chord_spans, density_levels, loudness_energy
from cuescore.errors import OptionError
from cuescore.evaluation import chord_changes, load_plan
from cuescore.music.chords import parse_chord
from cuescore.music.tempo import on_grid_share

from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)

LABELS = ("C", "F", "G", "A:min", "D:min", "E:min")
TINY = ("--size", "debug", "--max-len", "8", "--semantic", "handcrafted-v1", "--device", "cpu", "--batch-size", "4")
"""max_len 8 < the clip's 12 s, so generation has to run in windows."""


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def video_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size > 0]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("amt_engine")


@pytest.fixture(scope="module")
def dataset(features_dir, work) -> Path:
    """Ten copies of the clip's features; each labels its shots with chords from a different offset."""
    features = VideoFeatures.load(features_dir)
    rng = np.random.default_rng(0)
    shot_starts = [0] + [int(np.ceil(t)) for t in features.hard_cuts]
    shot = [sum(t >= s for s in shot_starts) - 1 for t in range(features.T)]
    for split, count in (("train", 6), ("val", 2), ("test", 2)):
        for i in range(count):
            write_muvisync_example(
                work / "muvisync", f"{split}{i}", features, chords_per_second=[LABELS[(s + i) % 6] for s in shot],
                key="C major", loudness=rng.uniform(0.05, 0.4, features.T), note_density=rng.uniform(2, 20, features.T),
                split=split)
    return work / "muvisync"


@pytest.fixture(scope="module")
def checkpoint(dataset, work) -> Path:
    ckpt = work / "ckpt"
    code, out, err = cli("train", "amt", "--data", dataset, "-o", ckpt, "--epochs", 2, *TINY)
    assert code == 0 and out.startswith(f"{ckpt}: amt trained to epoch 2"), err
    code, out, err = cli("train", "regression", "--data", dataset, "-o", ckpt / "regression", "--epochs", 1, *TINY)
    assert code == 0 and "regression trained to epoch 1" in out, err
    return ckpt


def test_train_and_evaluate_through_the_cli(checkpoint, dataset, work):
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "last/optimizer.pt"):
        assert (checkpoint / name).is_file(), name
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["kind"] == "amt" and config["model"]["max_len"] == 8
    assert config["features"]["semantic_encoder"] == {"name": "handcrafted", "id": "handcrafted-v1", "dim": 128}
    code, _, err = cli("train", "baseline", "--data", dataset, "-o", work / "baseline", "--epochs", 1, *TINY)
    assert code == 0, err
    code, out, err = cli("evaluate", "amt", "--data", dataset, "--checkpoint", checkpoint,
                         "--baseline", work / "baseline")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "test" and set(result) == {"split", "amt", "baseline", "regression"}
    for role, kind in (("amt", "amt"), ("baseline", "music_transformer")):
        m = result[role]
        assert m["kind"] == kind and m["videos"] == 2 and 0 <= m["hits@1"] <= m["hits@3"] <= m["hits@5"] <= 1
    assert result["regression"]["checkpoint"] == str(checkpoint / "regression")
    assert result["regression"]["rmse_loudness"] >= 0
    # a training run is not overwritten by accident; the wrong kind of checkpoint is named
    one_line_error(*cli("train", "amt", "--data", dataset, "-o", checkpoint, *TINY)[::2], "--resume")
    one_line_error(*cli("evaluate", "amt", "--data", dataset, "--checkpoint", checkpoint, "--baseline",
                        checkpoint)[::2], "music_transformer")


def test_generate_with_the_amt_engine(checkpoint, features_dir, demo_clip, work):
    out = work / "scored" / "amt.mp4"
    out.parent.mkdir()
    code, stdout, err = cli("generate", demo_clip.path, "-o", out, "--engine", "amt", "--checkpoint", checkpoint,
                            "--features", features_dir, "--seed", 3)
    assert code == 0, err
    assert video_packets(out) == video_packets(demo_clip.path)
    assert sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(out.with_suffix(".mid"))).instruments) > 20
    plan, data = load_plan(out.with_suffix(".json"))
    assert plan.engine == "amt" and plan.seed == 3 and plan.duration == pytest.approx(12.0)
    assert all(not parse_chord(s.label).is_none for s in plan.chords)
    assert plan.chords[0].start == 0.0 and plan.chords[-1].end == pytest.approx(12.0)
    assert on_grid_share(plan.cuts, plan.beats) == 1.0
    extra = data["engine_record"]
    labels = extra["chords_per_second"]
    assert len(labels) == 12 and extra["density_source"] == "regression" and len(extra["note_density"]) == 12
    runs = [len(list(g)) for g in np.split(labels, np.flatnonzero(np.array(labels[1:]) != labels[:-1]) + 1)]
    assert max(runs) <= 2  # Video2Music's rule: no chord more than two seconds in a row
    # every cut starts a chord span, and the reported share of cuts on chord changes is the real one
    starts = [s.start for s in plan.chords]
    assert all(min(abs(c - s) for s in starts) <= 0.05 for c in plan.cuts)
    assert extra["cut_on_chord_change"] == on_grid_share(plan.cuts, chord_changes(plan.chords))
    assert all(0 <= d <= 4 for d in plan.density) and all(0 <= e <= 1 for e in plan.energy)


def test_seed_key_primer_and_no_regressor(checkpoint, features_dir, work):
    features = VideoFeatures.load(features_dir)

    def compose(checkpoint=checkpoint, top_k=None, temperature=None, **controls):
        engine = get_engine("amt", Controls.from_options(**controls), checkpoint=str(checkpoint), top_k=top_k,
                            temperature=temperature)
        return engine.compose(features)

    a, b = compose(seed=7), compose(seed=7)
    assert json.dumps(a.plan.to_dict(), sort_keys=True) == json.dumps(b.plan.to_dict(), sort_keys=True)
    keyed = compose(seed=7, key="D minor", primer="Dm Gm", top_k=3)
    assert keyed.plan.key.name == "D minor" and keyed.record.chords_per_second[:2] == ["D:min", "G:min"]
    assert keyed.plan.chords[0].label == "D:min"
    greedy = compose(temperature=0)
    assert greedy.record.chords_per_second == compose(temperature=0, seed=99).record.chords_per_second
    bare = work / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(checkpoint / name, bare / name)
    plain = compose(checkpoint=bare)
    assert plain.record.density_source == "video" and plain.record.regression is None
    assert len(plain.plan.density) == len(plain.plan.downbeats)


def test_sampling_rules_are_options(checkpoint, features_dir, monkeypatch):
    import cuescore.models.amt as amt_model

    features = VideoFeatures.load(features_dir)
    seen = []
    sampler = amt_model.generate_chords

    def recording(*args, **kwargs):  # the real sampler runs; the test sees what the engine asked of it
        seen.append({k: kwargs[k] for k in ("no_n", "max_repeat", "top_k", "temperature")})
        return sampler(*args, **kwargs)

    monkeypatch.setattr(amt_model, "generate_chords", recording)
    strict = get_engine("amt", Controls(seed=1), checkpoint=str(checkpoint), temperature=3.0, max_repeat=1)
    labels = strict.compose(features).record.chords_per_second
    assert all(a != b for a, b in zip(labels, labels[1:])) and "N" not in labels
    free = get_engine("amt", Controls(), checkpoint=str(checkpoint), allow_n=True, max_repeat=0, top_k=5)
    free.compose(features)
    assert seen == [{"no_n": True, "max_repeat": 1, "top_k": 0, "temperature": 3.0},
                    {"no_n": False, "max_repeat": 0, "top_k": 5, "temperature": 1.0}]
    with pytest.raises(OptionError, match="--max-repeat -1 is not allowed"):
        get_engine("amt", Controls(), checkpoint=str(checkpoint), max_repeat=-1)


def test_errors_are_one_line(checkpoint, features_dir, demo_clip, dataset, work):
    out = work / "errors" / "x.mp4"
    out.parent.mkdir()
    gen = ("generate", demo_clip.path, "-o", out, "--engine", "amt", "--features", features_dir)
    one_line_error(*cli(*gen)[::2], "--checkpoint", "cuescore train amt")
    one_line_error(*cli(*gen, "--checkpoint", work / "nowhere")[::2], "nowhere")
    features = VideoFeatures.load(features_dir)
    features.encoder = {"name": "clip", "id": "clip:openai/clip-vit-large-patch14-336", "dim": 128}
    features.save(work / "clip_features")
    one_line_error(*cli("generate", demo_clip.path, "-o", out, "--engine", "amt", "--checkpoint", checkpoint,
                        "--features", work / "clip_features")[::2], "handcrafted-v1", "clip:openai")
    assert not out.exists()
    one_line_error(*cli("evaluate", "amt", "--checkpoint", checkpoint)[::2], "--data")
    one_line_error(*cli("evaluate", work / "plan.json", "--data", dataset)[::2], "evaluate amt")
    one_line_error(*cli("train", "regression", "--data", dataset, "-o", work / "r", "--no-rpr")[::2], "--no-rpr")


def test_chord_spans_follow_cuts_and_beats():
    beats = list(np.arange(0.0, 8.0, 0.5))
    spans = chord_spans(["C", "C", "C", "G", "G", "G", "F", "F"], beats, [2.5, 5.0], 8.0)
    # the change at 3 s moves to the cut at 2.5 s; the model plays G through the cut at 5 s, which
    # still starts a span; the change at 6 s has no cut within a second and stays on its beat
    assert [(s.start, s.end, s.label) for s in spans] == [
        (0.0, 2.5, "C"), (2.5, 5.0, "G"), (5.0, 6.0, "G"), (6.0, 8.0, "F")]
    assert chord_changes(spans) == [2.5, 6.0]
    # two changes that snap to the same beat: the later chord wins
    spans = chord_spans(["C", "G", "F"], [0.0, 1.5], [], 3.0)
    assert [(s.start, s.label) for s in spans] == [(0.0, "C"), (1.5, "F")]
    assert density_levels([0, 6, 6.5, 12, 18.5, 24, 30]).tolist() == [0, 0, 1, 1, 3, 3, 4]
    assert loudness_energy([0.0, 0.5, 2.0]).tolist() == [0.0, 1.0, 1.0]
