"""`cuescore convert vidmuse`: a VidMuse-layout checkpoint written here converts with equal logits."""

from __future__ import annotations

import collections
import json
import os
import sys
import types
import typing

import pytest
import torch

from cuescore.convert.vidmuse import LICENCE, convert_vidmuse, read_vidmuse_package
from cuescore.errors import InputError, OptionError
from cuescore.models.codec_checkpoint import load_codec_checkpoint
from cuescore.models.codec_model import delayed_sequence

from cli_runner import cli
from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)
from musicgen_fixtures import music_dir  # noqa: F401  (fixture)
from vidmuse_reference import seeded_reference

# The LM matches the tiny MusicGen (width 32, 2 heads, 2 layers, 2 codebooks of 32); the CLIP
# tower keeps ViT-B/32's layout (50 tokens of width 768) with 2 layers instead of 12.
SIZES = dict(dim=32, heads=2, layers=2, ffn=64, n_q=2, card=32, clip_layers=2)


@pytest.fixture(scope="module")
def reference():
    return seeded_reference(seed=0, **SIZES)


@pytest.fixture(scope="module")
def vidmuse_file(reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("vidmuse") / "state_dict.bin"
    torch.save(reference.package(), path)
    return path


def frames(n: int, seed: int) -> torch.Tensor:
    return torch.randn(1, n, 3, 224, 224, generator=torch.Generator().manual_seed(seed))


def assert_same_logits(reference, converted) -> float:
    local, global_ = frames(2, 1), frames(3, 2)
    codes = torch.randint(0, 32, (1, 2, 7), generator=torch.Generator().manual_seed(3))
    sequence = delayed_sequence(codes, 32)
    inputs = {"short_pixels": local, "long_pixels": global_, "position": torch.tensor([[0.25, 0.75]])}
    with torch.no_grad():
        want = reference(sequence, local, global_)
        got = converted.decoder_logits(sequence, *converted.memory(inputs))
    diff = float((want - got).abs().max())
    assert want.std() > 0.1 and diff < 1e-4, diff
    return diff


@pytest.mark.slow
def test_converted_checkpoint_gives_vidmuse_logits(reference, vidmuse_file, music_dir, tmp_path):
    done = convert_vidmuse(vidmuse_file, tmp_path / "ckpt", music_model=str(music_dir))
    assert done.config_from == "xp.cfg" and done.conditioner.long_frames == 64 and done.conditioner.patches == 50
    assert done.unused == []
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert meta["licence"] == LICENCE == "CC-BY-NC-4.0" and meta["trained_with_text"] is False
    assert meta["encoder"] == "clip:openai/clip-vit-base-patch32" and meta["lm_trained"] is True
    converted = load_codec_checkpoint(tmp_path / "ckpt")
    assert_same_logits(reference, converted)
    with pytest.raises(OptionError, match="trained without text"):
        converted.memory({"short_pixels": frames(1, 0), "long_pixels": frames(1, 0)}, prompt="calm piano")


class _Opaque:
    """Stands for omegaconf's DictConfig in a training checkpoint (pickled by reference)."""

    def __init__(self, content: dict) -> None:
        self.content = content


@pytest.mark.slow
def test_unexported_checkpoint_with_an_omegaconf_config(reference, music_dir, tmp_path, monkeypatch):
    """xp.cfg pickled as an object of module omegaconf: read inertly, sizes from the tensors."""
    fake = types.ModuleType("omegaconf.dictconfig")
    _Opaque.__module__, _Opaque.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    fake.DictConfig = _Opaque
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", fake)
    path = tmp_path / "raw.th"
    # omegaconf's metadata names plain types and typing.Any; a real DictConfig pickles the same globals
    config = _Opaque({"lr": 1e-4, "key_type": str, "ref_type": typing.Any, "flags": collections.defaultdict(list)})
    torch.save({**reference.package(with_config=False), "xp.cfg": config}, path)
    monkeypatch.delitem(sys.modules, "omegaconf.dictconfig")
    monkeypatch.delitem(sys.modules, "omegaconf")
    state, xp = read_vidmuse_package(path)
    assert xp is None and "emb.0.weight" in state
    done = convert_vidmuse(path, tmp_path / "ckpt", music_model=str(music_dir))
    assert done.config_from == "tensor shapes" and done.decoder["num_attention_heads"] == 2
    assert_same_logits(reference, load_codec_checkpoint(tmp_path / "ckpt"))


class _Exploit:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_vidmuse_package(tmp_path / "absent.bin")
    torch.save({"best_state": {}, "hook": _Exploit()}, tmp_path / "evil.bin")
    with pytest.raises(InputError, match="safe load refuses it"):
        read_vidmuse_package(tmp_path / "evil.bin")
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "other.bin")
    with pytest.raises(InputError, match="no 'best_state'"):
        read_vidmuse_package(tmp_path / "other.bin")
    (tmp_path / "cut.bin").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="unreadable or truncated"):
        read_vidmuse_package(tmp_path / "cut.bin")


@pytest.mark.slow
def test_cli_convert_vidmuse(vidmuse_file, music_dir, tmp_path):
    code, out, err = cli("convert", "vidmuse", vidmuse_file, "-o", tmp_path / "ckpt", "--music-model", music_dir)
    assert code == 0, err
    assert "CC-BY-NC-4.0" in out and "2 layers" in out
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    code, out, err = cli("convert", "vidmuse", tmp_path / "absent.bin", "-o", tmp_path / "other")
    assert code == 2 and err.count("\n") == 1 and "no such file" in err
    assert not (tmp_path / "other").exists()
