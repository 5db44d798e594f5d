"""Audio from MusicGen-melody conditioned on a chromagram and text, in windows of any length.

transformers' `MusicgenMelodyForConditionalGeneration` has no cross-attention: its condition is
a prefix of the decoder's input sequence (checked against transformers 5.25's
`_prepare_encoder_hidden_states_kwargs_for_generation`):

    prefix = [audio_enc_to_dec_proj(chroma) tiled / cut to chroma_length (235) frames,
              enc_to_dec_proj(T5(text)) × text mask]            → [B, 235 + S, D]

`input_features` (chroma) is one-hot per frame (its feature extractor's argmax). The null
condition of classifier-free guidance is the chroma of silence (one-hot on bin 0, tiled) followed
by zeros in place of the text. The decoder's own `generate` would put an all-zero prefix in the
unconditional half; `_null_prefix` swaps in the model's real null instead (both halves checked against the
model's own prefix), and one window with
greedy decoding gives exactly the codes of the model's own `generate` (tests/test_guided.py).

Windows come from `codec_generate.generate_codes` (token prompts across windows, chunked EnCodec
decoding, exact length); each window gets the chroma of the 30 s that start at the window's start,
prompt region included, from `chroma_for_window(start_s)`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from cuescore.models.codec_generate import Sampling, sampling_config

ChromaFn = Callable[[float], np.ndarray]
"""`chroma_for_window(start_s)` -> one-hot chroma [F <= 235, 12] of the 30 s from `start_s` on."""
TextFn = Callable[[float, float], str]
"""`caption(start_s, end_s)` -> the text for a window."""


def chroma_states(music, chroma: Tensor) -> Tensor:
    """Prefix part [B, chroma_length, D] of a chroma [B, F, 12]: projected, tiled, cut (as transformers)."""
    states = chroma.to(music.dtype)
    if music.config.num_chroma != music.decoder.config.hidden_size:
        states = music.audio_enc_to_dec_proj(states)
    length = music.config.chroma_length
    if states.shape[1] < length:
        states = states.repeat(1, math.ceil(length / states.shape[1]), 1)
    return states[:, :length]


def null_chroma(music, batch: int, device) -> Tensor:
    """The chroma of silence [B, 1, 12]: one-hot on bin 0, the model's unconditional melody."""
    chroma = torch.zeros((batch, 1, music.config.num_chroma), device=device)
    chroma[:, :, 0] = 1
    return chroma


class MelodyCondition:
    """`memory_for_window` for MusicGen-melody: (prefix [B, P, D], null prefix [B, P, D] | None).

    chroma_for_window: the window's chroma; caption: the window's text (None = chroma only);
    tokenizer: the model's T5 tokenizer (needed with a caption); guidance > 1 adds the null prefix.
    Windows with the same caption share one text encoding; `captions` lists each window's text.
    """

    def __init__(self, music, chroma_for_window: ChromaFn, *, caption: TextFn | None = None, tokenizer=None,
                 guidance: float = 3.0) -> None:
        if caption is not None and tokenizer is None:
            raise ValueError("a caption needs the model's tokenizer")
        self.music, self.chroma_for_window, self.caption = music, chroma_for_window, caption
        self.tokenizer, self.guidance = tokenizer, guidance
        self.captions: list[str] = []
        self._text: tuple[str, Tensor] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.music.decoder.parameters()).device

    def text_states(self, text: str) -> Tensor:
        """Prefix part [1, S, D] of `text`: T5, `enc_to_dec_proj` when the widths differ, × mask."""
        if self._text is None or self._text[0] != text:
            tokens = self.tokenizer(text, return_tensors="pt").to(self.device)
            hidden = self.music.text_encoder(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
            states = hidden.last_hidden_state
            if self.music.text_encoder.config.hidden_size != self.music.decoder.config.hidden_size:
                states = self.music.enc_to_dec_proj(states)
            self._text = (text, states * tokens.attention_mask[..., None].to(states.dtype))
        return self._text[1]

    @torch.no_grad()
    def __call__(self, start_s: float, end_s: float) -> tuple[Tensor, Tensor | None]:
        chroma = torch.as_tensor(np.asarray(self.chroma_for_window(start_s), np.float32), device=self.device)[None]
        silence = null_chroma(self.music, 1, self.device)
        cond, null = [chroma_states(self.music, chroma)], [chroma_states(self.music, silence)]
        if self.caption is not None:
            text = self.caption(start_s, end_s)
            self.captions.append(text)
            states = self.text_states(text)
            cond.append(states)
            null.append(torch.zeros_like(states))
        prefix = torch.cat(cond, dim=1)
        return prefix, (torch.cat(null, dim=1) if self.guidance > 1 else None)


@contextmanager
def _null_prefix(decoder, null: Tensor | None) -> Iterator[None]:
    """While open, the decoder's guidance pairs its prefix with `null` instead of zeros: its
    `prepare_inputs_for_generation` stacks [prefix, zeros] on the batch axis; the zeros are replaced."""
    if null is None:
        yield
        return
    original = decoder.prepare_inputs_for_generation

    def prepare(*args, **kwargs):
        inputs = original(*args, **kwargs)
        states = inputs.get("encoder_hidden_states")
        if states is not None:
            inputs["encoder_hidden_states"] = torch.cat([states[: null.shape[0]], null.to(states.dtype)])
        return inputs

    decoder.prepare_inputs_for_generation = prepare
    try:
        yield
    finally:
        del decoder.prepare_inputs_for_generation


@torch.no_grad()
def prefix_window(music, memories: tuple, prompt: Tensor, new_frames: int, sampling: Sampling) -> Tensor:
    """A `codec_generate.WindowFn` for MusicGen-melody: codes [B, K, new_frames] continuing `prompt`
    [B, K, P] after the prefix `memories` = (prefix, null prefix | None) from `MelodyCondition`."""
    prefix, null = memories
    batch, codebooks, prompt_frames = prompt.shape
    start_id = int(music.generation_config.decoder_start_token_id)
    start = torch.full((batch, codebooks, 1), start_id, dtype=torch.long, device=prompt.device)
    input_ids = torch.cat([start, prompt], dim=-1).reshape(batch * codebooks, prompt_frames + 1)
    config = sampling_config(music, sampling)
    config.update(max_length=prompt_frames + new_frames + codebooks)  # K - 1 steps more for the delay pattern
    with _null_prefix(music.decoder, null if config.guidance_scale else None):
        codes = music.decoder.generate(
            input_ids=input_ids,
            attention_mask=torch.ones(batch, prompt_frames + 1, dtype=torch.long, device=prompt.device),
            encoder_hidden_states=prefix.to(music.dtype),
            generation_config=config,
        )
    return codes[:, :, prompt_frames:]
