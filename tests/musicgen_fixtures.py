"""A tiny random MusicGen (T5 text encoder, EnCodec, decoder) saved the way the hub stores a real one.

`make_tiny_musicgen(folder)` writes config.json + model.safetensors (transformers
`MusicgenForConditionalGeneration`), generation_config.json, a T5 tokenizer over a small word
vocabulary and the EnCodec feature extractor's preprocessor_config.json, so the real loading code
(`from_pretrained(folder, local_files_only=True)`, `AutoTokenizer`) runs offline. The EnCodec runs
at 8 kHz with 10 frames a second and 2 codebooks of 32, so a minute of music is 600 decoder steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = (
    "music calm tense happy sad dark bright energetic gentle slow fast tempo bpm piano strings drums "
    "synth guitar orchestral ambient cinematic building falling steady soundtrack with and a of at"
).split()


def tiny_t5_tokenizer():
    """A T5 tokenizer (Unigram) whose pieces are ▁-prefixed words, letters and digits."""
    from transformers import T5Tokenizer

    pieces = [("▁" + word, -5.0) for word in WORDS]
    pieces += [(ch, -10.0) for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,-/"]
    pieces += [("▁", -8.0)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)  # T5's limit


def tiny_musicgen_config(*, frame_rate: int = 10, codebooks: int = 2, layers: int = 2, width: int = 32):
    """A `MusicgenConfig`: 2-layer T5 (width 16), EnCodec at 8 kHz / `frame_rate` Hz, a small decoder."""
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, T5Config

    tokenizer = tiny_t5_tokenizer()
    text = T5Config(
        vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )
    ratios = {10: [10, 10, 8], 25: [8, 5, 8], 50: [8, 5, 4]}[frame_rate]
    codebook_size = 32
    bandwidth = codebooks * frame_rate * 5 / 1000  # num_quantizers = 1000 * bw // (frame_rate * log2(32))
    audio = EncodecConfig(
        sampling_rate=8000, upsampling_ratios=ratios, codebook_size=codebook_size, target_bandwidths=[bandwidth],
        num_filters=4, hidden_size=8, num_lstm_layers=1, use_causal_conv=False, norm_type="weight_norm",
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size, num_codebooks=codebooks, hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=2, ffn_dim=2 * width, max_position_embeddings=1024,
        pad_token_id=codebook_size, bos_token_id=codebook_size, decoder_start_token_id=codebook_size,
    )
    return MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder), tokenizer


def make_tiny_musicgen(folder: Path, *, seed: int = 0, **sizes) -> Path:
    """Write a random tiny MusicGen with its tokenizer to `folder`; returns `folder`."""
    import torch
    from transformers import EncodecFeatureExtractor, MusicgenForConditionalGeneration

    folder = Path(folder)
    config, tokenizer = tiny_musicgen_config(**sizes)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(config)
    # At the default init (std 0.02) the memory barely moves the logits; make the condition matter.
    torch.nn.init.normal_(model.enc_to_dec_proj.weight, std=0.2)
    for layer in model.decoder.model.decoder.layers:
        torch.nn.init.normal_(layer.encoder_attn.v_proj.weight, std=0.2)
    pad = config.decoder.pad_token_id
    model.generation_config.update(
        pad_token_id=pad, decoder_start_token_id=pad, bos_token_id=pad, do_sample=True,
        guidance_scale=3.0, max_length=1500,
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    EncodecFeatureExtractor(sampling_rate=config.audio_encoder.sampling_rate).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def music_dir(tmp_path_factory):
    """A tiny random MusicGen saved to a folder, once per test module."""
    return make_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))


def make_tiny_musicgen_melody(folder: Path, *, seed: int = 0, **sizes) -> Path:
    """Write a random tiny MusicGen-melody (chroma prefix of 235 frames, no cross-attention) with its
    tokenizer to `folder`, as the hub stores facebook/musicgen-melody; returns `folder`."""
    import torch
    from transformers import (EncodecFeatureExtractor, MusicgenMelodyConfig, MusicgenMelodyDecoderConfig,
                              MusicgenMelodyForConditionalGeneration)

    folder = Path(folder)
    base, tokenizer = tiny_musicgen_config(**sizes)
    decoder = MusicgenMelodyDecoderConfig(**{k: v for k, v in base.decoder.to_dict().items()
                                             if k in MusicgenMelodyDecoderConfig().to_dict()})
    decoder.max_position_embeddings = 2048
    config = MusicgenMelodyConfig(text_encoder=base.text_encoder, audio_encoder=base.audio_encoder, decoder=decoder)
    torch.manual_seed(seed)
    model = MusicgenMelodyForConditionalGeneration(config)
    # At the default init (std 0.02) the prefix barely moves the logits; make the condition matter.
    torch.nn.init.normal_(model.audio_enc_to_dec_proj.weight, std=0.5)
    torch.nn.init.normal_(model.enc_to_dec_proj.weight, std=0.2)
    pad = config.decoder.pad_token_id
    model.generation_config.update(
        pad_token_id=pad, decoder_start_token_id=pad, bos_token_id=pad, do_sample=True,
        guidance_scale=3.0, max_length=1500,
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    EncodecFeatureExtractor(sampling_rate=config.audio_encoder.sampling_rate).save_pretrained(folder)
    return folder
