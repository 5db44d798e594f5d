"""`cuescore convert video2music`: Video2Music's saved weights give the same outputs in cuescore.

Video2Music's AMT and regressor are built as its code lays them out (`video2music_reference`),
with seeded random weights, saved with `torch.save(model.state_dict())` and converted; logits
and regression outputs must agree within 1e-4 for several lengths, in eval mode and in train
mode with dropout 0, and the relative-position skew must agree exactly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import video2music_reference as ref
from cli_runner import cli
from cuescore.analysis import VideoFeatures
from cuescore.convert.video2music import convert_video2music
from cuescore.data.matrices import features_matrix
from cuescore.data.muvisync import CLIP_L14P_ID
from cuescore.evaluation import load_plan
from cuescore.models import generate_chords, load_model, predict_density_loudness
from cuescore.models.checkpoint import build_model
from cuescore.models.rpr import relative_logits
from cuescore.music.chords import PAD, chord_from_token, parse_chord

from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)

SMALL = dict(n_layers=2, heads=4, d=64, d_ff=128, max_seq=300)
"""A small AMT of Video2Music's layout (the full 300-second relative table, so its maximum length is tested)."""
TOL = 1e-4


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@dataclasses.dataclass
class Source:
    amt: Path
    regression: Path
    ckpt: Path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    """Seeded Video2Music weights saved as Video2Music saves them, and their conversion by the CLI."""
    work = tmp_path_factory.mktemp("v2m")
    torch.manual_seed(11)
    torch.save(ref.VideoMusicTransformer(**SMALL).state_dict(), work / "best_loss_weights.pickle")
    torch.save(ref.VideoRegression().state_dict(), work / "best_rmse_weights.pickle")
    ckpt = work / "converted"
    code, out, err = cli("convert", "video2music", "--amt", work / "best_loss_weights.pickle",
                         "--regression", work / "best_rmse_weights.pickle", "-o", ckpt)
    assert code == 0, err
    assert out.startswith(f"{ckpt}: Video2Music AMT (2 layers, 4 heads, d_model 64, up to 300 s)")
    assert "embedding (1 tensors), condition_linear (2 tensors), Wout_root (2 tensors)" in out
    assert "bilstm (16 tensors), lstm (8 tensors), gru (8 tensors), fc (2 tensors)" in out
    return Source(work / "best_loss_weights.pickle", work / "best_rmse_weights.pickle", ckpt)


def reference_amt(path: Path, dropout: float, **size) -> ref.VideoMusicTransformer:
    model = ref.VideoMusicTransformer(dropout=dropout, **size)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


def reference_logits(model: ref.VideoMusicTransformer, tokens: torch.Tensor, key: int, video: torch.Tensor):
    """Their forward pass for cuescore tokens [1, L]: root/quality ids from the labels, video split in parts."""
    ids = [ref.label_root_attr(chord_from_token(t).label) if t < 157 else (13 + (t == PAD), 14 + (t == PAD))
           for t in tokens[0].tolist()]
    root, attr = torch.tensor([[r for r, _ in ids]]), torch.tensor([[a for _, a in ids]])
    return model(root, attr, video[..., :768], key, video[..., 768], video[..., 769], video[..., 770:])


def cuescore_amt(ckpt: Path, dropout: float):
    config = json.loads((ckpt / "config.json").read_text())
    model = build_model("amt", {**config["model"], "dropout": dropout})
    model.load_state_dict(load_file(str(ckpt / "model.safetensors")))
    return model


def test_converted_checkpoint_records_encoder_and_source(source: Source) -> None:
    config = json.loads((source.ckpt / "config.json").read_text())
    assert config["kind"] == "amt" and config["model"]["max_len"] == 300 and config["model"]["rpr"]
    assert config["features"]["semantic_encoder"] == {"name": "clip", "id": CLIP_L14P_ID, "dim": 768}
    assert config["features"]["video_dim"] == 776
    assert config["source"]["system"] == "Video2Music" and config["source"]["file"] == "best_loss_weights.pickle"
    assert "Wout_attr.bias" in config["source"]["unused_keys"]
    reg = json.loads((source.ckpt / "regression" / "config.json").read_text())
    assert reg["kind"] == "regression" and reg["model"]["hidden"] == 64 and reg["model"]["n_layers"] == 2
    assert reg["features"] == config["features"] and len(reg["source"]["unused_keys"]) == 34
    assert load_model(source.ckpt).kind == "amt" and load_model(source.ckpt / "regression").kind == "regression"
    assert [p.name for p in source.ckpt.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train-dropout-0"])
def test_logits_equal_video2music(source: Source, train: bool) -> None:
    dropout = 0.0 if train else 0.1
    theirs = reference_amt(source.amt, dropout, **SMALL).train(train)
    ours = (cuescore_amt(source.ckpt, dropout) if train else load_model(source.ckpt)).train(train)
    gen = torch.Generator().manual_seed(5)
    for (L, T), key in zip([(1, 1), (9, 300), (64, 20), (300, 300)], (0, 1, 1, 0)):
        tokens = torch.randint(0, 159, (1, L), generator=gen)  # chords, N, END and PAD
        video = torch.randn(1, T, 776, generator=gen) * 2
        with torch.no_grad():
            want = reference_logits(theirs, tokens, key, video)
            got = ours(tokens, torch.tensor([key]), video)
        assert want.shape == got.shape == (1, L, 159)
        assert (want - got).abs().max() < TOL, (L, T)


def test_released_size_converts_to_equal_logits(tmp_path: Path) -> None:
    torch.manual_seed(3)
    theirs, reg = ref.VideoMusicTransformer().eval(), ref.VideoRegression().eval()
    assert (len(theirs.state_dict()), len(reg.state_dict())) == (207, 52)  # as in the released files
    torch.save(theirs.state_dict(), tmp_path / "amt.pickle")
    torch.save(reg.state_dict(), tmp_path / "reg.pickle")
    done = convert_video2music(tmp_path / "amt.pickle", tmp_path / "ckpt", tmp_path / "reg.pickle")
    assert (done.amt.n_layers, done.amt.n_heads, done.amt.d_model, done.amt.d_ff) == (6, 8, 512, 1024)
    assert sorted(done.unused["amt"]) == sorted(["embedding.weight", "condition_linear.weight",
                                                 "condition_linear.bias", "Wout_root.weight", "Wout_root.bias",
                                                 "Wout_attr.weight", "Wout_attr.bias"])
    tokens, video = torch.randint(0, 157, (1, 300)), torch.randn(1, 300, 776)
    with torch.no_grad():
        want = reference_logits(theirs, tokens, 1, video)
        got = load_model(tmp_path / "ckpt")(tokens, torch.tensor([1]), video)
    assert (want - got).abs().max() < TOL


@pytest.mark.parametrize("L", [1, 2, 37, 300])
def test_relative_skew_is_exact(L: int) -> None:
    """Integer-valued q and Er make every product exact, so the two index schemes must agree bit for bit."""
    gen = torch.Generator().manual_seed(L)
    q = torch.randint(-3, 4, (1, 4, L, 8), generator=gen).float()
    er = torch.randint(-3, 4, (300, 8), generator=gen).float()
    theirs = ref.skew(torch.einsum("hld,md->hlm", q[0], er[300 - L:]))
    ours = relative_logits(q, er.flip(0), 0, L)[0]
    lower = torch.tril(torch.ones(L, L, dtype=torch.bool))
    assert torch.equal(theirs[:, lower], ours[:, lower])
    step = relative_logits(q[:, :, L - 1 :], er.flip(0), L - 1, L)[0]  # incremental decoding, last position
    assert torch.equal(step[:, 0], theirs[:, L - 1])


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train-dropout-0"])
def test_regression_equal_video2music(source: Source, train: bool) -> None:
    theirs = ref.VideoRegression(dropout=0.0 if train else 0.1)
    theirs.load_state_dict(torch.load(source.regression, weights_only=True))
    ours = load_model(source.ckpt / "regression")
    if train:
        ours.drop.p = 0.0
    theirs.train(train), ours.train(train)
    gen = torch.Generator().manual_seed(8)
    for T in (1, 45, 300):
        video = torch.randn(1, T, 776, generator=gen)
        with torch.no_grad():
            assert (theirs(video) - ours(video)).abs().max() < TOL, T
    # Video2Music's inference pads the rows to 300 before the bi-GRU; so does predict_density_loudness
    rows = torch.randn(45, 776, generator=gen)
    with torch.no_grad():
        want = theirs.eval()(F.pad(rows, (0, 0, 0, 255))[None])[0, :45]
    density, loudness = predict_density_loudness(ours, rows.numpy())
    assert np.abs(np.stack([density, loudness], 1) - want.numpy()).max() < TOL


def test_greedy_chords_follow_video2music_rules(source: Source) -> None:
    """Their generate loop (probabilities over the first 157 tokens, N zeroed, no chord three times in a
    row, video padded to 300 rows), taking the most likely token, picks what cuescore picks."""
    theirs = reference_amt(source.amt, 0.1, **SMALL).eval()
    ours = load_model(source.ckpt)
    rows = torch.randn(20, 776, generator=torch.Generator().manual_seed(2))
    video = F.pad(rows, (0, 0, 0, 280))[None]
    primer = parse_chord("A:min").token
    seq = [primer]
    with torch.no_grad():
        while len(seq) < 20:
            probs = torch.softmax(reference_logits(theirs, torch.tensor([seq]), 1, video), -1)[0, -1, :157]
            probs[0] = 0.0
            if len(seq) >= 2 and seq[-1] == seq[-2]:
                probs[seq[-1]] = 0.0
            seq.append(int(torch.argmax(probs)))
    assert generate_chords(ours, rows, "minor", [primer], temperature=0) == seq


def test_generate_with_a_converted_checkpoint(source: Source, features_dir: Path, demo_clip, tmp_path: Path) -> None:
    """End to end with CLIP-L/14@336-wide semantic rows written by the test (no CLIP weights needed)."""
    features = VideoFeatures.load(features_dir)
    features.semantic = np.random.default_rng(0).normal(size=(features.T, 768)).astype(np.float32)
    features.encoder = {"name": "clip", "id": CLIP_L14P_ID, "dim": 768}
    features.save(tmp_path / "features")
    out = tmp_path / "scored.mp4"
    code, _, err = cli("generate", demo_clip.path, "-o", out, "--engine", "amt", "--checkpoint", source.ckpt,
                       "--features", tmp_path / "features", "--seed", 4)
    assert code == 0, err
    plan, data = load_plan(out.with_suffix(".json"))
    extra = data["engine_record"]
    assert plan.engine == "amt" and len(extra["chords_per_second"]) == 12
    assert all(not parse_chord(label).is_none for label in extra["chords_per_second"])
    theirs = ref.VideoRegression().eval()
    theirs.load_state_dict(torch.load(source.regression, weights_only=True))
    rows = torch.as_tensor(features_matrix(features))
    with torch.no_grad():
        want = theirs(F.pad(rows, (0, 0, 0, 300 - len(rows)))[None])[0, : len(rows), 0]
    assert extra["density_source"] == "regression"
    assert np.abs(np.array(extra["note_density"]) - want.numpy()).max() < 1e-3  # rounded to 3 decimals


class _RunsCode:
    """A pickle payload that would create a file if unpickled unsafely."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _broken_inputs(source: Source, folder: Path) -> dict[str, tuple[Path, Path | None, tuple[str, ...]]]:
    """Name -> (--amt file, --regression file, words the one-line error must contain)."""
    data = source.amt.read_bytes()
    (folder / "truncated.pickle").write_bytes(data[: len(data) // 2])
    state = torch.load(source.amt, weights_only=True)
    state["transformer.decoder.layers.1.linear2.weight"] = torch.zeros(64, 100)
    torch.save(state, folder / "wrong_shape.pickle")
    torch.save({k: v for k, v in state.items() if not k.endswith(".Er")}, folder / "no_rpr.pickle")
    torch.save({**state, "Linear_vis.weight": torch.zeros(64, 700)}, folder / "other_width.pickle")
    with open(folder / "unrelated.pickle", "wb") as f:
        pickle.dump({"epoch": 3, "notes": ["C", "G"]}, f)
    torch.save({"epoch": 3, "lr": 0.1}, folder / "not_tensors.pickle")
    torch.save({"weights": _RunsCode(folder / "code_ran")}, folder / "runs_code.pickle")
    return {
        "truncated": (folder / "truncated.pickle", None, ("truncated.pickle", "unreadable or truncated")),
        "wrong shape": (folder / "wrong_shape.pickle", None,
                        ("'transformer.decoder.layers.1.linear2.weight'", "[64, 100]", "expected [64, 128]")),
        "no RPR": (folder / "no_rpr.pickle", None, ("no relative position table",)),
        "other video width": (folder / "other_width.pickle", None, ("700-wide video rows", "776-wide")),
        "unrelated pickle": (folder / "unrelated.pickle", None, ("not a PyTorch state dict",)),
        "not tensors": (folder / "not_tensors.pickle", None, ("'epoch' is a int, not a tensor",)),
        "runs code": (folder / "runs_code.pickle", None, ("would run code",)),
        "regressor as AMT": (source.regression, None, ("'Linear_vis.weight' is missing", "AMT")),
        "AMT as regressor": (source.amt, source.amt, ("'bigru.weight_ih_l0' is missing", "regressor")),
        "truncated regressor": (source.amt, folder / "truncated.pickle", ("unreadable or truncated",)),
    }


def test_bad_files_are_one_line_errors_and_write_nothing(source: Source, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out_parent = tmp_path / "out"
    out_parent.mkdir()
    for name, (amt, regression, needles) in _broken_inputs(source, inputs).items():
        args = ["convert", "video2music", "--amt", amt, "-o", out_parent / "ckpt"]
        code, out, err = cli(*args, *(["--regression", regression] if regression else []))
        one_line_error(code, err, *needles)
        assert out == "" and os.listdir(out_parent) == [], name
    assert not (inputs / "code_ran").exists()


def test_existing_output_is_never_overwritten(source: Source, tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "notes.txt").write_text("mine")
    one_line_error(*cli("convert", "video2music", "--amt", source.amt, "-o", tmp_path / "ckpt")[::2], "not empty")
    assert os.listdir(tmp_path / "ckpt") == ["notes.txt"]
    code, _, err = cli("convert", "video2music", "--amt", source.amt, "-o", tmp_path / "new" / "ckpt")
    assert code == 0 and (tmp_path / "new" / "ckpt" / "model.safetensors").is_file(), err
    assert not (tmp_path / "new" / "ckpt" / "regression").exists()
