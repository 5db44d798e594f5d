"""The zero-training mode's text: a MusicGen prompt written from the video analysis.

Stock MusicGen was trained on captions such as "upbeat electronic track with synths and drums,
120 BPM". Without a video checkpoint the codec engine conditions it on such a caption, one per
generation window, from the same decisions the symbolic engines make (`VideoPlanner`):

- mood: the window's mean valence and arousal (× weight_emotion) → words from a 3 × 3 table;
- tempo: the drive of the whole video (arousal, motion, optical flow, cut rate) → the target BPM
  the beat grid would aim at, or the locked `--tempo`; one tempo for all windows, so the seams
  between windows do not change pace;
- energy: the level (× the energy control) and the arc inside the window (building, fading, ...);
- instrumentation: `--instruments` or the preset the mood picks, in words;
- the user's `--prompt` first, as the strongest instruction; `--key` / `--mode` when given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cuescore.analysis.features import VideoFeatures, mean_over
from cuescore.controls import Controls
from cuescore.engines.video_plan import VideoPlanner, around

PRESET_WORDS = {
    "cinematic": "cinematic score with strings, brass, piano and orchestral percussion",
    "piano": "solo piano",
    "ambient": "ambient music with soft synth pads and electric piano",
    "rock": "rock band with electric guitars, bass and drums",
    "electronic": "electronic music with synthesizers, synth bass and a drum machine",
    "orchestral": "orchestral music with strings, woodwinds and timpani",
}
"""Instrument preset (`controls.INSTRUMENT_PRESETS`) → how a caption names that ensemble."""

MOOD_WORDS = (  # rows: valence low, mid, high; columns: arousal low, mid, high
    ("sad, melancholic", "brooding, mysterious", "dark, tense, dramatic"),
    ("calm, gentle", "reflective, thoughtful", "driving, intense"),
    ("peaceful, tender", "warm, hopeful", "joyful, uplifting"),
)
_LEVEL_EDGE = 0.2   # |valence| or |arousal| (-1..1) beyond which the low/high words apply
_ARC_STEP = 0.08    # change of mean energy (0-1) between thirds of a window that counts as a rise or fall


def _level(value: float) -> int:
    return 0 if value < -_LEVEL_EDGE else (2 if value > _LEVEL_EDGE else 1)


def mood_words(valence: float, arousal: float) -> str:
    """Words for a mean valence and arousal (-1..1)."""
    return MOOD_WORDS[_level(valence)][_level(arousal)]


def energy_words(energy: np.ndarray) -> str:
    """The level and shape of a per-second energy curve (0-1), e.g. "soft, building up"."""
    e = np.asarray(energy, float)
    mean = float(e.mean())
    level = "soft" if mean < 0.4 else ("powerful" if mean > 0.7 else "moderate")
    if e.size < 3:
        return f"{level}, steady"
    start, middle, end = (float(part.mean()) for part in np.array_split(e, 3))
    if end - start > _ARC_STEP:
        arc = "building up"
    elif start - end > _ARC_STEP:
        arc = "winding down"
    elif middle - max(start, end) > _ARC_STEP:
        arc = "rising to a peak"
    elif min(start, end) - middle > _ARC_STEP:
        arc = "with a quiet middle"
    else:
        arc = "steady"
    return f"{level}, {arc}"


def tempo_words(bpm: float) -> str:
    """E.g. "mid-tempo, 104 BPM"."""
    pace = "slow" if bpm < 80 else ("mid-tempo" if bpm < 115 else "fast")
    return f"{pace}, {round(bpm)} BPM"


@dataclass(frozen=True)
class PromptWriter:
    """Writes the caption for any span of a video; `for_span(start_s, end_s)` -> text.

    Built once per video by `PromptWriter.from_features`: the tempo, the preset and the per-second
    energy are the whole video's; mood and energy arc are read over each span.
    """

    user_prompt: str | None
    bpm: float
    preset: str
    energy: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    key: str | None

    @classmethod
    def from_features(cls, features: VideoFeatures, controls: Controls, user_prompt: str | None = None) -> "PromptWriter":
        planner = VideoPlanner(controls)
        motion, arousal01, drive = planner.drive(features)
        _, energy = planner.levels(motion, arousal01)
        bpm = controls.tempo if controls.tempo is not None else planner.target_bpm(drive)
        key = controls.key or (f"{controls.mode} key" if controls.mode != "auto" else None)
        weight = controls.weight_emotion
        return cls(
            user_prompt=user_prompt.strip() if user_prompt and user_prompt.strip() else None,
            bpm=float(bpm), preset=planner.preset(features, drive), energy=energy,
            valence=around(0.0, weight, features.valence), arousal=around(0.0, weight, features.arousal), key=key,
        )

    def for_span(self, start_s: float, end_s: float) -> str:
        """The caption for [start_s, end_s) of the video."""
        mood = mood_words(float(mean_over(self.valence, start_s, end_s)), float(mean_over(self.arousal, start_s, end_s)))
        first, last = int(start_s), max(int(start_s) + 1, int(np.ceil(end_s)))
        parts = [PRESET_WORDS[self.preset], mood, energy_words(self.energy[first:last]), tempo_words(self.bpm)]
        if self.key:
            parts.append(f"in {self.key}")
        caption = ", ".join(parts)
        return f"{self.user_prompt.rstrip('.')}. {caption}" if self.user_prompt else caption
