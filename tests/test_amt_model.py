"""AMT, Music Transformer baseline and regressor: shapes, cached decoding, sampling, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cuescore.errors import InputError, OptionError
from cuescore.models import AMTConfig, ChordTransformer, RegressionConfig, VideoRegression, generate_chords
from cuescore.models import load_model, predict_density_loudness, read_config, save_checkpoint
from cuescore.models.amt import root_and_quality
from cuescore.models.checkpoint import check_encoder
from cuescore.models.rpr import relative_logits
from cuescore.music.chords import END, PAD, chord_from_token, parse_chord

from muvisync_fixtures import one_thread  # noqa: F401 (autouse fixture)


def tiny(video: bool = True, rpr: bool = True, max_len: int = 24) -> ChordTransformer:
    torch.manual_seed(0)
    cfg = AMTConfig.sized("debug", video_dim=12 if video else 0, video=video, rpr=rpr, max_len=max_len)
    return ChordTransformer(cfg).eval()


def test_root_and_quality_follow_video2music() -> None:
    chords = [parse_chord(label).token for label in ("C", "B:maj7", "D:min")]
    tokens = torch.tensor([0, *chords, END, PAD])
    root, attr = root_and_quality(tokens)
    assert root.tolist() == [0, 1, 12, 3, 13, 14]
    assert attr.tolist() == [0, 1, 13, 5, 14, 15]


def test_relative_logits_use_distance_rows() -> None:
    q = torch.randn(1, 2, 5, 4)
    table = torch.randn(8, 4)
    rel = relative_logits(q, table, 0, 5)
    for i in range(5):
        for j in range(5):
            want = q[0, :, i] @ table[i - j] if j <= i else torch.zeros(2)
            assert torch.allclose(rel[0, :, i, j], want, atol=1e-6)
    step = relative_logits(q[:, :, 3:4], table, 3, 4)
    assert torch.allclose(step, rel[:, :, 3:4, :4], atol=1e-6)


@pytest.mark.parametrize(("video", "rpr"), [(True, True), (True, False), (False, True), (False, False)])
def test_cached_decoding_gives_the_full_logits(video: bool, rpr: bool) -> None:
    model = tiny(video, rpr)
    B, L = 2, 23
    tokens = torch.randint(0, 157, (B, L))
    mode = torch.tensor([0, 1])
    vid = torch.randn(B, 24, 12) if video else None
    full = model(tokens, mode, vid)
    assert full.shape == (B, L, 159)
    cache = model.start(mode, vid)
    pieces = [model.step(tokens[:, :4], cache)] + [model.step(tokens[:, i : i + 1], cache) for i in range(4, L)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 25, dtype=torch.long), mode[:1], torch.randn(1, 24, 12) if video else None)


def test_generate_chords_constraints_and_cache_agreement() -> None:
    model = tiny()
    feats = torch.randn(20, 12)
    out = generate_chords(model, feats, "minor", [parse_chord("A:min").token], top_k=5, temperature=1.0, seed=3)
    assert len(out) == 20 and out[0] == parse_chord("A:min").token
    assert all(1 <= t <= 156 for t in out[1:])
    assert all(len(set(out[i : i + 3])) > 1 for i in range(len(out) - 2))  # max_repeat=2
    assert out == generate_chords(model, feats, "minor", [parse_chord("A:min").token], top_k=5, seed=3)
    greedy = [generate_chords(model, feats, 1, temperature=0, use_cache=c) for c in (True, False)]
    assert greedy[0] == greedy[1]
    long = generate_chords(model, torch.randn(60, 12), "major", seed=0)  # 60 s > max_len 24: windows
    assert len(long) == 60 and long[0] == 1 and all(1 <= t <= 156 for t in long)
    with pytest.raises(ValueError, match=r"\[T, 12\]"):
        generate_chords(model, torch.randn(5, 3), "major")
    baseline = tiny(video=False)
    assert len(generate_chords(baseline, None, 0, length=10, seed=1)) == 10
    assert all(chord_from_token(t) for t in out)


def test_regression_shapes() -> None:
    torch.manual_seed(0)
    model = VideoRegression(RegressionConfig.sized("debug", video_dim=12))
    assert model(torch.randn(3, 7, 12)).shape == (3, 7, 2)
    density, loudness = predict_density_loudness(model, np.random.rand(9, 12).astype(np.float32))
    assert density.shape == loudness.shape == (9,)


@pytest.mark.parametrize("kind", ["amt", "music_transformer", "regression"])
def test_checkpoint_reload_gives_identical_outputs(tmp_path: Path, kind: str) -> None:
    if kind == "regression":
        model = VideoRegression(RegressionConfig.sized("debug", video_dim=12)).eval()
        inputs: tuple = (torch.randn(2, 10, 12),)
    else:
        model = tiny(video=kind == "amt")
        video = torch.randn(2, 24, 12) if kind == "amt" else None
        inputs = (torch.randint(0, 157, (2, 10)), torch.tensor([1, 0]), video)
    features = {"semantic_encoder": {"name": "x", "id": "x", "dim": 4}, "semantic_folder": "x"}
    save_checkpoint(model, tmp_path, {"features": features}, optimizer=torch.optim.Adam(model.parameters()),
                    extra={"epoch": 1})
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["kind"] == kind and config["features"] == features and config["model"] == model.config.to_dict()
    assert (tmp_path / "optimizer.pt").is_file() and (tmp_path / "trainer_state.json").is_file()
    again = load_model(tmp_path)
    assert torch.equal(model(*inputs), again(*inputs))
    assert read_config(tmp_path)["features"] == features


def test_debug_models_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = torch.random.get_rng_state()
    a, b = load_model("debug"), load_model("debug")
    assert torch.equal(torch.random.get_rng_state(), state)
    tokens, mode, video = torch.randint(0, 157, (1, 6)), torch.tensor([0]), torch.randn(1, 10, a.config.video_dim)
    assert torch.equal(a(tokens, mode, video), b(tokens, mode, video))
    assert load_model("debug-mt").kind == "music_transformer"
    assert load_model("debug-regression").kind == "regression"
    with pytest.raises(InputError, match="no checkpoint folder"):
        load_model(tmp_path / "nothing")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="hub download failed"):
        load_model("nobody/no-such-cuescore-model")
    (tmp_path / "config.json").write_text(json.dumps({"kind": "amt", "model": a.config.to_dict()}))
    with pytest.raises(InputError, match="model.safetensors: missing"):
        load_model(tmp_path)
    config = read_config("debug")
    check_encoder(config, {"id": "debug", "dim": 16})
    with pytest.raises(OptionError, match="trained on semantic features from 'debug'"):
        check_encoder(config, {"id": "clip:openai/clip-vit-large-patch14-336", "dim": 768})


def test_an_encoder_is_the_same_model_wherever_its_weights_lie():
    config = {"features": {"semantic_encoder": {"id": "clip:openai/clip-vit-large-patch14-336", "dim": 768}}}
    for where in ("/models/clip-vit-large-patch14-336",
                  "/root/.cache/huggingface/hub/models--openai--clip-vit-large-patch14-336/snapshots/0123abcd"):
        check_encoder(config, {"id": f"clip:{where}", "dim": 768})
    for other in ({"id": "clip:/models/clip-vit-base-patch32", "dim": 768},
                  {"id": "clip:openai/clip-vit-large-patch14-336", "dim": 512}):
        with pytest.raises(OptionError, match="analyse it again"):
            check_encoder(config, other)
