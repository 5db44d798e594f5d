"""The `codec` engine: a MusicGen language model writes the waveform itself, as EnCodec tokens.

Two ways to condition it (issue 10):

- `--checkpoint CKPT`: a video-conditioned model (`cuescore train codec` or `cuescore convert
  vidmuse`): the `vidmuse` conditioner reads each window's frames at 2 fps (decoded per window by
  seeking) and frames spread over the whole video; the `thesis` conditioner reads the analysis's
  semantic rows. `--prompt` adds text when the checkpoint was trained with text.
- `--music-model M` alone (zero-training mode): the stock text MusicGen, prompted with a caption
  written from the analysis for each window (`codec_prompt`), after the user's `--prompt`.

Any length: 30 s windows `--stride` seconds apart, each continuing the last codes of the one before
(`models.codec_generate`); EnCodec decodes the tokens in cross-faded chunks; the audio has the
video's exact length. `score_video` then masters it to `--loudness` and muxes it. Decisions only
here: the torch side is `models.codec_generate` and `models.codec_conditioning`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cuescore.analysis.features import VideoFeatures
from cuescore.engines.base import AnalysisNeeds, Composition, Engine, EngineRecord
from cuescore.engines.codec_prompt import PromptWriter
from cuescore.errors import InputError, OptionError
from cuescore.media import Audio
from cuescore.media.frames import spread_frames, window_frames

MUSICGEN_LICENCE = "CC-BY-NC-4.0"
"""Meta's MusicGen weights (facebook/musicgen-*): non-commercial use only."""
TEXT_WINDOW_S = 30.0
"""The window of stock MusicGen: it was trained on 30 s excerpts."""
_ANNOUNCED: set[str] = set()


@dataclass
class CodecRecord(EngineRecord):
    """What the codec engine did: the models and their licence, the conditioning (the caption of
    each window in text mode), the sampling settings, the windows [start_s, end_s] and the speed."""

    music_model: str
    checkpoint: str | None
    conditioner: str | None
    licence: str
    prompt: str | None
    captions: list[str]
    guidance: float
    top_k: int
    top_p: float
    temperature: float
    seed: int
    window_s: float
    stride_s: float
    windows: list[list[float]]
    sample_rate: int
    frame_rate: float
    device: str
    generation_s: float
    real_time_factor: float


def model_licence(name: str) -> str:
    """The licence of a stock music model: the `license:` line of its model card (in its folder, or
    in the Hugging Face cache for a hub id), else MusicGen's for a name with "musicgen" in it, else
    "unknown"."""
    card = Path(name).expanduser() / "README.md"
    if not card.is_file() and not Path(name).expanduser().is_dir():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(name, "README.md")
        except ValueError:  # not a hub id
            cached = None
        card = Path(cached) if isinstance(cached, str) else card
    if card.is_file():
        for line in card.read_text(errors="replace").splitlines()[:40]:
            if line.lower().startswith("license:"):
                return line.split(":", 1)[1].strip().upper()
    return MUSICGEN_LICENCE if "musicgen" in name.lower() else "unknown: see the model card"


def announce_licence(what: str, licence: str) -> None:
    """Print once per process which licence the weights in use carry."""
    if what not in _ANNOUNCED:
        _ANNOUNCED.add(what)
        print(f"cuescore: {what} weights are licensed {licence}", file=sys.stderr)


class CodecEngine(Engine):
    """Audio from a MusicGen conditioned on the video (checkpoint) or on captions (text mode).

    Options (see `catalog.CATALOG["codec"]`): music_model, checkpoint, prompt, guidance, stride,
    top_k, top_p, temperature, device. The models load here, so a missing one fails before analysis.
    """

    NAME = "codec"
    WRITES_SCORE = False

    def __init__(self, controls, **options) -> None:
        super().__init__(controls, **options)
        from cuescore.models.codec_checkpoint import load_codec_checkpoint
        from cuescore.models.codec_model import CodecConfig, CodecModel, load_music_model, load_music_tokenizer
        from cuescore.models.device import resolve_device

        o = self.options
        if o["music_model"] is None and o["checkpoint"] is None:
            raise OptionError("engine codec needs --music-model (a MusicGen folder, or a hub id such as "
                              "facebook/musicgen-small already downloaded) or --checkpoint DIR")
        self.device = str(resolve_device(o["device"]))
        if o["checkpoint"] is not None:
            self.model = load_codec_checkpoint(o["checkpoint"], o["music_model"], device=self.device)
            licence, what = self.model.config.licence, f"checkpoint {o['checkpoint']}"
        else:
            music = load_music_model(o["music_model"], device=self.device)
            licence, what = model_licence(o["music_model"]), f"music model {o['music_model']}"
            config = CodecConfig(music_model=o["music_model"], licence=licence, trained_with_text=True)
            self.model = CodecModel(music, None, config, tokenizer=load_music_tokenizer(o["music_model"]))
            if self.model.tokenizer is None:
                raise OptionError(f"music model {o['music_model']} has no tokenizer saved with it; the text mode "
                                  "needs MusicGen's T5 tokenizer (a full `hf download` of the model has it)")
        if o["prompt"] is not None:
            self.model.encode_text(o["prompt"])  # a checkpoint without text, or an over-long prompt, fails now
        if o["stride"] > self.window_s:
            raise OptionError(f"--stride {o['stride']:g} is longer than the model's {self.window_s:g} s window; "
                              "use at most that")
        self.licence = licence
        announce_licence(what, licence)

    @property
    def window_s(self) -> float:
        conditioner = self.model.conditioner
        return float(getattr(getattr(conditioner, "config", None), "window_seconds", TEXT_WINDOW_S))

    def analysis_needs(self) -> AnalysisNeeds:
        if self.model.config.conditioner == "thesis":
            return AnalysisNeeds(encoder=self.model.config.encoder)
        return AnalysisNeeds()

    def compose(self, features: VideoFeatures) -> Composition:
        from cuescore.models.codec_generate import Sampling, audio_geometry, generate_audio

        o, duration = self.options, float(features.duration)
        sampling = Sampling(guidance=o["guidance"], top_k=o["top_k"], top_p=o["top_p"], temperature=o["temperature"],
                            seed=self.controls.seed)
        memory = self._window_memory(features)
        windows: list[list[float]] = []
        sample_rate, hop = audio_geometry(self.model.music)
        frame_rate = sample_rate / hop
        started = time.perf_counter()
        samples = generate_audio(
            self.model.music, memory, duration, window_s=self.window_s, stride_s=o["stride"], sampling=sampling,
            on_window=lambda w: windows.append([round(w.start / frame_rate, 4), round(w.end / frame_rate, 4)]),
        )
        elapsed = time.perf_counter() - started
        record = CodecRecord(
            music_model=self.model.config.music_model, checkpoint=o["checkpoint"],
            conditioner=self.model.config.conditioner, licence=self.licence, prompt=o["prompt"],
            captions=list(memory.captions), guidance=o["guidance"], top_k=o["top_k"], top_p=o["top_p"],
            temperature=o["temperature"], seed=self.controls.seed, window_s=self.window_s, stride_s=o["stride"],
            windows=windows, sample_rate=sample_rate, frame_rate=frame_rate, device=self.device,
            generation_s=round(elapsed, 3), real_time_factor=round(duration / elapsed, 4) if elapsed > 0 else 0.0,
        )
        return Composition(None, None, Audio(samples, sample_rate), record)

    def _window_memory(self, features: VideoFeatures):
        """The `WindowMemory` for this video: captions in text mode, frames or semantic rows otherwise."""
        from cuescore.models.codec_conditioning import WindowMemory

        o, kind, duration = self.options, self.model.config.conditioner, float(features.duration)
        common = dict(guidance=o["guidance"], prompt=o["prompt"])
        if kind is None:
            writer = PromptWriter.from_features(features, self.controls, o["prompt"])
            return WindowMemory(self.model, duration, caption=writer.for_span, **common)
        if kind == "thesis":
            width, wanted = features.semantic.shape[1], self.model.conditioner.config.in_dim
            if width != wanted:
                raise OptionError(f"the features' semantic rows are {width} wide, the checkpoint reads {wanted} "
                                  f"(encoder {self.model.config.encoder}); analyse the video with that encoder")
            return WindowMemory(self.model, duration, semantic=features.semantic, **common)
        config, video = self.model.conditioner.config, features.source
        if not Path(video).is_file():
            raise InputError(f"the vidmuse conditioner reads the video's frames, but the features name "
                             f"{video or 'no video'}, which is not a file; score the video itself")
        size = config.image_size
        return WindowMemory(
            self.model, duration,
            frames=lambda s, e: window_frames(video, s, e, fps=config.short_fps, size=size),
            long_frames=spread_frames(video, config.long_frames, duration, size=size), **common,
        )
