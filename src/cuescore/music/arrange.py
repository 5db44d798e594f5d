"""`arrange`: a `MusicPlan` becomes a multi-track `Score` of General MIDI parts.

Roles (keys of `plan.instruments`, each → GM program): "pad" (sustained voice-led chords), "keys"
(rhythm by density level), "bass" (roots and fifths, approach notes into chord changes), "lead"
(phrased melody) and "drums" (value = GM kit; grooves by energy, fills and crashes at cuts). A role
missing from the plan is a part left out; other roles are ignored. Every part's MIDI expression (CC11)
follows the energy curve; all parts hold the last chord from `Timeline.ending` on and fade it (the
keys arpeggiate it while the picture is busy), every note ending by `plan.duration`. Off-beat
eighths are played late where the plan swings, and onsets off the chord changes and cuts are
loosened by a few milliseconds per part (`humanize`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cuescore.music.accompaniment import write_bass, write_keys, write_pad
from cuescore.music.drums import write_drums
from cuescore.music.humanize import humanize, swing
from cuescore.music.melody import write_lead
from cuescore.music.plan import MusicPlan
from cuescore.music.score import CC_EXPRESSION, ControlChange, Score, Track
from cuescore.music.timeline import Timeline

Writer = Callable[[Timeline, int, np.random.Generator], Track]

PARTS: dict[str, Writer] = {
    "pad": write_pad,
    "keys": write_keys,
    "bass": write_bass,
    "lead": write_lead,
    "drums": write_drums,
}
"""Role → part writer, in track order."""

MIX: dict[str, tuple[int, int]] = {
    "pad": (92, 46),
    "keys": (110, 80),
    "bass": (90, 64),
    "lead": (108, 58),
    "drums": (92, 64),
}
"""Role → (channel volume CC7, pan CC10) so that the parts sit apart in the stereo image; the lead
sits about 6 dB further forward against the keys than it did (CC7 gain is 40·log10(v/127) dB), so
the melody is heard over the accompaniment."""

FADE_FLOOR = 24
"""Expression (CC11) reached at the very end of the final chord's fade."""
DYNAMICS_DB = 10.0
"""Expression below full at energy 0 (full at energy 1): the level follows the energy curve within
a bar, not only the velocities of the notes struck there."""
EXPRESSION_STEP = 0.25
"""Seconds between expression updates (a change under two CC steps is not sent)."""


def arrange(plan: MusicPlan, seed: int | None = None) -> Score:
    """The score for `plan`: one track per role in `plan.instruments` that `PARTS` knows.

    `seed` (default: `plan.seed`, else 0) fixes every choice — patterns, variations, melody —
    so the same plan and seed always give the same score. Each part draws from its own stream,
    so leaving a part out does not change the others.
    """
    plan.validate()
    if plan.duration <= 0:
        raise ValueError(f"plan duration must be positive, got {plan.duration}")
    tl = Timeline(plan)
    base = seed if seed is not None else plan.seed if plan.seed is not None else 0
    tracks = []
    for index, (role, writer) in enumerate(PARTS.items()):
        if role not in plan.instruments:
            continue
        rng = np.random.default_rng([abs(int(base)), index])
        track = writer(tl, int(plan.instruments[role]), rng)
        swing(track, tl)
        humanize(track, role, tl, np.random.default_rng([abs(int(base)), index, 1]))
        track.volume, track.pan = MIX[role]
        track.controls.extend(_expression(tl))
        track.tidy(plan.duration)
        tracks.append(track)
    return Score(tracks, list(plan.tempo_map), float(plan.duration), plan.key, plan.beats_per_bar, _pickup(plan))


def _pickup(plan: MusicPlan) -> int:
    """Beats of the plan's grid before its first downbeat (0 when it starts on one)."""
    if not plan.downbeats or not plan.beats:
        return 0
    return int(np.searchsorted(np.asarray(plan.beats), plan.downbeats[0] - 1e-6)) % max(1, plan.beats_per_bar)


def _expression(tl: Timeline) -> list[ControlChange]:
    """Expression (CC11) that follows the energy within bars (`Timeline.energy_at`, every
    `EXPRESSION_STEP` s; `DYNAMICS_DB` below full at energy 0), then, over the last two thirds of
    the held final chord, a ramp down to `FADE_FLOOR` (perceived loudness falls roughly linearly
    with CC11 in dB; the SoundFont gain is 40·log10(value/127) dB)."""
    fade = tl.ending + (tl.duration - tl.ending) / 3.0 if tl.ending < tl.duration else tl.duration
    controls: list[ControlChange] = []
    for t in np.arange(0.0, fade, EXPRESSION_STEP):
        value = int(round(127 * 10 ** (-DYNAMICS_DB * (1.0 - tl.energy_at(float(t))) / 40.0)))
        if not controls or abs(value - controls[-1].value) >= 2:
            controls.append(ControlChange(float(t), CC_EXPRESSION, value))
    if fade >= tl.duration:
        return controls
    last = controls[-1].value if controls else 127
    steps = 16
    for k in range(1, steps + 1):
        t = fade + (tl.duration - fade) * k / steps
        controls.append(ControlChange(min(t, tl.duration), CC_EXPRESSION, round(last + (FADE_FLOOR - last) * k / steps)))
    return controls
