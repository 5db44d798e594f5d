"""The codec engine's model: a MusicGen decoder + EnCodec (transformers) conditioned on video.

`CodecModel` holds the music model (`MusicgenForConditionalGeneration`: T5 text encoder, EnCodec,
decoder) and a video conditioner (`vidmuse` or `thesis`, `cuescore.models.video_conditioner`), or
none (zero-training mode: the stock text MusicGen).

`memory()` returns exactly what to give MusicGen as `encoder_outputs` / `attention_mask`:
MusicGen projects encoder outputs with its `enc_to_dec_proj` (text width → decoder width) and
multiplies them by the mask. A `vidmuse` conditioner already outputs the decoder's width, so the
model's projection is replaced by the identity and a prompt's text memory is projected (by the
original projection, kept as `text_proj`) before it is concatenated; a `thesis` conditioner
outputs the text width and goes through the projection like text. `decoder_memory()` applies
that projection and mask: what the decoder itself cross-attends to (for the decoder's own
`generate`).

Codes are [B, K, L] EnCodec tokens; the decoder reads them in MusicGen's delay pattern (codebook k
shifted right by k + 1, the start token first), see `delayed_sequence`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from cuescore.errors import OptionError
from cuescore.models.codec_generate import cross_attention_input
from cuescore.models.device import resolve_device

CONDITIONER_KINDS = ("vidmuse", "thesis")


@dataclass
class CodecConfig:
    """What a codec checkpoint records besides weights.

    music_model: hub id or folder of the MusicGen it was built on (EnCodec and text encoder).
    conditioner: "vidmuse", "thesis" or None (text only); conditioner_config: its hyperparameters.
    encoder: the analysis encoder spec it was trained with (e.g. "clip:openai/clip-vit-base-patch32").
    licence: licence of the weights (e.g. "CC-BY-NC-4.0" for VidMuse's).
    trained_with_text: whether prompts were part of training (a prompt is refused otherwise).
    lm_trained: whether the checkpoint holds decoder weights (they then win over the music model's);
    decoder: the decoder's config dict when it does. source: who wrote it.
    """

    music_model: str
    conditioner: str | None = None
    conditioner_config: dict = field(default_factory=dict)
    encoder: str | None = None
    licence: str = "see the music model's licence"
    trained_with_text: bool = False
    lm_trained: bool = False
    decoder: dict | None = None
    source: str = "cuescore"

    def __post_init__(self) -> None:
        if self.conditioner is not None and self.conditioner not in CONDITIONER_KINDS:
            raise OptionError(f"unknown conditioner {self.conditioner!r}; choose {' or '.join(CONDITIONER_KINDS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def _missing_music_model(name: str) -> OptionError:
    return OptionError(
        f"music model {name} not found: download it with `hf download {name}` on a machine with internet, "
        "or pass a folder"
    )


def load_music_model(
    name_or_path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
    *, melody: bool = False,
):
    """`MusicgenForConditionalGeneration` (`MusicgenMelodyForConditionalGeneration` when `melody`)
    from a local folder or a hub id already in the local Hugging Face cache (never downloaded);
    eval mode on `device` ("auto", "cpu", "cuda", "cuda:N"). Mono models only."""
    from transformers import MusicgenForConditionalGeneration, MusicgenMelodyForConditionalGeneration

    model_class = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration

    name = str(name_or_path)
    path = Path(name).expanduser()
    if not path.is_dir() and (path.exists() or path.is_absolute() or name.startswith((".", "~"))):
        raise _missing_music_model(name)
    try:
        model = model_class.from_pretrained(str(path) if path.is_dir() else name, local_files_only=True, dtype=dtype)
    except (OSError, ValueError):
        raise _missing_music_model(name) from None
    if model.config.decoder.audio_channels != 1:
        raise OptionError(f"music model {name} is stereo; cuescore takes mono MusicGen models")
    return model.to(resolve_device(device)).eval()


def load_music_tokenizer(name_or_path: str | os.PathLike):
    """The music model's text tokenizer, or None when the folder / cache has none."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(name_or_path), local_files_only=True)
    except (OSError, ValueError):
        return None


def delayed_sequence(codes: Tensor, special: int) -> Tensor:
    """MusicGen's delay pattern: codes [B, K, L] → [B, K, L + K], the start token at step 0,
    code (k, t) at step t + k + 1, `special` elsewhere (as `build_delay_pattern_mask` and
    audiocraft's `DelayedPatternProvider`)."""
    b, k, length = codes.shape
    seq = codes.new_full((b, k, length + k), special)
    for q in range(k):
        seq[:, q, q + 1 : q + 1 + length] = codes[:, q]
    return seq


class CodecModel(nn.Module):
    """MusicGen + a video conditioner (or none). See the module docstring for the memory layout."""

    def __init__(self, music: nn.Module, conditioner: nn.Module | None, config: CodecConfig, tokenizer=None) -> None:
        super().__init__()
        self.music = music
        self.conditioner = conditioner
        self.config = config
        self.tokenizer = tokenizer
        self.text_proj: nn.Module | None = None
        proj = getattr(music, "enc_to_dec_proj", None)
        if config.conditioner == "vidmuse" and isinstance(proj, nn.Linear):
            self.text_proj = proj
            music.enc_to_dec_proj = nn.Identity()

    @property
    def device(self) -> torch.device:
        return next(self.music.decoder.parameters()).device

    @property
    def special_token(self) -> int:
        """The start / delay-padding token (the decoder's vocabulary size for MusicGen)."""
        start = self.music.generation_config.decoder_start_token_id
        return int(start if start is not None else self.music.config.decoder.pad_token_id)

    @property
    def num_codebooks(self) -> int:
        return int(self.music.config.decoder.num_codebooks)

    def _check_prompt(self, prompt: str) -> None:
        if self.conditioner is not None and not self.config.trained_with_text:
            raise OptionError(
                f"this checkpoint ({self.config.source}) was trained without text, so --prompt has no meaning for "
                "it; leave --prompt out, or use a checkpoint trained with text"
            )
        if self.tokenizer is None:
            raise OptionError(f"music model {self.config.music_model} has no tokenizer saved with it; --prompt "
                              "needs one")

    def encode_text(self, prompt: str) -> tuple[Tensor, Tensor]:
        """Text memory [1, St, Dm] and its mask [1, St] for `prompt` (Dm: the memory width)."""
        self._check_prompt(prompt)
        tokens = self.tokenizer(prompt, return_tensors="pt", truncation=False)
        limit = self.tokenizer.model_max_length
        if limit < 1_000_000 and tokens.input_ids.shape[1] > limit:
            raise OptionError(f"--prompt is {tokens.input_ids.shape[1]} tokens long; the text encoder takes at most "
                              f"{limit}: shorten it")
        tokens = tokens.to(self.device)
        hidden = self.music.text_encoder(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
        text = hidden.last_hidden_state
        if self.text_proj is not None:
            text = self.text_proj(text)
        return text, tokens.attention_mask

    def _assemble(self, visual: Tensor | None, prompt: str | None, batch: int, null_text: bool) -> tuple[Tensor, Tensor]:
        parts, masks = [], []
        if visual is not None:
            parts.append(visual)
            masks.append(torch.ones(visual.shape[:2], dtype=torch.long, device=visual.device))
            batch = visual.shape[0]
        if prompt is not None:
            text, mask = self.encode_text(prompt)
            if null_text:
                text, mask = torch.zeros_like(text), torch.zeros_like(mask)
            parts.append(text.expand(batch, -1, -1))
            masks.append(mask.expand(batch, -1))
        if not parts:
            raise OptionError("the music model has no video conditioner, so it needs a text prompt")
        return torch.cat(parts, dim=1), torch.cat(masks, dim=1)

    def memory(self, video_inputs: dict | None, prompt: str | None = None, batch: int = 1) -> tuple[Tensor, Tensor]:
        """(memory [B, S, D], mask [B, S]) to pass as `encoder_outputs` / `attention_mask`.

        video_inputs: the conditioner's inputs (`VidMuseConditioner.tokens_from_inputs`,
        `ThesisConditioner.memory`); ignored without a conditioner. prompt: text appended after the
        visual tokens. batch: the batch size when there is no conditioner.
        """
        visual = None
        if self.conditioner is not None:
            if video_inputs is None:
                raise ValueError("this model has a video conditioner: video_inputs are needed")
            visual = self.conditioner.memory(video_inputs)
        return self._assemble(visual, prompt, batch, null_text=False)

    def unconditional_memory(self, video_inputs: dict | None, prompt: str | None = None,
                             batch: int = 1) -> tuple[Tensor, Tensor]:
        """The unconditional branch of guidance, of the same shape as `memory`: the conditioner on
        black frames (VidMuse: their CLIP tokens; thesis: rows of a black frame's embedding), and any
        text part zeroed and masked out (as transformers does for MusicGen's own guidance)."""
        visual = None
        if self.conditioner is not None:
            if video_inputs is None:
                raise ValueError("this model has a video conditioner: video_inputs are needed")
            visual = self.conditioner.memory(self.conditioner.null_inputs(video_inputs))
        return self._assemble(visual, prompt, batch, null_text=True)

    def decoder_memory(self, memory: Tensor, mask: Tensor) -> Tensor:
        """What the decoder cross-attends to for `memory`: MusicGen's projection (identity for VidMuse)
        then the mask, as `MusicgenForConditionalGeneration.forward` applies them; [B, S, D_decoder]."""
        return cross_attention_input(self.music, memory, mask)

    def decoder_logits(self, sequence: Tensor, memory: Tensor, mask: Tensor) -> Tensor:
        """Raw decoder logits [B, K, S, V] for a delay-pattern sequence [B, K, S]; position s
        predicts step s + 1."""
        b, k, s = sequence.shape
        out = self.music(encoder_outputs=(memory,), attention_mask=mask, decoder_input_ids=sequence.reshape(b * k, s),
                         use_cache=False)
        return out.logits.reshape(b, k, s, -1)

    def forward(self, codes: Tensor, video_inputs: dict | None, prompt: str | None = None) -> Tensor:
        """Teacher-forced logits [B, K, L, V] of codes [B, K, L] given the conditioner's inputs."""
        return self.logits(codes, *self.memory(video_inputs, prompt, batch=codes.shape[0]))

    def logits(self, codes: Tensor, memory: Tensor, mask: Tensor) -> Tensor:
        """Teacher-forced logits [B, K, L, V] for codes [B, K, L]: entry (k, t) predicts code (k, t)
        from the codes before it in the delay pattern (audiocraft's `compute_predictions`)."""
        b, k, length = codes.shape
        seq = delayed_sequence(codes, self.special_token)
        raw = self.decoder_logits(seq[..., :-1], memory, mask)
        index = (torch.arange(length, device=codes.device)[None, :] + torch.arange(k, device=codes.device)[:, None])
        return raw.gather(2, index[None, :, :, None].expand(b, k, length, raw.shape[-1]))
