"""The `codec` engine end to end: tiny random MusicGen (8 kHz, 10 frames/s) and VidMuse models saved
to folders, `cuescore generate --engine codec` on small videos made by the test."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cli_runner import cli  # noqa: E402
from cuescore.controls import Controls  # noqa: E402
from cuescore.engines import get_engine  # noqa: E402
from cuescore.errors import InputError, OptionError  # noqa: E402
from feature_fixtures import make_features  # noqa: E402
from musicgen_fixtures import make_tiny_musicgen  # noqa: E402
from video_factory import make_video  # noqa: E402


@pytest.fixture(scope="module")
def music_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return make_tiny_musicgen(tmp_path_factory.mktemp("codec") / "tiny-musicgen")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3 s, 10 fps clip with changing colours."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", n_frames=30, fps=10, size=(96, 64))


@pytest.fixture(scope="module")
def vidmuse_checkpoint(music_dir, tmp_path_factory):
    """A tiny VidMuse-conditioned checkpoint (CLIP tower of 32 px, 17 tokens) on the tiny MusicGen."""
    from codec_fixtures import randomise, tiny_vidmuse_config
    from cuescore.models.codec_checkpoint import save_codec_checkpoint
    from cuescore.models.codec_model import CodecConfig, CodecModel, load_music_model
    from cuescore.models.video_conditioner import VidMuseConditioner

    conditioner = randomise(VidMuseConditioner(tiny_vidmuse_config(out_dim=32)))
    config = CodecConfig(music_model=str(music_dir), conditioner="vidmuse",
                         conditioner_config=conditioner.config.to_dict(), licence="CC-BY-NC-4.0", source="test")
    model = CodecModel(load_music_model(music_dir), conditioner, config)
    return save_codec_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "vidmuse")


def _video_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size > 0]


def test_text_mode_scores_a_clip_to_its_exact_length(music_dir, clip, tmp_path):
    out = tmp_path / "scored.mp4"
    code, _, err = cli("generate", clip, "-o", out, "--engine", "codec", "--music-model", music_dir,
                       "--prompt", "gentle piano", "--seed", "7")
    assert code == 0, err
    audio, rate = sf.read(out.with_suffix(".wav"), always_2d=True)
    assert rate == 8000 and audio.shape[0] == 3 * 8000 and np.abs(audio).max() > 0.01
    assert _video_packets(out) == _video_packets(clip)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].sample_rate == 8000
    record = json.loads(out.with_suffix(".json").read_text())["engine_record"]
    assert record["music_model"] == str(music_dir) and record["conditioner"] is None
    assert record["windows"] == [[0.0, 3.0]] and record["sample_rate"] == 8000 and record["guidance"] == 3.0
    assert len(record["captions"]) == 1 and record["captions"][0].startswith("gentle piano. ")
    assert "BPM" in record["captions"][0] and record["licence"] == "CC-BY-NC-4.0"
    assert not out.with_suffix(".mid").exists()


def test_seventy_seconds_in_three_windows_each_with_its_caption(music_dir):
    features = make_features(70.0, cuts=[35.0], emotion=["sad", "exciting"])
    engine = get_engine("codec", Controls(seed=1), music_model=str(music_dir), guidance=1.0)
    composition = engine.compose(features)
    assert composition.audio.samples.shape == (1, 70 * 8000) and composition.plan is None
    record = composition.record
    assert record.windows == [[0.0, 30.0], [29.5, 59.5], [59.0, 70.0]]
    assert "sad" in record.captions[0] and "joyful" in record.captions[2]
    assert record.real_time_factor > 0


def test_vidmuse_checkpoint_conditions_on_the_frames(music_dir, vidmuse_checkpoint, clip, tmp_path):
    out = tmp_path / "vidmuse.mp4"
    code, _, err = cli("generate", clip, "-o", out, "--engine", "codec", "--checkpoint", vidmuse_checkpoint,
                       "--music-model", music_dir)
    assert code == 0, err
    assert "licensed CC-BY-NC-4.0" in err
    assert sf.info(str(out.with_suffix(".wav"))).frames == 3 * 8000
    record = json.loads(out.with_suffix(".json").read_text())["engine_record"]
    assert record["conditioner"] == "vidmuse" and record["checkpoint"] == str(vidmuse_checkpoint)
    assert record["captions"] == [] and record["windows"] == [[0.0, 3.0]]


def test_vidmuse_windows_read_their_own_frames(music_dir, vidmuse_checkpoint, clip):
    """Two windows of a clip whose first and second halves differ get different memories."""
    from cuescore.models.codec_conditioning import WindowMemory

    engine = get_engine("codec", Controls(), checkpoint=str(vidmuse_checkpoint), music_model=str(music_dir))
    features = make_features(3.0)
    features.source = str(clip)
    memory = engine._window_memory(features)
    assert isinstance(memory, WindowMemory)
    first, mask, uncond, _ = memory(0.0, 1.5)
    second = memory(1.5, 3.0)[0]
    assert first.shape == (1, 3 * 17, 32) and mask.shape == (1, 51) and uncond.shape == first.shape
    assert not np.allclose(first.numpy(), second.numpy())
    features.source = "fixture"
    with pytest.raises(InputError, match="fixture, which is not a file"):
        engine.compose(features)


@pytest.mark.parametrize("args, message", [
    ((), "engine codec needs --music-model"),
    (("--music-model", "/nowhere/musicgen"), "music model /nowhere/musicgen not found: download it with `hf download"),
    (("--music-model", "facebook/musicgen-never-downloaded"), "hf download facebook/musicgen-never-downloaded"),
    (("--checkpoint", "/nowhere/ckpt"), "/nowhere/ckpt"),
    (("--stride", "40"), "--stride '40' is not allowed"),
])
def test_bad_options_are_one_line_and_write_nothing(music_dir, clip, tmp_path, args, message):
    out = tmp_path / "out" / "x.mp4"
    out.parent.mkdir()
    code, _, err = cli("generate", clip, "-o", out, "--engine", "codec", *args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert list(out.parent.iterdir()) == []


def test_prompt_refused_by_a_checkpoint_trained_without_text(music_dir, vidmuse_checkpoint, clip, tmp_path):
    code, _, err = cli("generate", clip, "-o", tmp_path / "x.mp4", "--engine", "codec", "--checkpoint",
                       vidmuse_checkpoint, "--music-model", music_dir, "--prompt", "piano")
    assert code == 2 and "trained without text" in err
    assert list(tmp_path.iterdir()) == []


def test_over_long_prompt_is_an_error_not_cut(music_dir, clip, tmp_path):
    code, _, err = cli("generate", clip, "-o", tmp_path / "x.mp4", "--engine", "codec", "--music-model", music_dir,
                       "--prompt", "piano " * 600)
    assert code == 2 and "--prompt is" in err and "shorten it" in err
    assert list(tmp_path.iterdir()) == []


def test_licence_comes_from_the_model_card(tmp_path):
    from cuescore.engines.codec import model_licence

    (tmp_path / "README.md").write_text("---\nlicense: apache-2.0\ntags:\n- audio\n---\n# A model\n")
    assert model_licence(str(tmp_path)) == "APACHE-2.0"
    assert model_licence("facebook/musicgen-small") == "CC-BY-NC-4.0"
    assert model_licence(str(tmp_path / "elsewhere")) == "unknown: see the model card"


@pytest.fixture(scope="module")
def thesis_checkpoint(music_dir, tmp_path_factory):
    """A tiny thesis checkpoint reading 8-wide semantic rows (the width of `make_features`'s)."""
    from codec_fixtures import randomise, tiny_thesis_config
    from cuescore.models.codec_checkpoint import save_codec_checkpoint
    from cuescore.models.codec_model import CodecConfig, CodecModel, load_music_model
    from cuescore.models.video_conditioner import ThesisConditioner

    conditioner = randomise(ThesisConditioner(tiny_thesis_config(in_dim=8, out_dim=16)))
    config = CodecConfig(music_model=str(music_dir), conditioner="thesis", encoder="handcrafted",
                         conditioner_config=conditioner.config.to_dict())
    model = CodecModel(load_music_model(music_dir), conditioner, config)
    return save_codec_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "thesis")


def test_thesis_checkpoint_reads_the_semantic_rows(music_dir, thesis_checkpoint):
    engine = get_engine("codec", Controls(), checkpoint=str(thesis_checkpoint), music_model=str(music_dir))
    assert engine.analysis_needs().encoder == "handcrafted"
    features = make_features(4.0)
    features.semantic = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    composition = engine.compose(features)
    assert composition.audio.samples.shape == (1, 4 * 8000) and composition.record.conditioner == "thesis"
    features.semantic = np.zeros((4, 5), np.float32)
    with pytest.raises(OptionError, match="5 wide, the checkpoint reads 8"):
        engine.compose(features)


def test_stride_longer_than_the_checkpoints_window_fails_before_work(music_dir, tmp_path):
    from codec_fixtures import tiny_vidmuse_config
    from cuescore.models.codec_checkpoint import save_codec_checkpoint
    from cuescore.models.codec_model import CodecConfig, CodecModel, load_music_model
    from cuescore.models.video_conditioner import VidMuseConditioner

    conditioner = VidMuseConditioner(tiny_vidmuse_config(out_dim=32, window_seconds=10.0))
    config = CodecConfig(music_model=str(music_dir), conditioner="vidmuse", conditioner_config=conditioner.config.to_dict())
    ckpt = save_codec_checkpoint(CodecModel(load_music_model(music_dir), conditioner, config), tmp_path / "ckpt")
    with pytest.raises(OptionError, match="--stride 20 is longer than the model's 10 s window"):
        get_engine("codec", Controls(), checkpoint=str(ckpt), music_model=str(music_dir), stride=20.0)
    assert get_engine("codec", Controls(), checkpoint=str(ckpt), music_model=str(music_dir), stride=9.5).window_s == 10.0
