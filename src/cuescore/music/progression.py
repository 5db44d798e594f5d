"""Functional progressions and harmonic rhythm: which chords, and where they change.

Progressions come from a Markov chain over scale degrees whose transition weights follow
common-practice and pop harmony (tonic → predominant → dominant → tonic, V→vi deceptive,
IV→I plagal, I–V–vi–IV loops). Each section is sampled conditioned on its cadence (backward
messages through the chain, so the approach to the cadence is as likely as the chain allows;
in minor an authentic cadence always goes through the harmonic-minor V, and sadness × weight_emotion
turns some closing cadences modal: plagal, or Aeolian VII → i), the emotion of each chord's time
span tilts the chain towards degrees whose colours suit it, and the chord quality is then chosen
among the colours that stay inside the key (minor keys allow the raised leading tone of harmonic
minor), nudged by `EMOTION_QUALITIES`. Before colouring, `chromatic.ornament` turns a few chords
into secondary dominants that resolve to the next chord, chords borrowed from the parallel mode
(before cadences, and more often where the mood suits them) and sus4 → major suspensions of the
dominant, so that about 6 % of the chords leave the key, as in POP909 (see `chromatic`).

Harmonic rhythm (`harmonic_slots`): a chord every two bars, every bar, a bar then two half bars
(1.5 chords a bar, in pairs of bars), or every half bar, whichever averages closest to an ideal
length that shrinks with the pace; never a chord shorter than `_MIN_CHORD` unless a cut forces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cuescore.analysis.features import EMOTIONS, mean_over
from cuescore.controls import Controls
from cuescore.music.chords import Chord
from cuescore.music.chromatic import Step, mixture_mood, ornament
from cuescore.music.plan import ChordSpan, Key
from cuescore.music.theory import (
    DEGREES, chromatic_colour, color_chord, degree_of, is_diatonic, quality_affinity, quality_scores,
)

_TRANSITIONS: dict[str, dict[str, dict[str, float]]] = {
    "major": {
        "I": {"ii": .15, "iii": .07, "IV": .30, "V": .18, "vi": .27, "vii°": .03},
        "ii": {"I": .05, "iii": .05, "IV": .15, "V": .50, "vi": .10, "vii°": .15},
        "iii": {"I": .05, "ii": .10, "IV": .35, "V": .10, "vi": .40},
        "IV": {"I": .20, "ii": .12, "iii": .06, "V": .35, "vi": .22, "vii°": .05},
        "V": {"I": .45, "ii": .03, "iii": .07, "IV": .15, "vi": .30},
        "vi": {"I": .06, "ii": .25, "iii": .09, "IV": .40, "V": .20},
        "vii°": {"I": .65, "iii": .15, "vi": .20},
    },
    "minor": {
        "i": {"ii°": .08, "III": .12, "iv": .22, "v": .05, "V": .15, "VI": .23, "VII": .15},
        "ii°": {"i": .05, "III": .05, "iv": .05, "V": .65, "VII": .20},
        "III": {"i": .10, "ii°": .05, "iv": .25, "VI": .35, "VII": .25},
        "iv": {"i": .15, "ii°": .05, "III": .08, "v": .05, "V": .25, "VI": .12, "VII": .30},
        "v": {"i": .35, "III": .10, "iv": .20, "VI": .35},
        "V": {"i": .50, "iv": .10, "VI": .35, "III": .05},
        "VI": {"i": .10, "ii°": .10, "III": .15, "iv": .25, "V": .15, "VII": .25},
        "VII": {"i": .30, "III": .40, "iv": .05, "VI": .20, "V": .05},
    },
}
"""From-degree → to-degree → weight (no degree follows itself: every slot is a chord change). The
dominant leads to the tonic less often than in a chorale and to vi / VI more (the pop loops), so a
clip's chords are not mostly I and V: POP909's songs root 25-64 % of their chords on I or V."""

_CADENCES = (("authentic", 0.35), ("half", 0.25), ("deceptive", 0.25), ("plagal", 0.15))
"""Section-end cadences and how often each closes an inner section; the last one is authentic."""
_MODAL_SAD = 0.8
"""An authentic cadence gives way to a modal one, without the leading tone, with probability
_MODAL_SAD × weight_emotion × P(sad) over its last two chords (at most 0.8): plagal (IV → I,
iv → i), or in minor as often the Aeolian VII → i. At weight_emotion 0 every closing cadence
is authentic."""
_TO_TONIC = {"major": ("V", "vii°"), "minor": ("V",)}
"""Degrees that may lead into the tonic of an authentic cadence: the dominant or vii° in major,
the harmonic-minor V (major triad or dominant seventh) in minor."""
_DEGREE_TILT = 1.5         # log-weight of a degree whose colours suit the emotion
_CHORD_SECONDS = ((0.0, 5.0), (0.3, 2.2), (1.0, 1.5))
"""(pace, ideal chord length in seconds): geometric in between, so calm footage keeps long chords
and from about a third of the pace up the harmony moves every bar or faster."""
_PHRASE_CHORDS = 5          # fewest chords a section needs to close with a cadence of its own: with
                            # three, a multi-cut clip was mostly I and V (x-V-I, x-x-V per section)
_FRESH = 0.1
"""The chain's weight on the tonic and the dominant for a chord that starts a section or sits at a
cut (a new scene): a scene change brings a chord of another colour (ii, iii, IV, vi, ...), so a
multi-scene clip is not mostly I and V."""
_MIN_CHORD = 1.2           # seconds: half-bar chords only when half a bar lasts this long


def ideal_chord_seconds(pace: float) -> float:
    """The chord length the harmonic rhythm aims at for a bar of this `pace` (0-1), per `_CHORD_SECONDS`."""
    p = float(np.clip(pace, 0.0, 1.0))
    for (p0, s0), (p1, s1) in zip(_CHORD_SECONDS, _CHORD_SECONDS[1:]):
        if p <= p1:
            return s0 * (s1 / s0) ** ((p - p0) / (p1 - p0))
    return _CHORD_SECONDS[-1][1]


def rhythm_level(bar_seconds: float, ideal: float, beats_per_bar: int = 4) -> str:
    """"two bars", "bar", "bar and halves" (a bar, then a bar split in two: 1.5 chords a bar)
    or "half bar": the one whose mean chord length is closest to `ideal` (log scale). The two
    faster ones need an even metre and half a bar of at least `_MIN_CHORD` seconds."""
    levels = {"two bars": 2.0 * bar_seconds, "bar": bar_seconds}
    if beats_per_bar % 2 == 0 and bar_seconds / 2.0 >= _MIN_CHORD:
        levels.update({"bar and halves": bar_seconds * 2.0 / 3.0, "half bar": bar_seconds / 2.0})
    return min(levels, key=lambda name: abs(math.log(levels[name] / ideal)))


def harmonic_slots(beats: list[float], downbeats: list[float], forced: list[float], pace: list[float],
                   beats_per_bar: int = 4) -> list[float]:
    """Start times (seconds, on beats) of the chords, at the `rhythm_level` of each pair of bars
    (counted from the first downbeat; the pair's mean `pace`, one value per downbeat, sets the
    ideal length through `ideal_chord_seconds`): every two bars, every bar, a bar then two half
    bars, or every half bar. Always at the `forced` times (cuts and section starts, moved to the
    nearest beat), never one beat before a forced one.
    """
    b = np.asarray(beats)
    forced_idx = sorted({int(np.argmin(np.abs(b - t))) for t in forced} | {0})
    downbeat_idx = {int(np.argmin(np.abs(b - t))) for t in downbeats}
    first_down = min(downbeat_idx) if downbeat_idx else 0
    half = max(1, beats_per_bar // 2)
    steps = np.diff(b) if len(b) > 1 else np.array([1.0])
    starts: list[int] = []
    for j in range(len(b)):
        if j in forced_idx:
            starts.append(j)
            continue
        pos = (j - first_down) % beats_per_bar
        if pos != 0 and 2 * pos != beats_per_bar:
            continue
        bar = max(0, int(np.searchsorted(downbeats, b[j] + 1e-9)) - 1)
        pair = [k for k in (bar - bar % 2, bar - bar % 2 + 1) if k < len(pace)]
        level = float(np.mean([pace[k] for k in pair])) if pair else 0.5
        bar_seconds = float(steps[min(j, len(steps) - 1)]) * beats_per_bar
        kind = rhythm_level(bar_seconds, ideal_chord_seconds(level), beats_per_bar)
        since = j - starts[-1]
        if kind == "two bars":
            ok = pos == 0 and since >= 2 * beats_per_bar
        elif kind == "bar":
            ok = pos == 0 and since >= beats_per_bar
        elif kind == "bar and halves":
            ok = since >= half and (pos == 0 or bar % 2 == 1)
        else:
            ok = since >= half
        nxt = next((f for f in forced_idx if f > j), None)
        if ok and (nxt is None or nxt - j >= 2):
            starts.append(j)
    return [float(b[j]) for j in starts]


def _transition_matrix(mode: str) -> np.ndarray:
    names = [d[0] for d in DEGREES[mode]]
    m = np.zeros((len(names), len(names)))
    for a, row in _TRANSITIONS[mode].items():
        for c, w in row.items():
            m[names.index(a), names.index(c)] = w
    return m


def _sample_chain(start: np.ndarray, trans: list[np.ndarray], masks: list[np.ndarray],
                  rng: np.random.Generator) -> list[int] | None:
    """States drawn from the chain conditioned on each slot's allowed set (backward messages);
    None when the constraints cannot be met."""
    beta = [np.asarray(m, float) for m in masks]
    for t in range(len(masks) - 2, -1, -1):
        beta[t] = masks[t] * (trans[t] @ beta[t + 1])
        if beta[t].sum() > 0:
            beta[t] /= beta[t].sum()
    p = start * beta[0]
    if p.sum() <= 0:
        return None
    states = [int(rng.choice(len(p), p=p / p.sum()))]
    for t in range(len(masks) - 1):
        p = trans[t][states[-1]] * beta[t + 1]
        states.append(int(rng.choice(len(p), p=p / p.sum())))
    return states


def _cadence_masks(n: int, mode: str, kind: str) -> list[np.ndarray]:
    """Allowed degrees per slot for a section of `n` slots ending with cadence `kind`."""
    names = [d[0] for d in DEGREES[mode]]

    def allowed(*degrees: str) -> np.ndarray:
        return np.isin(names, degrees).astype(float)

    ends = {
        "authentic": (allowed(*_TO_TONIC[mode]), allowed(names[0])),
        "half": (None, allowed("V")),
        "deceptive": (allowed("V"), allowed("vi" if mode == "major" else "VI")),
        "plagal": (allowed("IV" if mode == "major" else "iv"), allowed(names[0])),
        "aeolian": (allowed("VII"), allowed(names[0])),
    }[kind]
    masks = [np.ones(len(names)) for _ in range(n)]
    for offset, mask in zip((2, 1), ends):
        if mask is not None and n >= offset:
            masks[n - offset] = mask
    return masks

@dataclass
class _Context:
    """What sampling a progression needs per slot: the key, each slot's mean emotion row [E], how
    well each degree's colours suit it ([slots, degrees], `quality_affinity`) and weight_emotion."""

    key: Key
    emo: list[np.ndarray]
    fit: np.ndarray
    weight: float
    base: np.ndarray
    fresh: set[int]
    """Slots that open a new section (a new scene), where `_FRESH` tilts away from I and V."""

    @classmethod
    def build(cls, key: Key, emo: list[np.ndarray], weight: float, fresh: set[int]) -> "_Context":
        fit = np.array([[max((quality_affinity(e).get(q, 0.0)
                              for q in quality_scores((key.tonic + off) % 12, triad, key, e, 0.0)), default=0.0)
                         for _, off, triad in DEGREES[key.mode]] for e in emo])
        return cls(key, emo, fit, weight, _transition_matrix(key.mode), fresh)

    @property
    def fresh_weights(self) -> np.ndarray:
        """Per degree: `_FRESH` for the tonic and the dominants, 1 for the others."""
        return np.array([_FRESH if name in ("I", "i", "V", "v") else 1.0 for name, _, _ in self.degrees])

    @property
    def degrees(self) -> tuple[tuple[str, int, str], ...]:
        return DEGREES[self.key.mode]

    def into(self, t: int) -> np.ndarray:
        """The chain's transitions into slot `t`, tilted towards degrees whose colours suit its emotion."""
        m = self.base * np.exp(_DEGREE_TILT * self.weight * self.fit[t])[None, :]
        if t in self.fresh:
            m = m * self.fresh_weights[None, :]
        return m / m.sum(axis=1, keepdims=True)


def progression(key: Key, slots: list[float], duration: float, section_starts: list[float],
                emotion: np.ndarray, controls: Controls, rng: np.random.Generator,
                scene_changes: Sequence[float] = ()) -> tuple[list[ChordSpan], list[str]]:
    """Chords for the `slots` (start times, s): the primer first, then per section a chain
    sampled towards its cadence (authentic at the end of the piece, which closes on the
    tonic), then `chromatic.ornament` (secondary dominants, borrowed chords, suspensions),
    then the colours. Returns the chord spans (equal neighbours merged, the last ending at
    `duration`) and each span's roman numeral ("" for primer chords outside the key; "V/vi",
    "bVII", ... for chromatic chords). The slots at section starts and at `scene_changes` (cut
    times, s) lean away from I and V (`_FRESH`)."""
    ends = slots[1:] + [duration]
    fresh = _fresh_slots(slots, section_starts, scene_changes)
    ctx = _Context.build(key, [mean_over(emotion, s, e) for s, e in zip(slots, ends)], controls.weight_emotion, fresh)
    primer = controls.primer_chords[: len(slots)]
    romans = [ctx.degrees[d][0] if (d := degree_of(c, key)) is not None and is_diatonic(c, key) else ""
              for c in primer]
    prev = degree_of(primer[-1], key) if primer else None
    todo = list(range(len(primer), len(slots)))
    groups = _section_groups(slots, section_starts, todo)
    steps: list[Step] = []
    for g, group in enumerate(groups):
        start = _start_weights(ctx, group[0], prev, primer)
        section, prev = _section_steps(ctx, group, start, g == len(groups) - 1, rng)
        steps.extend(section)
    steps = ornament(steps, key.mode, rng)
    chords = list(primer) + [_colour(ctx, i, step, i == len(slots) - 1, rng) for i, step in zip(todo, steps)]
    return _merged_spans(slots, ends, chords, romans + [step.name for step in steps])


def _fresh_slots(slots: list[float], section_starts: list[float], scene_changes: Sequence[float]) -> set[int]:
    """Indices of the slots (after the first) that open a section or sit within 0.1 s of a scene change."""
    section_of = np.searchsorted(np.asarray(section_starts), np.asarray(slots) + 1e-6)
    fresh = {i for i in range(1, len(slots)) if section_of[i] != section_of[i - 1]}
    times = np.asarray(slots, float)
    for t in scene_changes if times.size else ():
        i = int(np.argmin(np.abs(times - t)))
        if i > 0 and abs(times[i] - t) <= 0.1:
            fresh.add(i)
    return fresh


def _section_groups(slots: list[float], section_starts: list[float], todo: list[int]) -> list[list[int]]:
    """The slot indices `todo` grouped by section; a section of fewer than `_PHRASE_CHORDS` slots,
    too short for a cadence of its own, joins the previous group."""
    section_of = np.searchsorted(np.asarray(section_starts), np.asarray(slots) + 1e-6) - 1
    groups: list[list[int]] = []
    for s in sorted({int(section_of[i]) for i in todo}):
        group = [i for i in todo if section_of[i] == s]
        if groups and len(group) < _PHRASE_CHORDS:
            groups[-1].extend(group)
        else:
            groups.append(group)
    return groups


def _start_weights(ctx: _Context, first: int, prev: int | None, primer: list[Chord]) -> np.ndarray:
    """Weights of the degrees a section may open on: the chain from the previous section's last
    degree, else any degree but the last primer chord's root (tilted by `_FRESH` at a new scene), else
    the tonic."""
    if prev is not None:
        return ctx.into(first)[prev]
    if primer:
        weights = np.array([0.0 if (ctx.key.tonic + off) % 12 == primer[-1].root else 1.0 for _, off, _ in ctx.degrees])
        return weights * (ctx.fresh_weights if first in ctx.fresh else 1.0)
    return np.eye(len(ctx.degrees))[0]


def _cadence_kind(ctx: _Context, group: list[int], last: bool, rng: np.random.Generator) -> str:
    """The cadence closing `group`: authentic at the end of the piece, else drawn from `_CADENCES`;
    an authentic one turns modal with probability `_MODAL_SAD` × weight × P(sad)."""
    kind = "authentic" if last else _CADENCES[rng.choice(len(_CADENCES), p=[p for _, p in _CADENCES])][0]
    sad = float(np.mean([ctx.emo[i][EMOTIONS.index("sad")] for i in group[-2:]]))
    modal = min(0.8, _MODAL_SAD * ctx.weight * sad)
    if kind == "authentic" and modal > 0 and rng.random() < modal:
        kind = "aeolian" if ctx.key.mode == "minor" and rng.random() < 0.5 else "plagal"
    return kind


def _section_steps(ctx: _Context, group: list[int], start: np.ndarray, last: bool,
                   rng: np.random.Generator) -> tuple[list[Step], int]:
    """The degrees of one section's slots sampled towards its cadence (relaxing the cadence when
    the chain cannot meet it), as `Step`s for `ornament`; and the last degree's index."""
    kind = _cadence_kind(ctx, group, last, rng)
    n, width = len(group), len(ctx.degrees)
    trans = [ctx.into(t) for t in group[1:]]
    full = _cadence_masks(n, ctx.key.mode, kind) if n >= 3 or last else None
    options = [full, [np.ones(width)] * (n - 1) + [full[-1]] if full else None, [np.ones(width)] * n]
    states = next(s for s in (_sample_chain(start, trans, m, rng) for m in options if m is not None) if s)
    if last:
        states[-1] = 0
    steps = []
    for k, (i, s) in enumerate(zip(group, states)):
        name, off, triad = ctx.degrees[s]
        cadence_dominant = kind == "authentic" and k == n - 2 and name in _TO_TONIC[ctx.key.mode]
        mood, against = mixture_mood(ctx.emo[i], ctx.weight, ctx.key.mode)
        steps.append(Step(name, off, triad, resolve=cadence_dominant,
                          locked=k == 0 or k == n - 1 or (last and cadence_dominant),
                          near_cadence=k >= n - 3, mood=mood, against=against,
                          affinity={q: ctx.weight * a for q, a in quality_affinity(ctx.emo[i]).items()},
                          fit=ctx.weight * float(ctx.fit[i][s])))
    return steps, states[-1]


def _colour(ctx: _Context, i: int, step: Step, final: bool, rng: np.random.Generator) -> Chord:
    """The chord of slot `i`: a chromatic step's best colour, else the degree's best in-key colour
    (the final chord one that can close the piece)."""
    root = (ctx.key.tonic + step.offset) % 12
    if step.qualities is not None:
        return chromatic_colour(root, step.qualities, ctx.emo[i], ctx.weight, rng)
    return color_chord(root, step.triad, ctx.key, ctx.emo[i], ctx.weight, rng, resolved=final,
                       allow_sus=not step.resolve)


def _merged_spans(starts: list[float], ends: list[float], chords: list[Chord], romans: list[str],
                  ) -> tuple[list[ChordSpan], list[str]]:
    """Chord spans with equal neighbours merged, and the roman numeral of each span."""
    spans: list[ChordSpan] = []
    numerals: list[str] = []
    for start_t, end_t, chord, roman in zip(starts, ends, chords, romans):
        if spans and spans[-1].label == chord.label:
            spans[-1].end = end_t
            continue
        spans.append(ChordSpan(float(start_t), float(end_t), chord.label))
        numerals.append(roman)
    return spans, numerals
