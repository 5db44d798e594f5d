"""Chromatic colour for the functional progressions of `progression`: secondary dominants, chords
borrowed from the parallel mode, and sus4 → major suspensions, placed where pop and film
harmony places them.

The Markov chain in `progression.progression` writes diatonic degrees; `ornament` then revisits
each slot (left to right, knowing the chord that follows) and may replace its chord:

- secondary dominant V/x (a dominant seventh, or the plain major triad where exciting or
  relaxing × weight_emotion favour it; V/IV, and V/VI in minor, always keep the seventh that
  makes them dominants rather than I or III): only right before its target x, a major or minor degree other than the tonic,
  so it always resolves a fifth down to it; the target keeps its triad (no sus colour). It is
  mostly the chromatic alteration of the chord already there (major: ii → V/V before V, iii →
  V/vi before vi, vi → V/ii before ii, I → V/IV before IV; minor: i → V/iv before iv, III → V/VI
  before VI, ii° → V/V before V), less often it replaces a predominant or tonic substitute.
  Not mood-driven: the same rates at any weight_emotion.
- borrowed chord from the parallel mode: in major iv (for IV before I or V: the minor plagal and
  iv–V), bVI (for vi or IV before I, ii, IV or V: the deceptive V → bVI, bVI–V–I) and bVII (for
  V before I or IV, or IV before I: the backdoor bVII–I, bVII–IV); in minor the Dorian IV (for iv
  before i, III, V or VII). Its rate is a small base in the last three slots of a section (before
  the cadence) plus a share proportional to weight_emotion × the probability of the emotions
  the colour suits over the slot (`MIXTURE_EMOTIONS`: sad, tense and fearful for the darker
  parallel-minor chords of a major key; exciting and relaxing for the brighter Dorian IV of a
  minor key, whose cadential rate those dark emotions hold back in turn), so at weight_emotion
  0 only the cadential ones remain, at the same rate whatever the mood.
- suspension: a predominant (ii or IV; ii° or iv in minor) right before V becomes Vsus4, and
  that V resolves it as a major triad or dominant seventh.

Each rate is then tilted by the mood the way the chain's transitions are: × exp(TILT × (how
well the replacement's colours suit the slot's emotions − how well the replaced chord's do)),
both × weight_emotion, so a V7/x is rarer over a sad minor chord and a borrowed iv rarer over a
relaxing IV (and nothing changes at weight_emotion 0).

Chords that are never replaced: the first slot of each section (the primer is not touched at
all), each section's cadence goal, the dominant of the final cadence and any chord a
replacement resolves to; two chromatic chords stand at least `MIN_GAP` slots apart. In minor
the dominant of every authentic cadence is the harmonic-minor V (major or 7); the cadence masks
of `progression` ensure it, and `theory.is_diatonic` counts it as in the key.

The rates below put about 6 % of the chords outside the key over the real clips of
benchmarks/bench_quality.py (POP909's ten songs: 6.1 %); long pieces, with fewer locked slots,
get a little more (about 8 % over three minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cuescore.analysis.features import EMOTIONS
from cuescore.music.chords import Chord
from cuescore.music.plan import Key
from cuescore.music.theory import is_diatonic, scale

P_SECONDARY_ALTER = 0.35    # V/x where the slot already holds x's dominant root (ii before V → V/V)
P_SECONDARY_REPLACE = 0.15  # V/x replacing another predominant or tonic substitute before x
P_BORROW_CADENCE = 0.60     # borrowed chord in the last three slots of a section, at any weight
P_BORROW_MOOD = 0.50        # × weight_emotion × P(the emotions the colour suits) over the slot
P_SUSPENSION = 0.12         # ii/IV before V → Vsus4 → V
P_MAX = 0.85                # no slot is replaced more surely than this
MIN_GAP = 5                 # slots from one chromatic chord (secondary or borrowed) to the next
TILT = 1.5                  # as `progression._DEGREE_TILT`: log-factor per unit of weighted emotion fit

MIXTURE_EMOTIONS = {"major": ("sad", "tense", "fearful"), "minor": ("exciting", "relaxing")}
"""Emotions whose probability makes the parallel mode's colours likelier: the darker parallel
minor's in a major key, the brighter parallel major's (Dorian IV) in a minor key."""
MIXTURE_AGAINST = {"major": (), "minor": ("sad", "tense", "fearful")}
"""Emotions that hold the cadential borrowed chords back: the bright Dorian IV in dark passages."""

SECONDARY_TARGETS = {"major": {"vi": 1.6, "ii": 1.0, "V": 0.6, "IV": 0.5, "iii": 0.3},
                     "minor": {"iv": 1.0, "V": 0.7, "VI": 0.7}}
"""Degrees that may be preceded by their own dominant, with a factor on the rate: V/vi and V/ii
are pop's commonest, and ii → V/V, the chain's likeliest context, would otherwise crowd them
out. (V/III in minor is VII, already in the key.)"""

_REPLACEABLE = {"major": ("I", "ii", "iii", "IV", "vi"), "minor": ("i", "ii°", "III", "iv", "VI", "VII")}
"""Degrees a secondary dominant may replace when it does not share their root."""

_BORROWED = {
    # (name, semitones above the tonic, triad, colours and base scores, replaces, allowed next degrees, share)
    "major": (
        ("iv", 5, "min", {"min": 1.0, "min6": 0.5, "min7": 0.4}, ("IV",), ("I", "V", "vii°"), 0.45),
        ("bVI", 8, "maj", {"maj": 1.0, "maj7": 0.6}, ("vi", "IV"), ("I", "ii", "IV", "V"), 0.30),
        ("bVII", 10, "maj", {"maj": 1.0, "7": 0.4}, ("V", "IV"), ("I", "IV"), 0.25),
    ),
    "minor": (
        ("IV", 5, "maj", {"maj": 1.0, "7": 0.4}, ("iv",), ("i", "III", "V", "VII"), 1.0),
    ),
}
"""Chords borrowed from the parallel mode and where they may stand."""

_SUSPENDED_FROM = {"major": ("ii", "IV"), "minor": ("ii°", "iv")}

PARALLEL_COLOURS = {"major": {(5, "min"), (8, "maj"), (10, "maj")}, "minor": {(5, "maj")}}
"""(semitones above the tonic, triad family) of the borrowed chords, for `explain`."""


@dataclass
class Step:
    """One slot of a progression before colouring: the degree (or chromatic chord) it holds and
    the context `ornament` needs."""

    name: str                   # roman numeral: "V", "V/vi", "bVII", ...
    offset: int                 # root, semitones above the tonic
    triad: str                  # "maj", "min" or "dim": the family colours keep
    qualities: dict[str, float] | None = None  # a chromatic chord's colours and their base scores
    resolve: bool = False       # no sus colour (a cadence's dominant, a resolution target)
    locked: bool = False        # may not be replaced
    near_cadence: bool = False  # among the last three slots of its section
    mood: float = 0.0           # `mixture_mood` of the slot: for the parallel mode's colours
    against: float = 0.0        # and against them
    affinity: dict[str, float] | None = None  # quality → weight_emotion × P(emotions it suits) over the slot
    fit: float = 0.0            # the best affinity among the colours the chord may take
    kind: str = "diatonic"      # diatonic, secondary, borrowed, suspension

    @property
    def chromatic(self) -> bool:
        return self.kind in ("secondary", "borrowed")


def mixture_mood(emotion: np.ndarray, weight: float, mode: str) -> tuple[float, float]:
    """weight × the summed probability of the `MIXTURE_EMOTIONS`, and of the `MIXTURE_AGAINST`
    emotions, of `mode` in one emotion row."""
    row = np.asarray(emotion, float)
    return (float(weight * sum(row[EMOTIONS.index(name)] for name in MIXTURE_EMOTIONS[mode])),
            float(weight * sum(row[EMOTIONS.index(name)] for name in MIXTURE_AGAINST[mode])))


def _secondary(target: Step, mode: str) -> Step:
    root = (target.offset + 7) % 12
    colours = {"7": 1.0, "maj": 0.8}
    if (root, mode) in ((0, "major"), (3, "minor")):  # V/IV is I, V/VI in minor is III: the 7th makes it a dominant
        colours = {"7": 1.0}
    return Step(f"V/{target.name}", root, "maj", colours, kind="secondary")


def _tilted(p: float, step: Step, new: Step) -> float:
    """`p` scaled by exp(TILT × (fit of the replacement's colours − fit of the chord it replaces)):
    the emotion tilt of the chain, so a replacement that suits the slot's mood worse than the
    chord there becomes rarer (none at weight_emotion 0), capped at P_MAX."""
    if not step.affinity or new.qualities is None:
        return p
    fit = max(step.affinity.get(q, 0.0) for q in new.qualities)
    return min(P_MAX, p * math.exp(TILT * (fit - step.fit)))


def candidates(step: Step, nxt: Step, mode: str) -> list[tuple[float, Step]]:
    """(probability, replacement) for `step` given the chord after it, before the emotion tilt."""
    out: list[tuple[float, Step]] = []
    if nxt.kind == "diatonic" and nxt.name in SECONDARY_TARGETS[mode]:
        sec, factor = _secondary(nxt, mode), SECONDARY_TARGETS[mode][nxt.name]
        if step.offset == sec.offset:
            out.append((P_SECONDARY_ALTER * factor, sec))
        elif step.name in _REPLACEABLE[mode]:
            out.append((P_SECONDARY_REPLACE * factor, sec))
    rate = P_BORROW_CADENCE * step.near_cadence * max(0.0, 1.0 - step.against) + P_BORROW_MOOD * step.mood
    for name, offset, triad, colours, replaces, before, share in _BORROWED[mode]:
        if step.name in replaces and nxt.name in before:
            out.append((rate * share, Step(name, offset, triad, dict(colours), kind="borrowed")))
    if step.name in _SUSPENDED_FROM[mode] and nxt.name == "V":
        out.append((P_SUSPENSION, Step("V", 7, "maj", {"sus4": 1.0}, kind="suspension")))
    return out


def ornament(steps: list[Step], mode: str, rng: np.random.Generator) -> list[Step]:
    """`steps` with some chords replaced by secondary dominants, borrowed chords and
    suspensions (see the module docstring), chromatic ones at least `MIN_GAP` slots apart; one
    uniform draw per slot that has a candidate."""
    out = list(steps)
    last_chromatic = -MIN_GAP
    for i in range(len(out) - 1):
        step, nxt = out[i], out[i + 1]
        if step.locked or step.kind != "diatonic":
            continue
        spaced = i - last_chromatic >= MIN_GAP
        options = [(_tilted(p, step, s), s) for p, s in candidates(step, nxt, mode)
                   if p > 0 and (spaced or not s.chromatic)]
        if not options:
            continue
        total = sum(p for p, _ in options)
        u = float(rng.random())
        if u >= min(total, P_MAX):
            continue
        scaled = u * total / min(total, P_MAX)
        for p, new in options:
            if scaled < p:
                break
            scaled -= p
        out[i] = replace(new, near_cadence=step.near_cadence, mood=step.mood, against=step.against,
                         affinity=step.affinity)
        out[i + 1] = replace(nxt, locked=True, resolve=True)  # the chord it resolves to stays, with its third
        if new.chromatic:
            last_chromatic = i
    return out


def explain(chord: Chord, next_chord: Chord | None, key: Key) -> str:
    """How `chord` stands in `key` given the chord after it: "diatonic" (the harmonic-minor V
    included), "secondary dominant" (a major triad or dominant seventh resolving a fifth down to
    a degree of the key, or a diminished chord, vii°/x, resolving a semitone up to one),
    "borrowed" (a colour of iv, bVI or bVII in major, IV in minor) or "other"."""
    if chord.is_none:
        return "other"
    if is_diatonic(chord, key):
        return "diatonic"
    target = None if next_chord is None or next_chord.is_none else next_chord.root
    if target is not None and target in scale(key) and (
            (chord.quality in ("maj", "7") and target == (chord.root + 5) % 12)
            or (chord.quality in ("dim", "dim7", "hdim7") and target == (chord.root + 1) % 12)):
        return "secondary dominant"
    family = {"maj": "maj", "7": "maj", "maj7": "maj", "maj6": "maj", "min": "min", "min6": "min",
              "min7": "min"}.get(chord.quality)
    if ((chord.root - key.tonic) % 12, family) in PARALLEL_COLOURS[key.mode]:
        return "borrowed"
    return "other"
