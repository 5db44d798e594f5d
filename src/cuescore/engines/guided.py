"""The `guided` engine: neural audio that keeps the plan (issue 15).

The affective engine (or, with `--planner amt --checkpoint DIR`, the AMT engine) writes the plan
(beats, downbeats and chord changes on the cuts) and arranges the score; MusicGen-melody then
writes the audio conditioned on

- the score's one-hot chromagram (`music.chroma`: drums and bass left out, chord tones and melody,
  7.8125 frames a second), the condition the model was trained to follow, so its harmony moves
  where the plan's chords change;
- a caption per window (`codec_prompt.PromptWriter`: the user's `--prompt`, instruments, mood,
  energy, and the plan's own tempo and key).

Windows of 30 s, 29.5 s apart, continue each other through token prompts, each with the chroma of
the 30 s from its start (prompt region included), so nothing restarts at a cut or a section.
`--mix` blends the SoundFont render of the same score in (`score_video` renders and blends it);
`--mix 0` is the render alone and loads and runs no model. The MIDI and the plan are written as
for the planner alone; the record says which parts are neural. The model's chroma is at
128 ms resolution: whether the audio's beats land on the cuts is measured
(`cuescore evaluate OUT.mp4`), not assumed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from cuescore.analysis.features import VideoFeatures
from cuescore.engines.affective import AffectiveEngine
from cuescore.engines.base import AnalysisNeeds, Composition, Engine, EngineRecord
from cuescore.engines.codec import TEXT_WINDOW_S, announce_licence, model_licence
from cuescore.engines.codec_prompt import PromptWriter
from cuescore.errors import OptionError
from cuescore.media import Audio
from cuescore.music.chroma import CHROMA_RATE, score_chroma
from cuescore.music.plan import MusicPlan
from cuescore.music.score import Score

STRIDE_S = 29.5
"""Seconds between the starts of the 30 s windows (as VidMuse and the codec engine)."""


@dataclass
class GuidedRecord(EngineRecord):
    """What the guided engine did. parts: who wrote each output (the planner, "affective" or "amt",
    for the plan, score and MIDI; the audio "neural", "soundfont" or a blend); planner_record: its record;
    then the neural side (None / empty with --mix 0): model, licence, captions, sampling, windows."""

    parts: dict[str, str]
    mix: float
    planner: str
    planner_record: dict
    music_model: str | None = None
    licence: str | None = None
    prompt: str | None = None
    captions: list[str] = field(default_factory=list)
    chroma_rate: float = CHROMA_RATE
    guidance: float | None = None
    top_k: int | None = None
    temperature: float | None = None
    seed: int | None = None
    windows: list[list[float]] = field(default_factory=list)
    sample_rate: int | None = None
    device: str | None = None
    generation_s: float = 0.0
    real_time_factor: float = 0.0


def audio_parts(mix: float) -> str:
    """Who wrote the soundtrack at `mix`: "soundfont", "neural" or e.g. "blend: 0.7 neural + 0.3 soundfont"."""
    if mix <= 0:
        return "soundfont"
    if mix >= 1:
        return "neural"
    return f"blend: {mix:g} neural + {1 - mix:g} soundfont"


class GuidedEngine(Engine):
    """A symbolic engine's plan and score, audio from MusicGen-melody following the score's chroma.

    Options (see `catalog.CATALOG["guided"]`): music_model, prompt, planner (affective or amt),
    checkpoint (amt's), mix, guidance, top_k, temperature, device. The models load here (the music
    model not with --mix 0), so a missing one fails before analysis.
    """

    NAME = "guided"

    def __init__(self, controls, **options) -> None:
        super().__init__(controls, **options)
        o = self.options
        self.planner = self._planner()
        self.music = self.tokenizer = self.device = self.licence = None
        if o["mix"] == 0:
            return
        if o["music_model"] is None:
            raise OptionError("engine guided needs --music-model (a MusicGen-melody folder, or a hub id such as "
                              "facebook/musicgen-melody already downloaded), or --mix 0 for the SoundFont render alone")
        from cuescore.models.codec_model import load_music_model, load_music_tokenizer
        from cuescore.models.device import resolve_device

        self.device = str(resolve_device(o["device"]))
        self.music = load_music_model(o["music_model"], device=self.device, melody=True)
        self.tokenizer = load_music_tokenizer(o["music_model"])
        if self.tokenizer is None:
            raise OptionError(f"music model {o['music_model']} has no tokenizer saved with it; the guided engine "
                              "needs MusicGen's T5 tokenizer (a full `hf download` of the model has it)")
        self.licence = model_licence(o["music_model"])
        announce_licence(f"music model {o['music_model']}", self.licence)

    def _planner(self) -> Engine:
        """The symbolic engine that writes the plan and score: affective, or amt with --checkpoint."""
        o = self.options
        if o["planner"] == "amt":
            from cuescore.engines.amt import AMTEngine

            if o["checkpoint"] is None:
                raise OptionError("engine guided with --planner amt needs --checkpoint DIR (an amt checkpoint from "
                                  "`cuescore train amt` or `cuescore convert video2music`)")
            return AMTEngine(self.controls, checkpoint=o["checkpoint"], device=o["device"])
        if o["checkpoint"] is not None:
            raise OptionError("--checkpoint applies to engine guided only with --planner amt")
        return AffectiveEngine(self.controls)

    def analysis_needs(self) -> AnalysisNeeds:
        return self.planner.analysis_needs()

    def compose(self, features: VideoFeatures) -> Composition:
        symbolic = self.planner.compose(features)
        o, planner = self.options, self.options["planner"]
        record = GuidedRecord(
            parts={"plan": planner, "score": planner, "midi": planner, "audio": audio_parts(o["mix"])},
            mix=o["mix"], planner=planner, planner_record=symbolic.record.to_dict())
        if self.music is None:
            return Composition(symbolic.plan, symbolic.score, None, record)
        audio = self._generate(features, symbolic.plan, symbolic.score, record)
        return Composition(symbolic.plan, symbolic.score, audio, record, mix=o["mix"])

    def _generate(self, features: VideoFeatures, plan: MusicPlan, score: Score, record: GuidedRecord) -> Audio:
        """MusicGen-melody's audio for the whole video; fills the neural fields of `record`."""
        from cuescore.models.codec_generate import Sampling, audio_geometry, generate_audio
        from cuescore.models.melody_generate import MelodyCondition, prefix_window

        o, duration = self.options, float(features.duration)
        writer = dataclasses.replace(PromptWriter.from_features(features, self.controls, o["prompt"]),
                                     bpm=plan.mean_bpm, key=plan.key.name)
        frames = int(self.music.config.chroma_length)
        condition = MelodyCondition(self.music, lambda start_s: score_chroma(score, start_s, frames),
                                    caption=writer.for_span, tokenizer=self.tokenizer, guidance=o["guidance"])
        sampling = Sampling(guidance=o["guidance"], top_k=o["top_k"], top_p=0.0, temperature=o["temperature"],
                            seed=self.controls.seed)
        sample_rate, hop = audio_geometry(self.music)
        started = time.perf_counter()
        samples = generate_audio(
            self.music, condition, duration, window_s=TEXT_WINDOW_S, stride_s=STRIDE_S, sampling=sampling,
            window_fn=prefix_window,
            on_window=lambda w: record.windows.append([round(w.start * hop / sample_rate, 4),
                                                       round(w.end * hop / sample_rate, 4)]),
        )
        elapsed = time.perf_counter() - started
        record.music_model, record.licence, record.prompt = o["music_model"], self.licence, o["prompt"]
        record.captions = list(condition.captions)
        record.guidance, record.top_k, record.temperature = o["guidance"], o["top_k"], o["temperature"]
        record.seed, record.sample_rate, record.device = self.controls.seed, sample_rate, self.device
        record.generation_s = round(elapsed, 3)
        record.real_time_factor = round(duration / elapsed, 4) if elapsed > 0 else 0.0
        return Audio(samples, sample_rate)
