"""Training on the synthetic MuVi-Sync: learning, resume, DDP on 2 CPU processes, evaluation."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from cuescore.errors import OutputError
from cuescore.evaluation.amt_metrics import emotion_correspondence, evaluate_amt, hits_at_k
from cuescore.models import load_model
from cuescore.music.chords import END, PAD, parse_chord
from cuescore.training.loop import train_amt, train_regression
from cuescore.training.losses import affective_targets, amt_loss

from muvisync_fixtures import SEMANTIC_FOLDER, make_muvisync, one_thread  # noqa: F401 (autouse fixture)

FAST = {"model_size": "debug", "max_len": 32, "semantic": SEMANTIC_FOLDER, "progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_muvisync(tmp_path_factory.mktemp("muvisync"))


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_affective_targets_and_loss() -> None:
    tgt = torch.tensor([[parse_chord("A:min").token, END, PAD]])
    emotion = torch.zeros(1, 3, 6)
    emotion[0, :, 3] = 0.9  # sad
    targets = affective_targets(tgt, emotion)
    sad = {parse_chord(f"{r}:{q}").token for r in ("C", "F#", "B") for q in ("min", "min7", "sus2")}
    assert all(targets[0, 0, t] == 1 for t in sad) and targets[0, 0].sum() == 36
    assert targets[0, 1].nonzero().flatten().tolist() == [END]
    assert targets[0, 2].nonzero().flatten().tolist() == [PAD]
    logits = torch.randn(1, 3, 159)
    parts = amt_loss(logits, tgt, emotion, smoothing=0.0)
    torch.testing.assert_close(parts["loss"], 0.4 * parts["chord"] + 0.6 * parts["affective"])


def test_metrics_on_known_predictions() -> None:
    amin, c = parse_chord("A:min").token, parse_chord("C").token
    logits = torch.full((1, 3, 159), -5.0)
    logits[0, 0, amin] = 5.0
    logits[0, 1, c] = 5.0
    logits[0, 1, amin] = 4.0
    tgt = torch.tensor([[amin, amin, PAD]])
    assert hits_at_k(logits, tgt, 1).tolist() == [0.5]
    assert hits_at_k(logits, tgt, 3).tolist() == [1.0]
    emotion = torch.zeros(1, 3, 6)
    emotion[0, 0, 3] = 0.9  # sad, confident: A:min suits
    emotion[0, 1, 3] = 0.5  # below the 0.8 threshold: not counted
    assert emotion_correspondence(logits.argmax(-1), tgt, emotion, ("exciting", "fearful", "tense", "sad", "relaxing",
                                                                     "neutral")).tolist() == [1.0]


def test_training_lowers_validation_loss_and_evaluates(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "amt"
    summary = train_amt(data, out, epochs=20, batch_size=2, lr=3e-3, warmup_steps=30, **FAST)
    assert summary["steps"] == 240 and summary["kind"] == "amt"
    log = metrics(out)
    assert [e["epoch"] for e in log] == list(range(21))
    first, best = log[0]["val_loss"], summary["best_val_loss"]
    assert best < 0.6 * first, (first, best)
    assert log[-1]["val_hits@1"] > 0.3 > log[0]["val_hits@1"]
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "amt" and config["epoch"] == summary["best_epoch"]
    assert config["features"]["semantic_encoder"] == {"name": "synthetic", "id": "synthetic", "dim": 8}
    result = evaluate_amt(data, out, "test")
    assert result["videos"] == 6 and result["hits@1"] <= result["hits@3"] <= result["hits@5"]
    assert result["hits@5"] > 0.5 and 0 <= result["emotion_correspondence"] <= 1
    model = load_model(out)
    assert model.config.max_len == 32 and not model.training


def test_resume_continues_the_run(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "mt"
    train_amt(data, out, epochs=1, batch_size=8, video=False, rpr=False, **FAST)
    with pytest.raises(OutputError, match="already holds a training run"):
        train_amt(data, out, epochs=2, batch_size=8, video=False, **FAST)
    summary = train_amt(data, out, epochs=3, batch_size=8, video=False, resume=True, **FAST)
    assert [e["epoch"] for e in summary["history"]] == [2, 3] and summary["steps"] == 9
    assert [e["epoch"] for e in metrics(out)] == [0, 1, 2, 3]
    state = json.loads((out / "last" / "trainer_state.json").read_text())
    assert state["epoch"] == 3 and state["step"] == 9
    assert evaluate_amt(data, out, "val")["kind"] == "music_transformer"


def test_regression_trains_and_reports_rmse(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "reg"
    summary = train_regression(data, out, epochs=6, batch_size=4, lr=1e-2, **FAST)
    log = metrics(out)
    assert summary["best_val_loss"] < 0.5 * log[0]["val_loss"]
    result = evaluate_amt(data, out)
    assert result["kind"] == "regression" and result["rmse_loudness"] < result["rmse_note_density"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, data: str, out: str, port: int) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    train_amt(data, out, epochs=6, batch_size=2, lr=3e-3, warmup_steps=10, **FAST)


def test_ddp_two_processes_follow_the_single_process_curve(data: Path, tmp_path: Path) -> None:
    single = tmp_path / "one"
    train_amt(data, single, epochs=6, batch_size=4, lr=3e-3, warmup_steps=10, **FAST)
    double = tmp_path / "two"
    mp.spawn(_ddp_worker, args=(str(data), str(double), _free_port()), nprocs=2, join=True)
    one = np.array([e["val_loss"] for e in metrics(single)])
    two = np.array([e["val_loss"] for e in metrics(double)])
    assert len(one) == len(two) == 7
    assert one[0] == pytest.approx(two[0], rel=1e-5)  # same initial model, all val videos seen once
    assert (np.diff(one) < 0).sum() >= 4 and (np.diff(two) < 0).sum() >= 4
    assert np.abs(one - two).max() < 0.15 * one[0]
    assert np.corrcoef(one, two)[0, 1] > 0.95
    config = json.loads((double / "config.json").read_text())
    assert config["training"]["world_size"] == 2 and config["training"]["batch_size"] == 2
