"""Light humanisation: small, seeded timing offsets per part, so parts do not strike with machine
precision (velocities are already varied by `patterns.velocity`), and swing where the plan asks
for it (`swing`: the off-beat eighths of every part, drums included, played late).

Onsets that the picture fixes stay exact: a note starting on a chord change, an accent (cut), the
final hold or the very start, so the music still lands on the cuts. Every other onset moves by a
normal offset of `HUMANIZE_MS[role]` milliseconds (clipped to twice that), never before 0 s and
never past its own note-off.
"""

from __future__ import annotations

import numpy as np

from cuescore.music.score import Track
from cuescore.music.timeline import Timeline

HUMANIZE_MS: dict[str, float] = {"pad": 12.0, "keys": 8.0, "bass": 6.0, "lead": 10.0}
"""Standard deviation of the onset offset per part, milliseconds (sustained pads loosest); a role
not listed is left as written: the drums keep the grid that the beat is heard from."""
ANCHOR_TOLERANCE = 1e-4


def anchors(tl: Timeline) -> np.ndarray:
    """Sorted times (s) whose onsets stay exact: chord changes, accents, the ending and 0."""
    times = [0.0, tl.ending, *(s.start for s in tl.spans), *tl.accents]
    return np.unique(np.round(np.asarray(times, float), 6))


def humanize(track: Track, role: str, tl: Timeline, rng: np.random.Generator) -> None:
    """Shift the onsets of `track`'s notes (in place) by small seeded offsets, anchors excepted."""
    sigma = HUMANIZE_MS.get(role, 0.0) / 1000.0
    if sigma <= 0 or not track.notes:
        return
    fixed = anchors(tl)
    offsets = np.clip(rng.normal(0.0, sigma, len(track.notes)), -2 * sigma, 2 * sigma)
    for note, offset in zip(track.notes, offsets):
        i = int(np.searchsorted(fixed, note.start))
        near = min(abs(fixed[j] - note.start) for j in (i - 1, i) if 0 <= j < len(fixed))
        if near <= ANCHOR_TOLERANCE:
            continue
        note.start = float(np.clip(note.start + offset, 0.0, note.end - 0.02 if note.end - note.start > 0.04
                                   else note.start))


def swing(track: Track, tl: Timeline) -> None:
    """Delay the notes of `track` that start on an off-beat eighth (beat position n + 1/2) by
    `tl.plan.swing` beats (in place), anchors excepted; a note keeps at least 20 ms."""
    amount = float(tl.plan.swing)
    if amount <= 0 or not track.notes:
        return
    fixed = anchors(tl)
    for note in track.notes:
        pos = tl.position(note.start)
        if abs(pos - np.floor(pos) - 0.5) > 1e-3 or np.min(np.abs(fixed - note.start)) <= ANCHOR_TOLERANCE:
            continue
        note.start = min(tl.time(pos + amount), max(note.start, note.end - 0.02))
