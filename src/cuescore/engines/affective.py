"""The default engine, `affective`: rules from the video's mood, motion, colour and cuts; no weights.

The shared plan decisions (tempo grid fitted to the cuts, sections, density, energy, accents,
instruments) come from `VideoPlanner`; this engine chooses the key and the chords:

- key and mode: valence and brightness (major/minor), hue (tonic); see `engines.key.choose_key`.
- chords: `music.progression.progression`, functional progressions coloured by the per-second emotion,
  with a chord change forced at every cut on the grid and at every section start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cuescore.analysis.features import VideoFeatures
from cuescore.engines.base import Composition, Engine
from cuescore.engines.key import choose_key
from cuescore.engines.video_plan import BEATS_PER_BAR, PlanParts, PlanRecord, VideoPlanner, per_bar
from cuescore.music.arrange import arrange
from cuescore.music.progression import harmonic_slots, progression


@dataclass
class AffectiveRecord(PlanRecord):
    """The shared plan record plus the Roman numeral of each chord span."""

    roman_numerals: list[str] = field(default_factory=list)


class AffectiveEngine(Engine):
    """Rule-based soundtrack; deterministic for a given seed."""

    NAME = "affective"

    def compose(self, features: VideoFeatures) -> Composition:
        features.validate()
        planner = VideoPlanner(self.controls)
        c = planner.controls
        features = planner.direct(features)
        rng = np.random.default_rng(c.seed)
        duration = float(features.duration)
        motion, arousal, drive = planner.drive(features)
        grid = planner.grid(features, drive)
        key = choose_key(features, c, rng)
        sections = planner.sections(features, grid)
        pace = per_bar(drive, grid.downbeats, duration)
        slots = harmonic_slots(grid.beats, grid.downbeats, grid.on_grid + [s.start for s in sections], list(pace),
                               BEATS_PER_BAR)
        chords, romans = progression(key, slots, duration, [s.start for s in sections], features.emotion, c, rng,
                                     scene_changes=grid.on_grid)
        density, energy = planner.levels(motion, arousal)
        parts = PlanParts(drive, grid, key, chords, sections, density, energy, planner.preset(features, drive))
        plan, shared = planner.assemble(features, parts, self.NAME)
        return Composition(plan, arrange(plan, c.seed), None, AffectiveRecord(**vars(shared), roman_numerals=romans))
