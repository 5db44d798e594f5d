"""Harmony for the rule-based engines: key and mode, harmonic rhythm, functional progressions.

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

import numpy as np

from cuescore.analysis.features import EMOTIONS, VideoFeatures
from cuescore.controls import Controls
from cuescore.engines.chromatic import Step, mixture_mood, ornament
from cuescore.music.chords import EMOTION_QUALITIES, INTERVALS, Chord
from cuescore.music.plan import ChordSpan, Key

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}
"""Pitch classes above the tonic counted as in the key; minor includes the raised 7th."""

DEGREES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "major": (("I", 0, "maj"), ("ii", 2, "min"), ("iii", 4, "min"), ("IV", 5, "maj"), ("V", 7, "maj"),
              ("vi", 9, "min"), ("vii°", 11, "dim")),
    "minor": (("i", 0, "min"), ("ii°", 2, "dim"), ("III", 3, "maj"), ("iv", 5, "min"), ("v", 7, "min"),
              ("V", 7, "maj"), ("VI", 8, "maj"), ("VII", 10, "maj")),
}
"""Roman numeral, semitones above the tonic, triad quality."""

_TRANSITIONS: dict[str, dict[str, dict[str, float]]] = {
    "major": {
        "I": {"ii": .15, "iii": .05, "IV": .30, "V": .25, "vi": .22, "vii°": .03},
        "ii": {"I": .05, "iii": .03, "IV": .10, "V": .60, "vi": .07, "vii°": .15},
        "iii": {"I": .05, "ii": .10, "IV": .35, "V": .10, "vi": .40},
        "IV": {"I": .25, "ii": .10, "iii": .05, "V": .40, "vi": .15, "vii°": .05},
        "V": {"I": .60, "ii": .02, "iii": .05, "IV": .13, "vi": .20},
        "vi": {"I": .08, "ii": .25, "iii": .07, "IV": .35, "V": .25},
        "vii°": {"I": .75, "iii": .10, "vi": .15},
    },
    "minor": {
        "i": {"ii°": .08, "III": .12, "iv": .22, "v": .05, "V": .15, "VI": .23, "VII": .15},
        "ii°": {"i": .05, "III": .05, "iv": .05, "V": .65, "VII": .20},
        "III": {"i": .10, "ii°": .05, "iv": .25, "VI": .35, "VII": .25},
        "iv": {"i": .20, "ii°": .05, "III": .05, "v": .05, "V": .30, "VI": .10, "VII": .25},
        "v": {"i": .35, "III": .10, "iv": .20, "VI": .35},
        "V": {"i": .65, "iv": .05, "VI": .25, "III": .05},
        "VI": {"i": .10, "ii°": .10, "III": .15, "iv": .25, "V": .15, "VII": .25},
        "VII": {"i": .30, "III": .40, "iv": .05, "VI": .20, "V": .05},
    },
}
"""From-degree → to-degree → weight (no degree follows itself: every slot is a chord change)."""

_CADENCES = (("authentic", 0.45), ("half", 0.35), ("deceptive", 0.20))
"""Section-end cadences and how often each closes an inner section; the last one is authentic."""
_MODAL_SAD = 0.8
"""An authentic cadence gives way to a modal one, without the leading tone, with probability
_MODAL_SAD × weight_emotion × P(sad) over its last two chords (at most 0.8): plagal (IV → I,
iv → i), or in minor as often the Aeolian VII → i. At weight_emotion 0 every closing cadence
is authentic."""
_TO_TONIC = {"major": ("V", "vii°"), "minor": ("V",)}
"""Degrees that may lead into the tonic of an authentic cadence: the dominant or vii° in major,
the harmonic-minor V (major triad or dominant seventh) in minor."""

_SCRIABIN_HUES = {0: 0.0, 7: 30.0, 2: 60.0, 9: 120.0, 4: 190.0, 11: 220.0, 6: 245.0, 1: 270.0, 8: 290.0,
                  3: 310.0, 10: 330.0, 5: 350.0}
"""Tonic → hue in degrees after Scriabin's colour keys (C red, G orange, D yellow, A green, E sky
blue, B blue, F# bright blue, Db violet, Ab purple, Eb steel, Bb rose, F deep red): walking the
hue wheel walks the circle of fifths."""

_COMMON_TONICS = {"major": (0, 2, 3, 5, 7, 9, 10), "minor": (9, 2, 4, 0, 7, 11, 5)}
_QUALITY_BASE = {"triad": 1.0, "seventh": 0.6, "sixth": 0.35, "sus": 0.35, "other": 0.1}
_EMOTION_GAIN = 1.5        # quality score per unit of emotion probability × weight_emotion
_DEGREE_TILT = 1.5         # log-weight of a degree whose colours suit the emotion
_CHORD_SECONDS = ((0.0, 5.0), (0.3, 2.2), (1.0, 1.5))
"""(pace, ideal chord length in seconds): geometric in between, so calm footage keeps long chords
and from about a third of the pace up the harmony moves every bar or faster."""
_MIN_CHORD = 1.2           # seconds: half-bar chords only when half a bar lasts this long


def scale(key: Key) -> frozenset[int]:
    """Pitch classes (0-11) in `key`."""
    return frozenset((key.tonic + i) % 12 for i in SCALES[key.mode])


def is_diatonic(chord: Chord, key: Key) -> bool:
    """True when every note of `chord` is in `key` (N counts as not diatonic)."""
    return not chord.is_none and set(chord.pitch_classes) <= scale(key)


_FAMILY = {"maj": "maj", "7": "maj", "maj7": "maj", "maj6": "maj", "aug": "maj", "min": "min", "min7": "min",
           "min6": "min", "dim": "dim", "dim7": "dim", "hdim7": "dim", "sus2": "sus", "sus4": "sus"}
"""Quality → the triad it colours; a colour keeps its degree's third and fifth (or drops the third: sus)."""


def _quality_class(quality: str, triad: str) -> str:
    if quality == triad:
        return "triad"
    if quality in ("maj7", "min7", "7", "hdim7", "dim7"):
        return "seventh"
    if quality in ("maj6", "min6"):
        return "sixth"
    return "sus" if quality in ("sus2", "sus4") else "other"


def _affinity(emotion: np.ndarray) -> dict[str, float]:
    """Quality → summed probability of the emotions it suits."""
    out: dict[str, float] = {}
    for p, name in zip(emotion, EMOTIONS):
        for q in EMOTION_QUALITIES[name]:
            out[q] = out.get(q, 0.0) + float(p)
    return out


def quality_scores(root: int, triad: str, key: Key, emotion: np.ndarray, weight: float,
                   resolved: bool = False, allow_sus: bool = True) -> dict[str, float]:
    """Score of each in-key quality on `root` (plus the degree's own triad): a preference for
    plain triads, raised by `weight` × the probability of the emotions the quality suits.
    resolved: only qualities that can close a piece (no sus, dim or aug).
    allow_sus: False keeps the triad's third (a cadence's dominant, a chord that resolves one)."""
    aff = _affinity(np.asarray(emotion, float))
    pcs = scale(key)
    scores = {}
    for q, intervals in INTERVALS.items():
        in_key = {(root + i) % 12 for i in intervals} <= pcs
        if q != triad and (_FAMILY[q] not in (_FAMILY[triad], "sus") or not in_key):
            continue
        if resolved and q != triad and q in ("sus2", "sus4", "dim", "aug", "dim7", "hdim7"):
            continue
        if not allow_sus and q != triad and _FAMILY[q] == "sus":
            continue
        scores[q] = _QUALITY_BASE[_quality_class(q, triad)] + _EMOTION_GAIN * weight * aff.get(q, 0.0)
    return scores


def color_chord(root: int, triad: str, key: Key, emotion: np.ndarray, weight: float,
                rng: np.random.Generator | None = None, resolved: bool = False, allow_sus: bool = True) -> Chord:
    """The chord on `root`: the best-scoring in-key colour (ties broken by `rng` when given)."""
    return Chord(root % 12, _best(quality_scores(root, triad, key, emotion, weight, resolved, allow_sus), rng))


def chromatic_colour(root: int, colours: dict[str, float], emotion: np.ndarray, weight: float,
                     rng: np.random.Generator | None = None) -> Chord:
    """A chromatic chord on `root` (secondary dominant, borrowed chord, suspension): the best of
    `colours` (quality → base score), each raised by `weight` × the probability of the emotions
    it suits, as in `quality_scores`."""
    aff = _affinity(np.asarray(emotion, float))
    return Chord(root % 12, _best({q: b + _EMOTION_GAIN * weight * aff.get(q, 0.0) for q, b in colours.items()}, rng))


def _best(scores: dict[str, float], rng: np.random.Generator | None) -> str:
    jitter = rng.uniform(0.0, 0.05, len(scores)) if rng is not None else np.zeros(len(scores))
    return max(zip(scores, np.asarray(list(scores.values())) + jitter), key=lambda kv: kv[1])[0]


def choose_key(features: VideoFeatures, controls: Controls, rng: np.random.Generator) -> Key:
    """The key: fixed by the user, else fitted to the primer chords, else from the video.

    Mode: major when weight_emotion × mean valence + weight_colour × (mean brightness − 0.45)
    is ≥ 0 (unless the user fixed the mode). Tonic: the hue of saturated footage through
    Scriabin's colour keys when colour is strong enough (× weight_colour), else a common key
    drawn with the seed.
    """
    if controls.key_value is not None:
        return controls.key_value
    if controls.mode != "auto":
        mode = controls.mode
    else:
        score = (controls.weight_emotion * float(np.mean(features.valence))
                 + controls.weight_colour * (float(np.mean(features.brightness)) - 0.45))
        mode = "major" if score >= 0 else "minor"
    if controls.primer is not None:
        return _key_for_primer(controls.primer_chords, mode, fixed_mode=controls.mode != "auto")
    weights = np.asarray(features.saturation, float) * np.clip(np.asarray(features.colorfulness, float), 0.05, 1)
    angle = np.deg2rad(np.asarray(features.hue, float))
    vec = np.array([np.sum(weights * np.cos(angle)), np.sum(weights * np.sin(angle))]) / max(len(angle), 1)
    strength = float(np.hypot(*vec)) * controls.weight_colour
    if strength >= 0.15:
        hue = math.degrees(math.atan2(vec[1], vec[0])) % 360.0
        return Key(min(_SCRIABIN_HUES, key=lambda k: abs((_SCRIABIN_HUES[k] - hue + 180.0) % 360.0 - 180.0)), mode)
    return Key(int(rng.choice(_COMMON_TONICS[mode])), mode)


def _key_for_primer(chords: list[Chord], mode: str, fixed_mode: bool) -> Key:
    """The key in which most primer chords are diatonic; the first chord's root as tonic and
    the video's mode break ties."""
    best, best_score = Key(chords[0].root, mode), -1.0
    for tonic in range(12):
        for m in ((mode,) if fixed_mode else ("major", "minor")):
            key = Key(tonic, m)
            score = sum(is_diatonic(c, key) for c in chords)
            score += 0.6 * (tonic == chords[0].root) + 0.2 * (m == mode)
            if score > best_score:
                best, best_score = key, score
    return best


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


def mean_over(values: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mean of per-second rows (row t covers [t, t+1) s) over [start, end), weighted by overlap."""
    rows = np.asarray(values, float)
    lo, hi = int(math.floor(start)), int(math.ceil(end))
    idx = np.arange(max(lo, 0), min(max(hi, lo + 1), len(rows)))
    if idx.size == 0:
        return rows[-1] if len(rows) else rows
    w = np.clip(np.minimum(end, idx + 1) - np.maximum(start, idx), 0.0, None)
    w = w if w.sum() > 0 else np.ones_like(w)
    return np.tensordot(w / w.sum(), rows[idx], axes=1)


def _degree_of(chord: Chord, key: Key) -> int | None:
    """Index of the degree whose root (and, where two share a root, triad family) is the chord's."""
    family = _FAMILY[chord.quality]
    matches = [i for i, (_, offset, triad) in enumerate(DEGREES[key.mode]) if (key.tonic + offset) % 12 == chord.root]
    exact = [i for i in matches if DEGREES[key.mode][i][2] == family]
    return (exact or matches or [None])[0]


def progression(key: Key, slots: list[float], duration: float, section_starts: list[float],
                emotion: np.ndarray, controls: Controls, rng: np.random.Generator,
                ) -> tuple[list[ChordSpan], list[str]]:
    """Chords for the `slots` (start times, s): the primer first, then per section a chain
    sampled towards its cadence (authentic at the end of the piece, which closes on the
    tonic), then `chromatic.ornament` (secondary dominants, borrowed chords, suspensions),
    then the colours. Returns the chord spans (equal neighbours merged, the last ending at
    `duration`) and each span's roman numeral ("" for primer chords outside the key; "V/vi",
    "bVII", ... for chromatic chords)."""
    degrees = DEGREES[key.mode]
    tonic_state = 0
    ends = slots[1:] + [duration]
    emo = [mean_over(emotion, s, e) for s, e in zip(slots, ends)]
    w = controls.weight_emotion
    fit = np.array([[max((_affinity(e).get(q, 0.0) for q in quality_scores((key.tonic + off) % 12, triad, key, e, 0.0)),
                         default=0.0) for _, off, triad in degrees] for e in emo])
    base = _transition_matrix(key.mode)

    def into(t: int) -> np.ndarray:
        m = base * np.exp(_DEGREE_TILT * w * fit[t])[None, :]
        return m / m.sum(axis=1, keepdims=True)

    primer = controls.primer_chords[: len(slots)]
    chords: list[Chord] = list(primer)
    romans: list[str] = []
    for c in primer:
        d = _degree_of(c, key)
        romans.append(degrees[d][0] if d is not None and is_diatonic(c, key) else "")
    prev = _degree_of(primer[-1], key) if primer else None
    section_of = np.searchsorted(np.asarray(section_starts), np.asarray(slots) + 1e-6) - 1
    todo = list(range(len(primer), len(slots)))
    groups: list[list[int]] = []
    for s in sorted({int(section_of[i]) for i in todo}):
        group = [i for i in todo if section_of[i] == s]
        if groups and len(group) < 3:
            groups[-1].extend(group)  # too short for a cadence of its own: it closes the previous one's
        else:
            groups.append(group)
    steps: list[Step] = []
    for g, group in enumerate(groups):
        last = g == len(groups) - 1
        kind = "authentic" if last else _CADENCES[rng.choice(len(_CADENCES), p=[p for _, p in _CADENCES])][0]
        modal = min(0.8, _MODAL_SAD * w * float(np.mean([emo[i][EMOTIONS.index("sad")] for i in group[-2:]])))
        if kind == "authentic" and modal > 0 and rng.random() < modal:
            kind = "aeolian" if key.mode == "minor" and rng.random() < 0.5 else "plagal"
        if prev is not None:
            start = into(group[0])[prev]
        elif primer:
            start = np.array([0.0 if (key.tonic + off) % 12 == primer[-1].root else 1.0 for _, off, _ in degrees])
        else:
            start = np.eye(len(degrees))[tonic_state]
        trans = [into(t) for t in group[1:]]
        full = _cadence_masks(len(group), key.mode, kind) if len(group) >= 3 or last else None
        options = [full, [np.ones(len(degrees))] * (len(group) - 1) + [full[-1]] if full else None,
                   [np.ones(len(degrees))] * len(group)]
        states = next(s for s in (_sample_chain(start, trans, m, rng) for m in options if m is not None) if s)
        if last:
            states[-1] = tonic_state
        n = len(group)
        for k, (i, s) in enumerate(zip(group, states)):
            name, off, triad = degrees[s]
            cadence_dominant = kind == "authentic" and k == n - 2 and name in _TO_TONIC[key.mode]
            mood, against = mixture_mood(emo[i], w, key.mode)
            steps.append(Step(name, off, triad, resolve=cadence_dominant,
                              locked=k == 0 or k == n - 1 or (last and cadence_dominant),
                              near_cadence=k >= n - 3, mood=mood, against=against,
                              affinity={q: w * a for q, a in _affinity(emo[i]).items()}, fit=w * float(fit[i][s])))
        prev = states[-1]
    steps = ornament(steps, key.mode, rng)
    for i, step in zip(todo, steps):
        root = (key.tonic + step.offset) % 12
        if step.qualities is not None:
            chords.append(chromatic_colour(root, step.qualities, emo[i], w, rng))
        else:
            chords.append(color_chord(root, step.triad, key, emo[i], w, rng,
                                      resolved=i == len(slots) - 1, allow_sus=not step.resolve))
        romans.append(step.name)
    spans: list[ChordSpan] = []
    numerals: list[str] = []
    for start_t, end_t, chord, roman in zip(slots, ends, chords, romans):
        if spans and spans[-1].label == chord.label:
            spans[-1].end = end_t
            continue
        spans.append(ChordSpan(float(start_t), float(end_t), chord.label))
        numerals.append(roman)
    return spans, numerals
