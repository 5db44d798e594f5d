"""Music of any length from a MusicGen decoder: windowed token generation and chunked EnCodec decoding.

The decoder's window is 30 s. A longer piece is generated in windows `stride_s` apart (29.5 s, as
VidMuse): each window after the first gets the previous window's last `window_s - stride_s`
seconds of codes as a token prompt (start token in front; the prompt frames are dropped from its
output), so the music continues across the seam. Windows run through the decoder's own `generate`
(`MusicgenForCausalLM.generate`), which keeps the codes; the top-level `generate` would decode them
to audio. The tokens then go through EnCodec in overlapping chunks, cross-faded, so neither the
decoder's key/value cache nor EnCodec's activations grow with the length of the piece; only the
output audio does.

Conditioning comes from a callable `memory_for_window(start_s, end_s)` returning what MusicGen
takes as `encoder_outputs` / `attention_mask` for that span (text memory, a video conditioner's
memory, or both) and, for classifier-free guidance, the unconditional memory. With guidance the
two memories are stacked on the batch axis and given to the decoder as `encoder_hidden_states`:
its `prepare_inputs_for_generation` doubles the token batch and transformers'
`ClassifierFreeGuidanceLogitsProcessor` mixes the halves (conditional first). Checked against
transformers 5.25: with greedy sampling, one window gives exactly the codes of MusicGen's own
`generate` (tests/test_codec_generate.py).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

MemoryFn = Callable[[float, float], "tuple[Tensor, Tensor, Tensor | None, Tensor | None]"]
"""`memory_for_window(start_s, end_s) -> (memory [B, S, D], mask [B, S], uncond [B, S', D] | None,
uncond_mask [B, S'] | None)`: MusicGen's encoder outputs for the span, before `enc_to_dec_proj`."""
WindowFn = Callable[..., Tensor]
"""`window_fn(music, memories, prompt [B, K, P], new_frames, sampling) -> codes [B, K, new_frames]`:
one window's generation from what `memory_for_window` returned (default `cross_attention_window`)."""


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. guidance: classifier-free guidance scale (<= 1: off); top_k: 0 = off;
    top_p: 0 = off; temperature: 0 = greedy; seed: torch's seed, set once before the first window."""

    guidance: float = 3.0
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class Window:
    """One generation window, in codec frames: it covers [start, end); its first `prompt` frames are
    the previous window's last frames, given as a token prompt; it adds frames [start + prompt, end)."""

    index: int
    start: int
    end: int
    prompt: int

    @property
    def new_frames(self) -> int:
        return self.end - self.start - self.prompt


def plan_windows(total_frames: int, frame_rate: float, window_s: float = 30.0, stride_s: float = 29.5) -> list[Window]:
    """Windows that cover `total_frames` codec frames: `window_s` long, `stride_s` apart."""
    window, stride = round(window_s * frame_rate), round(stride_s * frame_rate)
    if not 0 < stride <= window:
        raise ValueError(f"need 0 < stride ({stride_s} s) <= window ({window_s} s) at {frame_rate:g} frames/s")
    count = 1 + max(0, math.ceil((total_frames - window) / stride))
    return [
        Window(i, i * stride, min(i * stride + window, total_frames), 0 if i == 0 else window - stride)
        for i in range(count)
    ]


def audio_geometry(music) -> tuple[int, int]:
    """(sample rate in Hz, samples per codec frame) of a MusicGen's EnCodec."""
    config = music.config.audio_encoder
    return int(config.sampling_rate), int(config.hop_length)


def cross_attention_input(music, memory: Tensor, mask: Tensor) -> Tensor:
    """What MusicGen's decoder cross-attends to for `memory` [B, S, D_enc]: `enc_to_dec_proj` when the
    widths differ (as `MusicgenForConditionalGeneration.forward` does), then masked positions zeroed."""
    if music.text_encoder.config.hidden_size != music.decoder.config.hidden_size and (
        music.decoder.config.cross_attention_hidden_size is None
    ):
        memory = music.enc_to_dec_proj(memory)
    return memory * mask[..., None].to(memory.dtype)


def _right_pad(memory: Tensor, mask: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Memory [B, S, D] and mask [B, S] padded with masked zero positions to `length`."""
    extra = length - memory.shape[1]
    return torch.nn.functional.pad(memory, (0, 0, 0, extra)), torch.nn.functional.pad(mask, (0, extra))


def guided_memory(music, memories: tuple, guidance: float) -> tuple[Tensor, Tensor]:
    """Decoder cross-attention input [B or 2B, S, D] and mask: with guidance > 1 the conditional and
    unconditional memories stacked on the batch axis (padded to one length), as the CFG logits
    processor expects. A missing unconditional memory is MusicGen's own null condition (zeros, masked)."""
    memory, mask, uncond, uncond_mask = memories
    dtype = music.decoder.dtype
    memory, mask = memory.to(dtype), mask.long()
    if guidance <= 1:
        return cross_attention_input(music, memory, mask), mask
    if uncond is None:
        uncond, uncond_mask = torch.zeros_like(memory), torch.zeros_like(mask)
    uncond, uncond_mask = uncond.to(dtype), uncond_mask.long()
    length = max(memory.shape[1], uncond.shape[1])
    (memory, mask), (uncond, uncond_mask) = _right_pad(memory, mask, length), _right_pad(uncond, uncond_mask, length)
    both, both_mask = torch.cat([memory, uncond]), torch.cat([mask, uncond_mask])
    return cross_attention_input(music, both, both_mask), both_mask


def sampling_config(music, sampling: Sampling):
    """The model's generation config with `sampling` applied, for the decoder's own `generate`."""
    config = copy.deepcopy(music.generation_config)
    greedy = sampling.temperature <= 0
    config.update(
        do_sample=not greedy,
        temperature=None if greedy else sampling.temperature,
        top_k=None if greedy or sampling.top_k <= 0 else sampling.top_k,
        top_p=None if greedy or sampling.top_p <= 0 else sampling.top_p,
        guidance_scale=sampling.guidance if sampling.guidance > 1 else None,
        num_return_sequences=1,
        use_cache=True,
    )
    return config


@torch.no_grad()
def generate_window(music, cross: Tensor, cross_mask: Tensor, prompt: Tensor, new_frames: int, sampling: Sampling) -> Tensor:
    """Codes [B, K, new_frames] that continue `prompt` [B, K, P] (P may be 0) under the cross-attention
    input `cross` (see `guided_memory`). One call of the decoder's `generate`, with its delay pattern."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    batch, codebooks, prompt_frames = prompt.shape
    start_id = int(music.generation_config.decoder_start_token_id)
    start = torch.full((batch, codebooks, 1), start_id, dtype=torch.long, device=prompt.device)
    input_ids = torch.cat([start, prompt], dim=-1).reshape(batch * codebooks, prompt_frames + 1)
    codes = music.decoder.generate(
        input_ids=input_ids,
        attention_mask=torch.ones(batch, prompt_frames + 1, dtype=torch.long, device=prompt.device),
        encoder_hidden_states=cross,
        encoder_attention_mask=cross_mask,
        generation_config=sampling_config(music, sampling),
        # start token + frames, and K - 1 more steps for the delay pattern's last codebooks
        max_length=prompt_frames + new_frames + codebooks,
        # transformers 5.25's decoder-only `generate` would make one cache shared by self- and
        # cross-attention; MusicGen's layers need the encoder-decoder pair.
        cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
    )
    return codes[:, :, prompt_frames:]


def cross_attention_window(music, memories: tuple, prompt: Tensor, new_frames: int, sampling: Sampling) -> Tensor:
    """A `WindowFn` for MusicGen's cross-attention memories (see `guided_memory`)."""
    cross, cross_mask = guided_memory(music, memories, sampling.guidance)
    return generate_window(music, cross, cross_mask, prompt, new_frames, sampling)


def generate_codes(
    music,
    memory_for_window: MemoryFn,
    duration_s: float,
    *,
    window_s: float = 30.0,
    stride_s: float = 29.5,
    sampling: Sampling = Sampling(),
    on_window: Callable[[Window], None] | None = None,
    window_fn: WindowFn = cross_attention_window,
) -> Iterator[Tensor]:
    """Yield the codes [B, K, n] of a piece `duration_s` long, one block per window, in order.

    Together the blocks hold exactly enough frames for `duration_s` (the last frame may run over
    by less than one frame), and at least K - 1, the fewest the delay pattern can generate.
    `on_window(window)` is called before each window is generated; `window_fn` generates it.
    """
    sample_rate, hop = audio_geometry(music)
    total = math.ceil(round(duration_s * sample_rate) / hop)
    if total <= 0:
        raise ValueError(f"duration must be positive, got {duration_s} s")
    total = max(total, music.decoder.num_codebooks - 1)
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    frame_rate = sample_rate / hop
    tail = None
    for window in plan_windows(total, frame_rate, window_s, stride_s):
        if on_window is not None:
            on_window(window)
        memories = memory_for_window(window.start / frame_rate, min(window.end / frame_rate, duration_s))
        if tail is None:
            batch, device = memories[0].shape[0], memories[0].device
            tail = torch.zeros((batch, music.decoder.num_codebooks, 0), dtype=torch.long, device=device)
        prompt = tail[..., tail.shape[-1] - window.prompt :]
        codes = window_fn(music, memories, prompt, window.new_frames, sampling)
        tail = torch.cat([tail, codes], dim=-1)[..., -(window.end - window.start) :]
        yield codes


@torch.no_grad()
def decode_chunk(music, codes: Tensor) -> Tensor:
    """EnCodec audio [B, C, n * hop] of codes [B, K, n] (a mono MusicGen's: C = 1)."""
    return music.audio_encoder.decode(codes[None], [None]).audio_values


class ChunkDecoder:
    """EnCodec decoding of a growing token stream in chunks of `chunk` frames that overlap by `overlap`.

    `feed(codes)` returns the audio [B, C, m] that is final so far; `finish()` the rest. Each chunk
    re-decodes the last `overlap` frames of the one before, and the two decodes are cross-faded
    linearly there, so seams do not click; the last `overlap` frames' audio waits for the next chunk.
    """

    def __init__(self, music, chunk: int, overlap: int) -> None:
        _, self.hop = audio_geometry(music)
        self.music, self.chunk, self.overlap = music, chunk, min(chunk, overlap)
        self.fade = torch.linspace(0.0, 1.0, self.overlap * self.hop + 2)[1:-1]
        self.pending: Tensor | None = None  # codes not yet final; the first `seen` are in `held`
        self.held: Tensor | None = None

    @property
    def seen(self) -> int:
        return 0 if self.held is None else self.overlap

    def feed(self, codes: Tensor) -> list[Tensor]:
        """Add codes [B, K, n]; the audio of every chunk now complete."""
        self.pending = codes if self.pending is None else torch.cat([self.pending, codes], dim=-1)
        out = []
        while self.pending.shape[-1] >= self.seen + self.chunk:
            out.append(self._decode(self.seen + self.chunk, keep_tail=True))
        return out

    def stream(self, blocks: Iterable[Tensor]) -> Iterator[Tensor]:
        """Feed every block, then finish: all the audio of the stream, in order."""
        for block in blocks:
            yield from self.feed(block)
        yield from self.finish()

    def finish(self) -> list[Tensor]:
        """The audio still pending at the end of the stream."""
        if self.pending is not None and self.pending.shape[-1] > self.seen:
            return [self._decode(self.pending.shape[-1], keep_tail=False)]
        return [] if self.held is None else [self.held]

    def _decode(self, frames: int, keep_tail: bool) -> Tensor:
        """Decode the first `frames` pending frames, cross-fade them into the held audio and return
        what is final; hold the last `overlap` frames' audio back when `keep_tail`."""
        audio = decode_chunk(self.music, self.pending[..., :frames]).float().cpu()
        if self.held is not None:
            n = self.held.shape[-1]
            audio[..., :n] = self.held * (1 - self.fade) + audio[..., :n] * self.fade
        keep = self.overlap * self.hop if keep_tail else 0
        self.held = audio[..., audio.shape[-1] - keep :] if keep_tail else None
        self.pending = self.pending[..., frames - self.overlap :] if keep_tail else None
        return audio[..., : audio.shape[-1] - keep]


def decode_codes(
    music,
    blocks: Iterable[Tensor],
    num_samples: int,
    *,
    chunk_s: float = 10.0,
    overlap_s: float = 1.0,
) -> Iterator[np.ndarray]:
    """Yield float32 audio blocks [B, C, m] that add up to exactly `num_samples` samples.

    `blocks` of codes [B, K, n] (e.g. from `generate_codes`) are decoded as they arrive, in chunks of
    `chunk_s` seconds cross-faded over `overlap_s` (see `ChunkDecoder`), so EnCodec's memory does not
    grow with the length of the piece.
    """
    sample_rate, hop = audio_geometry(music)
    decoder = ChunkDecoder(music, max(1, round(chunk_s * sample_rate / hop)), max(1, round(overlap_s * sample_rate / hop)))
    emitted = 0
    for audio in decoder.stream(blocks):
        audio = audio[..., : max(0, num_samples - emitted)].numpy()
        emitted += audio.shape[-1]
        yield audio
    if emitted < num_samples:
        raise ValueError(f"the codes decode to {emitted} samples, fewer than the {num_samples} asked for")


def generate_audio(
    music,
    memory_for_window: MemoryFn,
    duration_s: float,
    *,
    window_s: float = 30.0,
    stride_s: float = 29.5,
    sampling: Sampling = Sampling(),
    on_window: Callable[[Window], None] | None = None,
    window_fn: WindowFn = cross_attention_window,
) -> np.ndarray:
    """Float32 audio [C, round(duration_s * sample_rate)] of the first batch item: windows generated
    (by `window_fn`) and decoded as a stream into one preallocated array of the exact length."""
    sample_rate, _ = audio_geometry(music)
    num_samples = round(duration_s * sample_rate)
    out = np.zeros((music.config.audio_encoder.audio_channels, num_samples), np.float32)
    blocks = generate_codes(
        music, memory_for_window, duration_s, window_s=window_s, stride_s=stride_s, sampling=sampling, on_window=on_window,
        window_fn=window_fn,
    )
    offset = 0
    for audio in decode_codes(music, blocks, num_samples):
        out[:, offset : offset + audio.shape[-1]] = audio[0]
        offset += audio.shape[-1]
    return out
