"""Beat grids that land on the cuts: `fit_beat_grid`.

The video's hard cuts are anchors. A Viterbi search (beam-pruned) gives each anchored cut an
integer beat index so that every stretch between anchors holds a whole number of beats at a
tempo inside the allowed range, close to the target tempo, changing little from one stretch
to the next, with cuts preferably on downbeats (then on half bars). A cut may be skipped at
a cost; that is what happens to a cut closer than one beat (at the fastest tempo) to the
previous one, such as a flash frame: it cannot sit on its own beat, so it is left off the
grid (the engine marks it with an accent instead). The end of the video is a soft anchor too,
so the last bar ends with the picture. Between anchors the beat interval drifts smoothly
(linear ramp plus a correction that vanishes at both anchors) rather than jumping at the cut.
"""

from __future__ import annotations

import math
import heapq
from dataclasses import dataclass

import numpy as np

from cuescore.music.plan import TempoChange

BEAT_TOLERANCE = 0.05
"""Seconds: a cut this close to a beat counts as on the beat."""

_BEAM = 96
_TEMPO_COST = 8.0      # per (octave of tempo deviation)² per 4 s
_CHANGE_COST = 6.0     # per (octave of tempo change between stretches)²
_SKIP_COST = 3.0       # leaving a cut off the grid (× weight)
_END_SKIP_COST = 0.5   # not ending the last bar with the video (× weight)
_OFFBAR_COST = 0.6     # a cut on a beat that is neither a downbeat nor a half bar (× weight)
_HALFBAR_COST = 0.25   # a cut on the middle of the bar (× weight)
_PICKUP_COST = 0.1     # the music starts before the first downbeat (pickup beats)


_Path = tuple  # ((time, beat index), the path before it) or None: anchors shared between states


@dataclass
class _State:
    cost: float
    bpm: float | None
    path: _Path | None

    @property
    def anchors(self) -> list[tuple[float, int]]:
        """The (time, beat index) anchors, first to last."""
        out, node = [], self.path
        while node is not None:
            out.append(node[0])
            node = node[1]
        return out[::-1]


def constant_grid(duration: float, bpm: float, beats_per_bar: int = 4,
                  ) -> tuple[list[TempoChange], list[float], list[float]]:
    """A steady grid from 0 s at `bpm`: (tempo_map, beats, downbeats), beats < `duration`."""
    beats = list(np.arange(0.0, duration - 1e-9, 60.0 / bpm))
    return [TempoChange(0.0, float(bpm))], [float(b) for b in beats], [float(b) for b in beats[::beats_per_bar]]


def fit_beat_grid(
    duration: float,
    cut_times: list[float],
    target_bpm: float,
    bpm_range: tuple[float, float],
    beats_per_bar: int = 4,
    weight: float = 1.0,
) -> tuple[list[TempoChange], list[float], list[float]]:
    """Tempo map, beats and downbeats (seconds, all < `duration`) with the cuts on beats.

    target_bpm: the tempo the music wants (clamped into `bpm_range`, BPM).
    weight: how hard the grid chases the cuts (the weight_cuts control): scales the cost of
        skipping a cut or missing a downbeat; 0 ignores the cuts (a constant tempo), and so
        does a range of a single tempo (a locked tempo).
    """
    lo, hi = sorted(float(b) for b in bpm_range)
    target = min(max(float(target_bpm), lo), hi)
    cuts = sorted({round(float(t), 6) for t in cut_times if 0.0 < t < duration})
    if weight <= 0 or not cuts or hi - lo < 1e-6:
        return constant_grid(duration, target, beats_per_bar)
    best: tuple[float, int, _State] | None = None
    for phase in range(beats_per_bar):
        state = _search(duration, cuts, target, lo, hi, beats_per_bar, phase, weight)
        total = state.cost + (_PICKUP_COST if phase else 0.0)
        if best is None or total < best[0]:
            best = (total, phase, state)
    _, phase, state = best
    if len(state.anchors) < 2:  # no stretch between cuts holds a whole beat: nothing to chase
        return constant_grid(duration, target, beats_per_bar)
    grid = _beats_through(list(state.anchors), duration, lo, hi)
    beats = [b for b in grid if b < duration - 1e-9]
    return _tempo_map(grid), beats, beats[phase::beats_per_bar]


def _segment_cost(bpm: float, prev: float | None, target: float, seconds: float) -> float:
    cost = _TEMPO_COST * math.log2(bpm / target) ** 2 * seconds / 4.0
    if prev is not None:
        cost += _CHANGE_COST * math.log2(bpm / prev) ** 2
    return cost


def _meter_cost(beat: int, phase: int, beats_per_bar: int) -> float:
    pos = (beat - phase) % beats_per_bar
    if pos == 0:
        return 0.0
    return _HALFBAR_COST if 2 * pos == beats_per_bar else _OFFBAR_COST


def _search(duration: float, cuts: list[float], target: float, lo: float, hi: float,
            beats_per_bar: int, phase: int, weight: float) -> _State:
    """Beam Viterbi over (last anchor, its beat index); returns the cheapest final state.

    Linear in the number of cuts: each stop weighs at most `_BEAM` states, and a candidate extends
    its state's anchor path by one shared link instead of copying it.
    """
    states: dict[tuple[float, int], _State] = {(0.0, 0): _State(0.0, None, ((0.0, 0), None))}
    stops = [(t, _SKIP_COST, 1.0) for t in cuts] + [(duration, _END_SKIP_COST, 2.0)]
    meter = [_meter_cost(beat, phase, beats_per_bar) for beat in range(beats_per_bar)]
    for t, skip_cost, meter_scale in stops:
        nxt: dict[tuple[float, int], _State] = {}
        for (t0, n0), st in states.items():
            _offer(nxt, (t0, n0), st.cost + skip_cost * weight, st.bpm, st.path)
            span = t - t0
            for k in range(max(1, math.ceil(span * lo / 60.0 - 1e-9)), math.floor(span * hi / 60.0 + 1e-9) + 1):
                bpm = 60.0 * k / span
                cost = (st.cost + _segment_cost(bpm, st.bpm, target, span)
                        + weight * meter_scale * meter[(n0 + k) % beats_per_bar])
                _offer(nxt, (t, n0 + k), cost, bpm, ((t, n0 + k), st.path))
        states = dict(heapq.nsmallest(_BEAM, nxt.items(), key=lambda kv: kv[1].cost))
    # A grid whose last anchor is not the end keeps its last tempo to the end: charge for it.
    for (t0, _), st in states.items():
        if t0 < duration and st.bpm is not None:
            st.cost += _segment_cost(st.bpm, None, target, duration - t0)
    return min(states.values(), key=lambda s: s.cost)


def _offer(states: dict[tuple[float, int], _State], key: tuple[float, int], cost: float,
           bpm: float | None, path: _Path | None) -> None:
    """Keep the cheaper of `states[key]` and a candidate whose anchor `path` ends at `key` (first wins ties)."""
    old = states.get(key)
    if old is None or cost < old.cost:
        states[key] = _State(cost, bpm, path)


def _beats_through(anchors: list[tuple[float, int]], duration: float, lo: float, hi: float) -> list[float]:
    """Beat times passing through every (time, beat index) anchor, intervals drifting smoothly;
    the last one is the first beat at or after `duration`."""
    times = np.array([a[0] for a in anchors])
    counts = np.diff([a[1] for a in anchors])
    means = np.diff(times) / counts
    knots = np.concatenate([[means[0]], np.sqrt(means[:-1] * means[1:]), [means[-1]]])
    shortest, longest = 60.0 / hi - 1e-9, 60.0 / lo + 1e-9
    beats: list[float] = []
    for i, k in enumerate(counts):
        x = (np.arange(k) + 0.5) / k
        ramp = knots[i] + (knots[i + 1] - knots[i]) * x
        bump = 6.0 * x * (1.0 - x)
        bump *= k / bump.sum()
        steps = ramp + (times[i + 1] - times[i] - ramp.sum()) / k * bump
        if np.any(steps < shortest) or np.any(steps > longest):
            steps = np.full(k, means[i])
        beats.extend(times[i] + np.concatenate([[0.0], np.cumsum(steps)[:-1]]))
    t, step = times[-1], means[-1]
    beats.append(t)
    while t < duration - 1e-9:
        t += step
        beats.append(t)
    return [float(b) for b in beats]


def _tempo_map(grid: list[float]) -> list[TempoChange]:
    """One change at each beat whose interval to the next differs from the previous one."""
    changes: list[TempoChange] = []
    for start, end in zip(grid, grid[1:]):
        bpm = 60.0 / (end - start)
        if not changes or abs(bpm - changes[-1].bpm) > 1e-6:
            changes.append(TempoChange(float(start), float(bpm)))
    changes[0].time = 0.0
    return changes


def on_grid_share(events: list[float], grid: list[float], tolerance: float = BEAT_TOLERANCE) -> float | None:
    """Share of `events` within `tolerance` seconds of a time in `grid`; None without events."""
    if not events:
        return None
    g = np.asarray(sorted(grid))
    if g.size == 0:
        return 0.0
    e = np.asarray(events)
    idx = np.clip(np.searchsorted(g, e), 1, g.size - 1) if g.size > 1 else np.zeros(e.size, int)
    nearest = np.minimum(np.abs(g[idx] - e), np.abs(g[np.maximum(idx - 1, 0)] - e))
    return float(np.mean(nearest <= tolerance + 1e-9))


_MAX_STRETCH = 2.0
"""`pin_downbeats` drops a fixed anchor that would stretch or squeeze the beats between two anchors
by more than this factor."""


def pin_downbeats(beats: list[float], downbeats: list[float], hits: list[float], fixed: list[float],
                  duration: float, beats_per_bar: int = 4) -> tuple[list[TempoChange], list[float], list[float]]:
    """The grid (beats, downbeats: seconds) bent so that every hit (s, ≥ 1 bar apart) is exactly a
    downbeat: (tempo_map, beats, downbeats), beats in [0, `duration`), the first at 0 s.

    Each hit takes the nearest downbeat after the previous hit's. Beat times move piecewise
    linearly between anchors: the hits (old downbeat → hit), and as fixed points 0 s, `duration`
    and the `fixed` times (e.g. the cuts already on beats), each kept only when it does not lie
    between a hit and its old downbeat and does not squeeze or stretch its neighbours by more than
    `_MAX_STRETCH`; outside the first and last anchor the beats shift with it, and a grid that
    then starts after 0 s gets beats from 0 s (so a MIDI file's beats are the grid's; a hit
    under half a beat from the start gets a short pickup beat). Kept apart
    from `fit_beat_grid` so that any grid (fitted, constant or locked) can be pinned.
    """
    b = np.asarray(beats, float)
    step = b[-1] - b[-2] if b.size > 1 else 0.5
    b = np.concatenate([b, b[-1] + step * np.arange(1, 4 * beats_per_bar + 1)])  # room for a late hit
    first = int(np.argmin(np.abs(b - downbeats[0]))) if downbeats else 0
    is_down = (np.arange(b.size) >= first) & ((np.arange(b.size) - first) % beats_per_bar == 0)
    pins: list[tuple[float, float]] = []
    used = -1
    for h in sorted(hits):
        free = np.flatnonzero(is_down & (np.arange(b.size) > used))
        used = int(free[np.argmin(np.abs(b[free] - h))])
        pins.append((float(b[used]), float(h)))
    old, new = _warp_anchors(pins, [0.0, *fixed, float(duration)])
    warped = np.interp(b, old, new)
    warped = np.where(b < old[0], b + new[0] - old[0], np.where(b > old[-1], b + new[-1] - old[-1], warped))
    keep = warped >= -1e-9
    grid, down = warped[keep], is_down[keep]
    gap = grid[1] - grid[0]
    if 1e-6 < grid[0] < gap / 2 and not np.any(np.abs(np.asarray(hits) - grid[0]) < 1e-6):
        grid[0] = 0.0  # a sliver before the first beat: start that beat at 0 s
    elif grid[0] > 1e-6:  # a pickup of whole beats up to the first (a short one before an early hit)
        count = max(1, int(round(grid[0] / gap)))
        grid = np.concatenate([np.linspace(0.0, grid[0], count + 1)[:-1], grid])
        down = np.concatenate([np.zeros(count, bool), down])
    tempo_map = _tempo_map([float(t) for t in grid])
    inside = grid < duration - 1e-9
    return tempo_map, [float(t) for t in grid[inside]], [float(t) for t in grid[inside & down]]


def _warp_anchors(pins: list[tuple[float, float]], fixed: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(old times, new times) of the warp: the pins, plus each fixed time (mapped to itself) that
    lies on the same side of every pin's old and new time and stretches no stretch between
    anchors beyond `_MAX_STRETCH`."""
    anchors = list(pins)
    for a in fixed:
        if all((a < o - 1e-3 and a < n - 1e-3) or (a > o + 1e-3 and a > n + 1e-3) for o, n in pins):
            trial = sorted(anchors + [(a, a)])
            old, new = np.array(trial).T
            ratio = np.diff(new) / np.maximum(np.diff(old), 1e-9)
            if np.all((ratio <= _MAX_STRETCH) & (ratio >= 1.0 / _MAX_STRETCH)) or not pins:
                anchors = trial
    old, new = np.array(sorted(anchors)).T
    return old, new
