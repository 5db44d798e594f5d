"""`cuescore train codec` on tiny random models and a short video with its own soundtrack."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from cuescore.errors import OptionError, OutputError
from cuescore.media import Scene, render_demo_clip
from cuescore.models.codec_checkpoint import load_codec_checkpoint
from cuescore.models.codec_model import load_music_model
from cuescore.training.codec import codec_loss, train_codec

from cli_runner import cli
from clip_fixtures import make_tiny_clip
from codec_fixtures import vidmuse_inputs
from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)
from musicgen_fixtures import music_dir  # noqa: F401  (fixture)
from video_factory import make_video

SCENES = (Scene(frames=45, hue=110, brightness=0.4, saturation=0.5, speed=1.0),
          Scene(frames=45, hue=20, brightness=0.8, saturation=0.9, speed=4.0))


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A 6 s clip with a tone soundtrack, and a clip without audio (skipped)."""
    folder = tmp_path_factory.mktemp("pairs")
    render_demo_clip(folder / "a.mp4", scenes=SCENES, fps=15, size=(96, 64), with_audio=True)
    make_video(folder / "silent.mp4", n_frames=30)
    return folder


def options(music_dir, clip_dir, **extra):
    return {"music_model": str(music_dir), "encoder": f"clip:{clip_dir}", "batch_size": 2, "window": 2.0,
            "device": "cpu", "precision": "fp32", "lr": 2e-2, "progress": False, **extra}


def losses(out) -> list[float]:
    return [json.loads(line)["train_loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_codec_loss_masks_padding():
    logits = torch.randn(1, 2, 4, 8)
    codes = torch.randint(0, 8, (1, 2, 4))
    valid = torch.tensor([[True, True, False, False]])
    ref = torch.nn.functional.cross_entropy(logits[:, :, :2].flatten(0, 2), codes[:, :, :2].flatten())
    torch.testing.assert_close(codec_loss(logits, codes, valid), ref)


@pytest.mark.slow
def test_vidmuse_training_lowers_the_loss_and_resumes(music_dir, clip_dir, pairs, tmp_path, caplog):
    out = tmp_path / "ckpt"
    summary = train_codec(pairs, out, conditioner="vidmuse", epochs=4, **options(music_dir, clip_dir))
    assert "skipping" in caplog.text and "silent.mp4" in caplog.text
    assert summary["steps"] == 8  # 3 windows of 2 s -> 2 batches per epoch
    curve = losses(out)
    # a frozen random decoder leaves the conditioner little to explain, but every epoch gains
    assert len(curve) == 4 and all(b < a for a, b in zip(curve, curve[1:])) and curve[-1] < curve[0] - 0.02, curve
    meta = json.loads((out / "config.json").read_text())
    assert meta["conditioner"] == "vidmuse" and meta["lm_trained"] is False and meta["encoder"] == f"clip:{clip_dir}"
    assert meta["conditioner_config"]["window_seconds"] == 2.0 and len(list((out / "cache").iterdir())) == 1

    with pytest.raises(OutputError, match="--resume"):
        train_codec(pairs, out, conditioner="vidmuse", epochs=5, **options(music_dir, clip_dir))
    with pytest.raises(OptionError, match="vidmuse conditioner, not thesis"):
        train_codec(pairs, out, conditioner="thesis", epochs=5, resume=True, **options(music_dir, clip_dir))
    resumed = train_codec(pairs, out, conditioner="vidmuse", epochs=6, resume=True, **options(music_dir, clip_dir))
    assert [h["epoch"] for h in resumed["history"]] == [5, 6] and resumed["steps"] == 12
    assert len(losses(out)) == 6 and losses(out)[-1] < curve[-1]

    model = load_codec_checkpoint(out)
    memory, mask = model.memory(vidmuse_inputs(batch=1, short=4, long=3))
    assert memory.shape == (1, 4 * 17, 32)
    assert model.conditioner.position.weight.abs().sum() > 0  # the window position was learned


@pytest.mark.slow
def test_thesis_training_with_the_decoder(music_dir, clip_dir, pairs, tmp_path):
    out = tmp_path / "thesis"
    summary = train_codec(pairs, out, conditioner="thesis", freeze="none", epochs=2, **options(music_dir, clip_dir))
    assert summary["epochs"] == 2
    model = load_codec_checkpoint(out)
    assert model.config.lm_trained and model.config.conditioner == "thesis"
    stock = load_music_model(music_dir).decoder.state_dict()["lm_heads.0.weight"]
    assert not torch.equal(model.music.decoder.state_dict()["lm_heads.0.weight"], stock)
    assert model.conditioner.null_row.abs().sum() > 0  # a black frame's embedding, saved with the weights
    semantic = torch.randn(1, 2, 16)  # the tiny CLIP's embedding width
    assert model.memory({"semantic": semantic})[0].shape == (1, 2, 16)


@pytest.mark.slow
def test_cli_train_codec(music_dir, clip_dir, pairs, tmp_path):
    common = ["--pairs", pairs, "--music-model", music_dir, "--batch-size", "2", "--window", "2",
              "--precision", "fp32", "--device", "cpu"]
    code, out, err = cli("train", "codec", "-o", tmp_path / "ckpt", "--encoder", f"clip:{clip_dir}", "--epochs", "1",
                         *common)
    assert code == 0, err
    assert "codec (vidmuse conditioner) trained to epoch 1" in out
    code, _, err = cli("train", "codec", "-o", tmp_path / "x", "--encoder", "clip:nowhere/clip", *common)
    assert code == 2 and err.count("\n") == 1 and err.startswith("cuescore: error: CLIP model nowhere/clip not found")
    code, _, err = cli("train", "codec", "-o", tmp_path / "x", "--encoder", "handcrafted", *common)
    assert code == 2 and "need a CLIP" in err
    code, _, err = cli("train", "codec", "-o", tmp_path / "x", "--encoder", f"clip:{clip_dir}", "--pairs", pairs,
                       "--music-model", tmp_path / "no-music")
    assert code == 2 and "no-music not found" in err
    assert not (tmp_path / "x").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, pairs: str, out: str, port: int, opts: dict) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    train_codec(pairs, out, conditioner="vidmuse", epochs=3, **opts)


@pytest.mark.slow
def test_ddp_on_two_processes(music_dir, clip_dir, pairs, tmp_path):
    out = tmp_path / "ddp"
    opts = options(music_dir, clip_dir, batch_size=1)
    mp.spawn(_ddp_worker, args=(str(pairs), str(out), _free_port(), opts), nprocs=2, join=True)
    curve = losses(out)
    assert len(curve) == 3 and curve[-1] < curve[0], curve
    meta = json.loads((out / "config.json").read_text())
    assert meta["training"]["world_size"] == 2 and meta["epoch"] == 3
    # 3 windows over 2 processes: 2 batches of 1 per process and epoch
    assert json.loads((out / "last" / "trainer_state.json").read_text())["step"] == 6
    assert len(list((out / "cache").iterdir())) == 1  # encoded once, by rank 0
