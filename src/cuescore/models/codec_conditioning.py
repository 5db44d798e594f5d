"""What the codec engine's decoder cross-attends to in each window: `WindowMemory(start_s, end_s)`.

It is the `memory_for_window` of `codec_generate.generate_codes`, built on a `CodecModel`:

- text (no conditioner; the zero-training mode): the caption the engine writes for the window,
  through MusicGen's T5; the unconditional branch is MusicGen's own (the text zeroed and masked);
  windows with the same caption share one encoding.
- `vidmuse`: the window's frames at `short_fps` (given by the engine as uint8 arrays, decoded per
  window, never stored for the whole video) and the long-term frames spread over the video, whose
  CLIP tokens are computed once and shared by every window, plus the window's position as
  fractions of the duration; the unconditional branch is the conditioner on black frames.
- `thesis`: the analysis's semantic rows of the seconds the window covers.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from cuescore.models.codec_model import CodecModel

FramesFn = Callable[[float, float], np.ndarray]
"""`frames(start_s, end_s)` -> uint8 RGB [N, S, S, 3]: the short-term frames of a window."""


def normalised_pixels(frames: np.ndarray, mean: tuple, std: tuple, like: Tensor) -> Tensor:
    """uint8 RGB [N, S, S, 3] → CLIP-normalised pixels [1, N, 3, S, S] on `like`'s device and dtype."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(like.device).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return ((x - m) / s).to(like.dtype)[None]


class WindowMemory:
    """`memory_for_window` for a `CodecModel` (see the module docstring).

    caption: `caption(start_s, end_s)` -> the window's text (text mode), or None for a video
        conditioner (then `prompt`, the user's text, is appended to every window when given).
    frames, long_frames: the short-term frames callable and the long-term frames [Nl, S, S, 3] (vidmuse).
    semantic: per-second rows [T, E] of the analysis (thesis).
    guidance: > 1 also returns the unconditional memory.
    """

    def __init__(
        self,
        model: CodecModel,
        duration_s: float,
        *,
        guidance: float,
        caption: Callable[[float, float], str] | None = None,
        prompt: str | None = None,
        frames: FramesFn | None = None,
        long_frames: np.ndarray | None = None,
        semantic: np.ndarray | None = None,
    ) -> None:
        self.model, self.duration, self.guidance = model, float(duration_s), guidance
        self.caption, self.prompt, self.frames, self.semantic = caption, prompt, frames, semantic
        self.captions: list[str] = []
        self._text_cache: tuple[str, tuple] | None = None
        self._long_tokens = None
        kind = model.config.conditioner
        if kind is None and caption is None:
            raise ValueError("a text-only model needs a caption for each window")
        if kind == "vidmuse":
            if frames is None or long_frames is None:
                raise ValueError("the vidmuse conditioner needs the window frames and the long-term frames")
            with torch.no_grad():
                self._long_tokens = model.conditioner.clip_tokens(self._pixels(long_frames))
        if kind == "thesis" and semantic is None:
            raise ValueError("the thesis conditioner needs the semantic rows of the analysis")

    def _pixels(self, frames: np.ndarray) -> Tensor:
        config = self.model.conditioner.config
        return normalised_pixels(frames, config.image_mean, config.image_std, self.model.conditioner.proj.weight)

    def video_inputs(self, start_s: float, end_s: float) -> dict | None:
        """The conditioner's inputs for [start_s, end_s) (None in text mode)."""
        kind = self.model.config.conditioner
        if kind == "vidmuse":
            position = torch.tensor([[start_s / self.duration, end_s / self.duration]], device=self.model.device)
            return {"short_pixels": self._pixels(self.frames(start_s, end_s)), "long_tokens": self._long_tokens,
                    "position": position}
        if kind == "thesis":
            rows = self.semantic[int(math.floor(start_s)) : max(int(math.ceil(end_s)), int(start_s) + 1)]
            return {"semantic": torch.as_tensor(np.asarray(rows, np.float32), device=self.model.device)[None]}
        return None

    @torch.no_grad()
    def __call__(self, start_s: float, end_s: float) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        if self.caption is not None:
            text = self.caption(start_s, end_s)
            self.captions.append(text)
            if self._text_cache is None or self._text_cache[0] != text:
                self._text_cache = (text, self._memories(None, text))
            return self._text_cache[1]
        return self._memories(self.video_inputs(start_s, end_s), self.prompt)

    def _memories(self, inputs: dict | None, text: str | None) -> tuple:
        memory, mask = self.model.memory(inputs, text)
        if self.guidance <= 1:
            return memory, mask, None, None
        return (memory, mask, *self.model.unconditional_memory(inputs, text))
