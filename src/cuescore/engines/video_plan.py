"""The plan decisions every symbolic engine shares: tempo grid, sections, levels, accents, instruments.

`VideoPlanner(controls)` turns `VideoFeatures` into the parts of a `MusicPlan` that do not
depend on how the chords are chosen; an engine picks the key and the chords and calls
`assemble(features, PlanParts(...))`. Every feature enters as `neutral + weight × (feature −
neutral)`, so a weight of 0 removes its influence, 1 keeps it as analysed and 2 doubles it
(Controllable V2M's user weights).

- drive (per second, 0-1): arousal (× weight_emotion) blended with motion, optical flow and
  cut rate (× weight_motion); its mean sets the target tempo.
- grid: `fit_beat_grid` bends the beats so the hard cuts land on them (× weight_cuts).
- sections: groups of shots, split where the mood changes; labels repeat for similar moods.
- per bar: density 0-4 follows motion and flow; energy 0-1 follows arousal × the energy control;
  per second, the curves the arrangement follows within bars (intensity, `activity`).
- accents: the strongest visual beats, plus cuts that could not sit on a beat.

Directing (see `engines.directing`; an engine first calls `direct(features)`): hit points are
downbeats of the grid (`pin_downbeats`) with a forced chord change, an accent and a crash;
intensity keyframes replace the per-second density and energy (× the energy control); named
sections replace the planner's; music controls scale how far density (rhythm), energy (dynamics)
and the lead's register (pitch) follow the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cuescore.analysis.emotion import cut_rate
from cuescore.analysis.features import HARD_CUT, VideoFeatures, mean_over
from cuescore.controls import INSTRUMENT_PRESETS, Controls
from cuescore.engines.base import EngineRecord
from cuescore.engines.directing import directed, intensity_curve, placed_sections, with_global_weights
from cuescore.music.plan import ChordSpan, Key, MusicPlan, Section, TempoChange
from cuescore.music.tempo import BEAT_TOLERANCE, constant_grid, fit_beat_grid, pin_downbeats

BEATS_PER_BAR = 4
_MIN_SECTION = 6.0      # seconds: a section is at least this long unless the video is shorter
_MAX_SECTION = 24.0     # seconds: a longer group of shots is split at the next shot boundary or bar
_MOOD_CHANGE = 0.5      # L1 distance between emotion distributions that starts a new section
_SAME_LABEL = 0.3       # distance under which a section repeats an earlier label
_ACCENT_SHARE = 0.35    # share of visual beats kept as accents at weight_motion = 1
_ACTIVITY_CONTRAST = 2.0  # per-second activity: the density level plus this × its contrast in the clip
PRESET_SWING = {"electronic": 0.08, "piano": 0.05}
"""Beats by which a preset's off-beat eighths lag (`MusicPlan.swing`): the light shuffle of electronic
grooves (off-beats at 58 % of the beat) and a solo pianist's lilt (55 %); the others play straight."""


def saturate(x: np.ndarray, scale: float) -> np.ndarray:
    """0 at 0, 0.63 at `scale`, approaching 1."""
    return 1.0 - np.exp(-np.clip(np.asarray(x, float), 0.0, None) / scale)


def around(neutral: float, weight: float, value: np.ndarray) -> np.ndarray:
    """`neutral + weight × (value − neutral)`: a feature scaled by its user weight."""
    return neutral + weight * (np.asarray(value, float) - neutral)


def contrast(values: np.ndarray, spread: float = 0.1) -> np.ndarray:
    """How far each value stands from the clip's own mean, in clip standard deviations (at least
    `spread`), clipped to ±1.5: a calm clip still gets its quieter and busier moments."""
    v = np.asarray(values, float)
    return np.clip((v - v.mean()) / max(float(v.std()), spread), -1.5, 1.5)


def per_bar(values: np.ndarray, downbeats: list[float], duration: float) -> np.ndarray:
    """Per-second values averaged over each bar (bar i spans downbeats[i] to the next or the end)."""
    ends = list(downbeats[1:]) + [duration]
    return np.array([mean_over(values, s, e) for s, e in zip(downbeats, ends)], float)


@dataclass
class BeatGrid:
    """The tempo decision: target BPM, tempo map, beats and downbeats (s), the hard cuts and hit
    points on the grid (the times that force a chord change)."""

    target_bpm: float
    tempo_map: list[TempoChange]
    beats: list[float]
    downbeats: list[float]
    on_grid: list[float]


@dataclass
class PlanParts:
    """An engine's decisions for one plan. drive, density (levels 0-4) and energy (0-1) are per
    second [T]; they become per-bar values in `assemble`."""

    drive: np.ndarray
    grid: BeatGrid
    key: Key
    chords: list[ChordSpan]
    sections: list[Section]
    density: np.ndarray
    energy: np.ndarray
    preset: str


@dataclass
class PlanRecord(EngineRecord):
    """What the shared plan decisions were: per-second drive, the tempo the grid aimed at, the
    instrument preset, the hard cuts left off the grid and the video's transitions."""

    drive: list[float] = field(default_factory=list)
    target_bpm: float = 0.0
    instrument_preset: str = ""
    off_grid_cuts: list[float] = field(default_factory=list)
    transitions: list[dict] = field(default_factory=list)


class VideoPlanner:
    """The plan decisions shared by the symbolic engines, following `controls` (its `*,*`
    video controls multiplied into the global weights)."""

    def __init__(self, controls: Controls) -> None:
        self.controls = with_global_weights(controls)

    def direct(self, features: VideoFeatures) -> VideoFeatures:
        """The features as directed (per-shot weights folded in, ignored cuts dropped); call once,
        first, and pass the result to the other methods. `OptionError` for a directed time outside
        the video or a shot or region the analysis lacks."""
        return directed(features, self.controls)

    def drive(self, features: VideoFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per second, 0-1: (motion from frame differences and flow, arousal, drive)."""
        c = self.controls
        arousal = (np.asarray(features.arousal, float) + 1.0) / 2.0
        motion = 0.55 * saturate(features.motion, 12.0) + 0.45 * saturate(features.flow, 1.5)
        cuts = saturate(cut_rate(features.cuts, features.T).astype(float) / 10.0, 0.3)  # 0.3 cuts/s → 0.63
        drive = np.clip(0.5 + c.weight_emotion * 0.5 * (arousal - 0.5)
                        + c.weight_motion * 0.5 * (0.8 * motion + 0.2 * cuts - 0.5), 0.0, 1.0)
        return motion, arousal, drive

    def grid(self, features: VideoFeatures, drive: np.ndarray) -> BeatGrid:
        """The beat grid fitted to the hard cuts at a tempo set by the mean drive (or the locked tempo)."""
        c = self.controls
        duration = float(features.duration)
        lo, hi = c.bpm_range
        target = self.target_bpm(drive)
        hard = features.hard_cuts
        hits = list(c.hit_times)
        if c.tempo is not None:
            tempo_map, beats, downbeats = constant_grid(duration, c.tempo, BEATS_PER_BAR)
        else:
            chased = hard if c.weight_cuts > 0 else []
            tempo_map, beats, downbeats = fit_beat_grid(duration, sorted(set(chased) | set(hits)), target, (lo, hi),
                                                        BEATS_PER_BAR, c.weight_cuts if chased else 1.0)
        b = np.asarray(beats)
        on_grid = [t for t in hard if np.min(np.abs(b - t)) <= BEAT_TOLERANCE] if c.weight_cuts > 0 else []
        if hits:
            tempo_map, beats, downbeats = pin_downbeats(beats, downbeats, hits, on_grid, duration, BEATS_PER_BAR)
            b = np.asarray(beats)
            on_grid = [t for t in on_grid if np.min(np.abs(b - t)) <= BEAT_TOLERANCE]
        return BeatGrid(target, tempo_map, beats, downbeats, sorted(set(on_grid) | set(hits)))

    def target_bpm(self, drive: np.ndarray) -> float:
        """The tempo the grid aims at: the mean drive mapped into the tempo range (geometrically)."""
        lo, hi = self.controls.bpm_range
        return lo * (hi / lo) ** (0.1 + 0.8 * float(np.mean(drive)))

    def levels(self, motion: np.ndarray, arousal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per second: (density level 0-4 from motion × weight_motion, energy 0-1 from arousal ×
        weight_emotion × the energy control), scaled further by the rhythm and dynamics music
        controls. Both mix the absolute level with the clip's own contrast, so the music moves
        where the picture does even in an evenly calm clip."""
        c = self.controls
        rhythm, dynamics = c.music_weight("rhythm"), c.music_weight("dynamics")
        density = around(2.0, c.weight_motion * rhythm, 4.0 * motion + 0.8 * contrast(motion, 0.05))
        follow = c.weight_emotion * dynamics
        swing = 0.6 * (arousal - 0.5) + 0.12 * contrast(arousal, 0.05)
        energy = np.clip(c.energy * (0.55 + follow * swing), 0.0, 1.0)
        return density, energy

    def sections(self, features: VideoFeatures, grid: BeatGrid) -> list[Section]:
        """The user's named sections (on bar lines), else groups of shots between grid points: a
        new section where the mood changes or the current one has run long, never shorter than
        `_MIN_SECTION` seconds."""
        duration = float(features.duration)
        placed = placed_sections(self.controls, grid.downbeats, duration)
        if placed is not None:
            return placed
        boundaries = self._shot_boundaries(features, grid)
        starts = [0.0]
        for i, t in enumerate(boundaries):
            shot_end = boundaries[i + 1] if i + 1 < len(boundaries) else duration
            current = mean_over(features.emotion, starts[-1], t)
            upcoming = mean_over(features.emotion, t, shot_end)
            long_enough = t - starts[-1] >= _MIN_SECTION and duration - t >= _MIN_SECTION / 2
            if long_enough and (np.abs(current - upcoming).sum() > _MOOD_CHANGE or t - starts[-1] >= _MAX_SECTION):
                starts.append(t)
        bars = grid.downbeats if len(grid.downbeats) else grid.beats
        starts = self._split_long(starts, boundaries, list(bars), duration)
        ends = starts[1:] + [duration]
        labels: list[str] = []
        moods: list[np.ndarray] = []
        for s, e in zip(starts, ends):
            mood = mean_over(features.emotion, s, e)
            same = [labels[i] for i, m in enumerate(moods) if np.abs(m - mood).sum() < _SAME_LABEL]
            labels.append(same[0] if same else chr(ord("A") + len(set(labels))))
            moods.append(mood)
        return [Section(float(s), float(e), lab) for s, e, lab in zip(starts, ends, labels)]

    def _shot_boundaries(self, features: VideoFeatures, grid: BeatGrid) -> list[float]:
        """Transition times on the grid: hard cuts on the nearest beat, gradual transitions on the
        nearest downbeat when one is within a beat of the fastest tempo."""
        b = np.asarray(grid.beats)
        bars = np.asarray(grid.downbeats) if len(grid.downbeats) else b
        points = []
        for tr in features.transitions:
            on_beat = b[np.argmin(np.abs(b - tr.time))]
            near_down = bars[np.argmin(np.abs(bars - tr.time))]
            far = abs(near_down - tr.time) > 60.0 / self.controls.bpm_range[1]
            points.append(float(on_beat if tr.kind == HARD_CUT or far else near_down))
        return sorted({p for p in points if 0.0 < p < float(features.duration)})

    @staticmethod
    def _split_long(starts: list[float], boundaries: list[float], downbeats: list[float],
                    duration: float) -> list[float]:
        """Split sections longer than `_MAX_SECTION` into equal parts, each split at a shot
        boundary within a quarter part of the ideal point, else at the nearest downbeat."""
        out: list[float] = []
        for s, e in zip(starts, starts[1:] + [duration]):
            out.append(s)
            parts = int((e - s) // _MAX_SECTION) + 1 if e - s > _MAX_SECTION else 1
            length = (e - s) / parts
            for k in range(1, parts):
                ideal = s + k * length
                shots = [b for b in boundaries if s < b < e and abs(b - ideal) <= length / 4]
                candidates = shots or [d for d in downbeats if s < d < e]
                if candidates:
                    out.append(min(candidates, key=lambda d: abs(d - ideal)))
        return sorted(set(out))

    def accents(self, features: VideoFeatures, beats: list[float], off_grid_cuts: list[float],
                hits: Sequence[float] = ()) -> list[float]:
        """The strongest visual beats (a share scaled by weight_motion; none of strength 0), moved
        onto the nearest eighth note when within 80 ms, plus the cuts left off the beat grid
        (× weight_cuts) and the hit points (always; other accents within 0.1 s of one give way)."""
        times = np.asarray(features.beat_times, float)
        strength = np.asarray(features.beat_strengths, float)
        share = min(1.0, _ACCENT_SHARE * self.controls.weight_motion)
        keep = int(round(share * times.size))
        order = np.argsort(-strength, kind="stable")[:keep]
        chosen = times[order[strength[order] > 0]] if keep else np.array([])
        b = np.asarray(beats)
        eighths = np.sort(np.concatenate([b, (b[:-1] + b[1:]) / 2.0])) if b.size > 1 else b
        out = []
        for t in chosen:
            near = eighths[np.argmin(np.abs(eighths - t))] if eighths.size else t
            out.append(float(near) if abs(near - t) <= 0.08 else float(t))
        if self.controls.weight_cuts > 0:
            out.extend(off_grid_cuts)
        merged: list[float] = []
        for t in sorted(out):
            if (not merged or t - merged[-1] > 0.1) and all(abs(t - h) > 0.1 for h in hits):
                merged.append(round(t, 6))
        return sorted(merged + [round(float(h), 6) for h in hits])

    def preset(self, features: VideoFeatures, drive: np.ndarray) -> str:
        """The preset the user chose, or one picked by mood (valence × weight_emotion, drive)."""
        if self.controls.instruments != "auto":
            return self.controls.instruments
        valence = self.controls.weight_emotion * float(np.mean(features.valence))
        level = float(np.mean(drive))
        if level >= 0.55:
            return ("rock" if level >= 0.7 else "electronic") if valence >= 0 else "cinematic"
        if valence >= 0.2:
            return "ambient"
        return "piano" if valence < -0.1 and level < 0.4 else "orchestral"

    @staticmethod
    def activity(density: np.ndarray, keyed: bool = False) -> list[float]:
        """Per second, the density level (0-4) the arrangement follows within bars: the user's
        intensity keyframes as they are (`keyed`), else the engine's levels with their moments of
        more or less motion than the clip's usual drawn apart, so that a beat-by-beat rhythm can
        follow them where bar levels average them away."""
        density = np.asarray(density, float)
        if not keyed:
            density = density + _ACTIVITY_CONTRAST * contrast(density, 0.25)
        return [round(float(v), 3) for v in np.clip(density, 0.0, 4.0)]

    def assemble(self, features: VideoFeatures, parts: PlanParts, engine: str) -> tuple[MusicPlan, PlanRecord]:
        """The validated plan and the shared record from an engine's decisions. Every hard cut is
        reported in `plan.cuts`; the arrangement marks them (`marked_cuts`) unless weight_cuts is 0,
        and always marks the hit points. Intensity keyframes replace the engine's density and energy."""
        duration = float(features.duration)
        hard = features.hard_cuts
        grid = parts.grid
        hits = list(self.controls.hit_times)
        off_grid = [t for t in hard if t not in grid.on_grid]
        density, energy, intensity = self._directed_levels(features, parts)
        plan = MusicPlan(
            duration=duration, tempo_map=grid.tempo_map, beats=grid.beats, downbeats=grid.downbeats, key=parts.key,
            chords=parts.chords, sections=parts.sections,
            density=[int(d) for d in np.clip(np.rint(per_bar(density, grid.downbeats, duration)), 0, 4)],
            energy=[round(float(e), 4) for e in per_bar(energy, grid.downbeats, duration)],
            instruments=dict(INSTRUMENT_PRESETS[parts.preset]),
            accents=self.accents(features, grid.beats, off_grid, hits),
            cuts=list(hard), marked_cuts=sorted(set(hard if self.controls.weight_cuts > 0 else []) | set(hits)),
            beats_per_bar=BEATS_PER_BAR, engine=engine, seed=self.controls.seed, hits=hits,
            intensity=[round(float(v), 4) for v in intensity],
            activity=self.activity(density, keyed=intensity_curve(self.controls, features.T) is not None),
            register=[round(float(r), 3) for r in per_bar(self.register(features), grid.downbeats, duration)],
            swing=PRESET_SWING.get(parts.preset, 0.0),
        )
        plan.validate()
        record = PlanRecord(
            drive=np.round(parts.drive, 4).tolist(), target_bpm=round(grid.target_bpm, 3),
            instrument_preset=parts.preset, off_grid_cuts=off_grid,
            transitions=[{"time": t.time, "kind": t.kind} for t in features.transitions],
        )
        return plan, record

    def _directed_levels(self, features: VideoFeatures, parts: PlanParts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per second: (density level 0-4, energy 0-1, the intensity curve used 0-1). With keyframes
        the density is 4 × the curve and the energy the curve × the energy control; without, the
        engine's levels, the curve being its energy."""
        curve = intensity_curve(self.controls, features.T)
        if curve is None:
            return parts.density, parts.energy, np.clip(parts.energy, 0.0, 1.0)
        return 4.0 * curve, np.clip(self.controls.energy * curve, 0.0, 1.0), curve

    def register(self, features: VideoFeatures) -> np.ndarray:
        """Per second: semitones the lead's register moves (brighter, more aroused pictures sing
        higher), × the pitch music control; 0 when it is 0."""
        pitch = self.controls.music_weight("pitch")
        bright = contrast(features.brightness, 0.05)
        return pitch * (1.5 * bright + 2.0 * np.asarray(features.arousal, float))
