"""The video-conditioned MusicGen: loading, conditioners, memory layout, delay pattern, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from cuescore.errors import InputError, OptionError
from cuescore.models.codec_checkpoint import (
    check_codec_checkpoint,
    load_codec_checkpoint,
    read_codec_config,
    save_codec_checkpoint,
)
from cuescore.models.codec_model import CodecConfig, CodecModel, delayed_sequence, load_music_model, load_music_tokenizer
from cuescore.models.video_conditioner import ThesisConditioner, VidMuseConditioner

from codec_fixtures import randomise, tiny_thesis_config, tiny_vidmuse_config, vidmuse_inputs
from muvisync_fixtures import one_thread  # noqa: F401  (autouse: one torch thread)
from musicgen_fixtures import music_dir  # noqa: F401  (fixture)


def vidmuse_model(music_dir, trained_with_text=False, seed=0) -> CodecModel:
    torch.manual_seed(seed)
    cfg = tiny_vidmuse_config()
    config = CodecConfig(music_model=str(music_dir), conditioner="vidmuse", conditioner_config=cfg.to_dict(),
                         licence="CC-BY-NC-4.0", trained_with_text=trained_with_text)
    return CodecModel(load_music_model(music_dir), VidMuseConditioner(cfg), config, load_music_tokenizer(music_dir))


def test_missing_music_model_names_it(tmp_path):
    with pytest.raises(OptionError, match=r"music model facebook/musicgen-nope not found: download it with `hf download"):
        load_music_model("facebook/musicgen-nope")
    with pytest.raises(OptionError, match="not found"):
        load_music_model(tmp_path / "absent")


def test_vidmuse_memory_shape_and_zero_position(music_dir):
    model = vidmuse_model(music_dir)
    inputs = vidmuse_inputs(batch=2, short=3, long=4)
    memory, mask = model.memory(inputs)
    assert memory.shape == (2, 3 * 17, 32) and mask.shape == (2, 3 * 17) and bool(mask.all())
    # The window position is zero-initialised: it changes nothing until trained.
    moved = dict(inputs, position=torch.tensor([[0.0, 0.1], [0.9, 1.0]]))
    torch.testing.assert_close(model.memory(moved)[0], memory)
    randomise(model.conditioner.position)
    assert not torch.allclose(model.memory(moved)[0], memory)
    # VidMuse outputs the decoder width: MusicGen's projection is the identity.
    torch.testing.assert_close(model.decoder_memory(memory, mask), memory)


def test_pixels_and_cached_tokens_give_the_same_memory(music_dir):
    model = vidmuse_model(music_dir)
    inputs = vidmuse_inputs()
    tokens = model.conditioner.tokens_from_inputs(inputs)
    assert tokens["short_tokens"].shape == (2, 3, 17, 32)
    torch.testing.assert_close(model.memory(tokens)[0], model.memory(inputs)[0])


def test_unconditional_memory_is_black_frames(music_dir):
    model = vidmuse_model(music_dir)
    inputs = vidmuse_inputs()
    black = model.conditioner.black_pixels(1)[0]
    expected = model.memory({"short_pixels": black.expand(2, 3, *black.shape),
                             "long_pixels": black.expand(2, 4, *black.shape), "position": inputs["position"]})[0]
    uncond, mask = model.unconditional_memory(inputs)
    torch.testing.assert_close(uncond, expected)
    assert uncond.shape == model.memory(inputs)[0].shape and bool(mask.all())


def test_text_prompt_is_concatenated_after_projection(music_dir):
    model = vidmuse_model(music_dir, trained_with_text=True)
    inputs = vidmuse_inputs()
    memory, mask = model.memory(inputs, prompt="calm piano")
    text, text_mask = model.encode_text("calm piano")
    assert text.shape[-1] == 32  # the T5 width 16 projected to the decoder's 32
    assert memory.shape == (2, 51 + text.shape[1], 32)
    torch.testing.assert_close(memory[:, 51:], text.expand(2, -1, -1))
    uncond, uncond_mask = model.unconditional_memory(inputs, prompt="calm piano")
    assert uncond.shape == memory.shape and not uncond_mask[:, 51:].any() and not uncond[:, 51:].any()


def test_prompt_refused_by_a_checkpoint_trained_without_text(music_dir):
    model = vidmuse_model(music_dir, trained_with_text=False)
    with pytest.raises(OptionError, match="trained without text"):
        model.memory(vidmuse_inputs(), prompt="calm piano")


def test_prompt_over_the_tokenizer_limit_is_an_error(music_dir):
    model = CodecModel(load_music_model(music_dir), None, CodecConfig(music_model=str(music_dir)),
                       load_music_tokenizer(music_dir))
    model.tokenizer.model_max_length = 8
    with pytest.raises(OptionError, match="at most 8"):
        model.memory(None, prompt="calm piano with strings and drums at a slow tempo")
    memory, mask = model.memory(None, prompt="calm piano", batch=3)
    assert memory.shape[0] == 3 and memory.shape[-1] == 16  # text width: MusicGen projects it itself


def test_delay_pattern_matches_transformers(music_dir):
    music = load_music_model(music_dir)
    codes = torch.randint(0, 32, (1, 2, 5))
    seq = delayed_sequence(codes, 32)
    # transformers' own pattern for the same codes (start token included, 7 steps)
    ids = torch.cat([torch.full((1, 2, 1), 32), codes], dim=2).reshape(2, -1)
    _, pattern = music.decoder.build_delay_pattern_mask(ids, pad_token_id=32, max_length=seq.shape[-1])
    assert torch.equal(seq.reshape(2, -1), pattern)


def test_logits_agree_with_greedy_generation(music_dir):
    """Teacher-forced logits pick the codes the decoder's own greedy `generate` picks."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    model = vidmuse_model(music_dir)
    randomise(model.conditioner, seed=3)
    memory, mask = model.memory(vidmuse_inputs(batch=1))
    start = torch.full((2, 1), model.special_token)
    # transformers 5.25: give the decoder an EncoderDecoderCache, else cross-attention shares the
    # self-attention cache, and a mask of ones, else the start token (= pad) is masked out.
    codes = model.music.decoder.generate(
        input_ids=start, attention_mask=torch.ones_like(start), encoder_hidden_states=model.decoder_memory(memory, mask),
        encoder_attention_mask=mask, cache=EncoderDecoderCache(DynamicCache(), DynamicCache()), do_sample=False,
        max_new_tokens=10, guidance_scale=None, num_return_sequences=1)
    assert codes.shape == (1, 2, 9)
    assert torch.equal(model.logits(codes, memory, mask).argmax(-1), codes)


def test_logits_do_not_see_the_future(music_dir):
    model = vidmuse_model(music_dir)
    memory, mask = model.memory(vidmuse_inputs(batch=1))
    codes = torch.randint(0, 32, (1, 2, 8))
    changed = codes.clone()
    changed[:, :, 5:] = (changed[:, :, 5:] + 1) % 32
    a, b = model.logits(codes, memory, mask), model.logits(changed, memory, mask)
    for k in range(2):
        # code (k, t) sits at step t + k + 1; it may only see steps <= t + k
        torch.testing.assert_close(a[:, k, : 5 - k], b[:, k, : 5 - k])
        assert not torch.allclose(a[:, k, 5 - k + 1 :], b[:, k, 5 - k + 1 :])


def test_thesis_conditioner_enters_through_the_projection(music_dir):
    cfg = tiny_thesis_config(in_dim=12, out_dim=16)
    config = CodecConfig(music_model=str(music_dir), conditioner="thesis", conditioner_config=cfg.to_dict())
    model = CodecModel(load_music_model(music_dir), ThesisConditioner(cfg), config).eval()
    semantic = torch.randn(2, 30, 12)
    memory, mask = model.memory({"semantic": semantic})
    assert memory.shape == (2, 30, 16)
    projected = model.decoder_memory(memory, mask)
    torch.testing.assert_close(projected, model.music.enc_to_dec_proj(memory))
    model.conditioner.null_row.copy_(torch.randn(12))
    uncond, _ = model.unconditional_memory({"semantic": semantic})
    torch.testing.assert_close(uncond, model.conditioner(model.conditioner.null_row.expand(2, 30, 12)))
    assert model.logits(torch.randint(0, 32, (2, 2, 6)), memory, mask).shape == (2, 2, 6, 32)


@pytest.mark.parametrize("lm_trained", [False, True])
def test_checkpoint_round_trip(music_dir, tmp_path, lm_trained):
    model = vidmuse_model(music_dir)
    randomise(model.conditioner, seed=5)
    model.config.lm_trained = lm_trained
    if lm_trained:
        randomise(model.music.decoder, seed=6)
    out = save_codec_checkpoint(model, tmp_path / "ckpt", extra={"training": {"epochs": 1}})
    meta = json.loads((out / "config.json").read_text())
    assert meta["licence"] == "CC-BY-NC-4.0" and meta["conditioner"] == "vidmuse" and meta["lm_trained"] is lm_trained
    loaded = load_codec_checkpoint(out)
    inputs, codes = vidmuse_inputs(), torch.randint(0, 32, (2, 2, 6))
    with torch.no_grad():
        expected = model.eval().logits(codes, *model.memory(inputs))
        got = loaded.logits(codes, *loaded.memory(inputs))
    torch.testing.assert_close(got, expected)
    stock = load_music_model(music_dir).decoder.state_dict()
    assert torch.equal(loaded.music.decoder.state_dict()["lm_heads.0.weight"], stock["lm_heads.0.weight"]) != lm_trained


def test_checkpoint_errors(music_dir, tmp_path):
    with pytest.raises(InputError, match="train one with `cuescore train codec`"):
        read_codec_config(tmp_path / "nothing")
    model = vidmuse_model(music_dir)
    out = save_codec_checkpoint(model, tmp_path / "ckpt")
    config, _ = read_codec_config(out)
    with pytest.raises(OptionError, match="vidmuse conditioner, not thesis"):
        check_codec_checkpoint(config, conditioner="thesis")
    config.encoder = "clip:openai/clip-vit-base-patch32"
    with pytest.raises(OptionError, match="made for the encoder clip:openai/clip-vit-base-patch32"):
        check_codec_checkpoint(config, encoder="clip:openai/clip-vit-large-patch14")
    with pytest.raises(OptionError, match="music model elsewhere/nothing not found"):
        load_codec_checkpoint(out, music_model="elsewhere/nothing")
