"""Hand-built `MusicPlan`s for tests: realistic shape, known chords, cuts, accents and levels."""

from __future__ import annotations

from cuescore.music.plan import ChordSpan, Key, MusicPlan, Section, TempoChange

PROGRESSION = ("A:min", "F", "C", "G")
"""i–VI–III–VII in A minor, one chord per bar, ending on the tonic."""

DENSITY = (0, 1, 2, 2, 3, 4, 4, 3, 1)
ENERGY = (0.15, 0.25, 0.45, 0.55, 0.7, 0.9, 0.85, 0.6, 0.3)
INSTRUMENTS = {"pad": 48, "keys": 0, "bass": 33, "lead": 73, "drums": 0}


def make_plan(
    duration: float = 20.0,
    bpm: float = 100.0,
    tempo_change: tuple[int, float] | None = None,
    instruments: dict[str, int] | None = None,
    density: tuple[int, ...] = DENSITY,
    energy: tuple[float, ...] = ENERGY,
    beats_per_bar: int = 4,
) -> MusicPlan:
    """A plan in A minor at `bpm` (optionally switching to `tempo_change[1]` BPM at bar
    `tempo_change[0]`), one chord per bar cycling `PROGRESSION`, the last chord the tonic held to the
    end. Bars take `density` and `energy` levels cyclically. Cuts fall on the downbeats of bars 1, 4
    and 6 (bar 1 is quiet); accents sit between beats in bars 3 and 5 (of 4/4).
    """
    beats, tempo_map, t, bar_tempo = [], [TempoChange(0.0, bpm)], 0.0, bpm
    while t < duration - 1e-9:
        bar = len(beats) // beats_per_bar
        if tempo_change and bar == tempo_change[0] and len(beats) % beats_per_bar == 0 and bar_tempo == bpm:
            bar_tempo = tempo_change[1]
            tempo_map.append(TempoChange(round(t, 9), bar_tempo))
        beats.append(round(t, 9))
        t += 60.0 / bar_tempo
    downbeats = beats[::beats_per_bar]
    n_bars = len(downbeats)
    bar_end = [downbeats[i + 1] if i + 1 < n_bars else duration for i in range(n_bars)]
    chords = [ChordSpan(downbeats[i], bar_end[i], PROGRESSION[i % len(PROGRESSION)]) for i in range(n_bars - 2)]
    chords.append(ChordSpan(downbeats[n_bars - 2], duration, "A:min"))
    third, two_thirds = downbeats[n_bars // 3], downbeats[(2 * n_bars) // 3]
    sections = [Section(0.0, third, "A"), Section(third, two_thirds, "B"), Section(two_thirds, duration, "outro")]
    plan = MusicPlan(
        duration=duration,
        tempo_map=tempo_map,
        beats=beats,
        downbeats=downbeats,
        key=Key(9, "minor"),
        chords=chords,
        sections=sections,
        density=[density[i % len(density)] for i in range(n_bars)],
        energy=[energy[i % len(energy)] for i in range(n_bars)],
        instruments=dict(INSTRUMENTS if instruments is None else instruments),
        accents=[(beats[13] + beats[14]) / 2 + 0.05, beats[21] + 0.1] if len(beats) > 22 else [],
        cuts=[downbeats[i] for i in (1, 4, 6) if i < n_bars],
        marked_cuts=[downbeats[i] for i in (1, 4, 6) if i < n_bars],
        beats_per_bar=beats_per_bar,
        engine="fixture",
        seed=0,
    )
    plan.validate()
    return plan
