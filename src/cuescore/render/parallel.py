"""Render event streams in pieces at once, in forked worker processes.

A stretch [a, b) needs every note that can still sound in it: those starting before b whose
note-off plus release tail (read from the SoundFont's headers, `render.soundfont`) reaches past a.
Its worker plays just those notes (and every program and controller change) from the first one's
start, with the same rendering-call boundaries as a whole render (`synth.BLOCK`), so each voice is
computed exactly as in the serial render; only the order in which voices are summed differs.
A job of FORK_MIN_SECONDS or more is cut into pieces of about PIECE_SECONDS on a grid fixed by its
length alone (`pieces_of`), and every render, serial or forked, renders those same pieces, so the
output does not depend on the number of workers, bit for bit. Pieces go to the processes longest
first by estimated work (voices × seconds). Workers write into anonymous shared memory maps; a
worker that fails or hangs has its pieces rendered in-process, and so has everything when the host
ignores SIGCHLD (its children cannot be waited for).
Used on Linux only (fork is unsafe with some macOS system libraries; Windows has none).
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
import time
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cuescore.render.midi import NOTE_OFF, NOTE_ON, PROGRAM, ChannelEvent
from cuescore.render.soundfont import channel_regions

MIN_STRETCH_SECONDS = 8.0
"""No stretch shorter than this: below it the fork and the pre-roll of ringing notes cost more than they save."""
PIECE_SECONDS = 15.0
"""Jobs of FORK_MIN_SECONDS or more render in pieces of about this long, on a grid fixed by their length."""
FORK_MIN_SECONDS = 60.0
"""Less audio than this renders whole and in-process: forking barely pays below it."""
COST_TAIL_SECONDS = 2.0
"""Release tails count at most this long in the work estimate (most samples end before)."""


def idle_workers(n_samples: int, sample_rate: int) -> int:
    """Workers worth running over `n_samples` of audio: the idle cores (counting this process's
    own), at most one per MIN_STRETCH_SECONDS. Idle = cores minus the 1-minute load average: on a
    busy machine another worker only competes for the same cores, and what it costs to start
    (pre-roll, forking) makes the whole slower than one worker."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        idle = cores - os.getloadavg()[0] + 1.0  # this process is part of the load
    except OSError:
        idle = cores
    return max(1, min(cores, int(idle + 0.25), int(n_samples / sample_rate // MIN_STRETCH_SECONDS)))


def default_workers(n_samples: int, sample_rate: int) -> int:
    """Worker processes for rendering: `idle_workers`, or 1 where fork is not used."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return 1
    return idle_workers(n_samples, sample_rate)


def _notes(events: list[ChannelEvent], sample_rate: int, soundfont: Path):
    """(note-on event indices, their note-off's index or -1, release tail in samples: the longest
    release of the regions the note plays, voices: how many regions it plays). Note-offs match
    note-ons first-in first-out per channel and pitch, as the synthesizers match them."""
    program: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    held: dict[tuple[int, int], deque] = defaultdict(deque)
    regions_of: dict[tuple[int, int], tuple] = {}
    ons, offs, tails, voices = [], [], [], []
    for i, e in enumerate(events):
        if e.kind == PROGRAM:
            program[e.channel] = (e.a, e.b)
        elif e.kind == NOTE_ON:
            prog = program[e.channel]
            if prog not in regions_of:
                regions_of[prog] = channel_regions(soundfont, prog[0], bool(prog[1]))
            playing = [r.release for r in regions_of[prog] if r.plays(e.a, e.b)]
            held[(e.channel, e.a)].append(len(ons))
            ons.append(i)
            offs.append(-1)
            tails.append(int(np.ceil(max(playing, default=0.0) * sample_rate)) + 1)
            voices.append(len(playing))
        elif e.kind == NOTE_OFF and held[(e.channel, e.a)]:
            offs[held[(e.channel, e.a)].popleft()] = i
    return np.array(ons, np.int64), np.array(offs, np.int64), np.array(tails, np.int64), np.array(voices, np.float64)


@dataclass
class Job:
    """One render: `backend.render` of samples [0, n) of `events` at `sample_rate`."""

    backend: object
    events: list[ChannelEvent]
    n: int
    sample_rate: int
    soundfont: Path

    def __post_init__(self) -> None:
        self._notes = None

    def notes(self):
        """(event samples, note-on indices, note-off indices, on samples, off samples, tails, voices)."""
        if self._notes is None:
            ons, offs, tails, voices = _notes(self.events, self.sample_rate, self.soundfont)
            samples = np.array([e.sample for e in self.events], np.int64)
            on_at = samples[ons] if len(ons) else np.zeros(0, np.int64)
            off_at = np.where(offs >= 0, samples[np.maximum(offs, 0)], self.n) if len(ons) else np.zeros(0, np.int64)
            self._notes = samples, ons, offs, on_at, off_at, tails, voices
        return self._notes

    def work(self) -> tuple[np.ndarray, int]:
        """(cumulative work at the end of each bin, bin length in samples): voices sounding over
        each note's length plus (part of) its tail, in voice-seconds at 44.1 kHz."""
        _, _, _, on_at, off_at, tails, voices = self.notes()
        bin_len = max(1, self.sample_rate // 10)
        rate = np.zeros(self.n // bin_len + 2)
        ends = np.minimum(off_at + np.minimum(tails, int(COST_TAIL_SECONDS * self.sample_rate)), self.n)
        np.add.at(rate, on_at // bin_len, voices)
        np.add.at(rate, ends // bin_len, -voices)
        return np.cumsum(np.cumsum(rate)) * (bin_len / 44100.0), bin_len

    def stretch(self, a: int, b: int) -> tuple[int, int, int, np.ndarray]:
        """(a, b, start, wanted): samples [a, b) rendered from `start` playing the events `wanted`."""
        samples, ons, offs, on_at, off_at, tails, _ = self.notes()
        kinds = np.array([e.kind for e in self.events], np.int64)
        wanted = (kinds != NOTE_ON) & (kinds != NOTE_OFF) & (samples < b)
        sounding = (on_at < b) & (off_at + tails > a)
        wanted[ons[sounding]] = True
        wanted[offs[sounding & (offs >= 0)]] = True
        start = int(min(a, on_at[sounding].min())) if sounding.any() else a
        return a, b, start, wanted


def pieces_of(job: Job) -> list[tuple[int, int]]:
    """The stretches [a, b) `job` is rendered in: whole below FORK_MIN_SECONDS, else a fixed grid of
    about PIECE_SECONDS each. They depend on the job's length only, never on the workers, so the
    output is the same (bit for bit) however many processes render it, in-process included."""
    seconds = job.n / job.sample_rate
    if seconds < FORK_MIN_SECONDS:
        return [(0, job.n)] if job.n > 0 else []
    cuts = np.linspace(0, job.n, max(1, int(round(seconds / PIECE_SECONDS))) + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]


def plan(jobs: list[Job], workers: int) -> list[list[tuple[int, int, int]]]:
    """Per process, the pieces (job index, a, b) it renders: the fixed pieces of `pieces_of`,
    assigned longest first by estimated work to the least loaded process. The workers only
    change who renders a piece, never where pieces start."""
    curves = [job.work() for job in jobs]

    def done(j: int, sample: int) -> float:  # work before `sample`, to the bin
        cum, bin_len = curves[j]
        k = sample // bin_len - 1
        return float(cum[min(len(cum) - 1, k)]) if k >= 0 else 0.0

    def cost(j: int, a: int, b: int) -> float:
        return done(j, b) - done(j, a) + 1e-3

    loads, groups = [0.0] * max(1, workers), [[] for _ in range(max(1, workers))]
    pieces = [(j, a, b) for j, job in enumerate(jobs) for a, b in pieces_of(job)]
    for piece in sorted(pieces, key=lambda p: -cost(*p)):
        k = loads.index(min(loads))
        loads[k] += cost(*piece)
        groups[k].append(piece)
    return [g for g in groups if g]


def _can_fork() -> bool:
    """fork is used on Linux only, and not while SIGCHLD is ignored (children are then reaped by
    the kernel and cannot be waited for)."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    try:
        return signal.getsignal(signal.SIGCHLD) != signal.SIG_IGN
    except (ValueError, AttributeError):
        return False


def _render_piece(job: Job, a: int, b: int) -> np.ndarray:
    """`job`'s samples [a, b) as float32 [2, b - a] (a whole job renders without pre-roll)."""
    if (a, b) == (0, job.n):
        return job.backend.render(job.events, 0, job.n, job.sample_rate, job.soundfont)
    _, _, start, wanted = job.stretch(a, b)
    return job.backend.render(job.events, start, b, job.sample_rate, job.soundfont, wanted)[:, a - start:]


def _render_in_process(jobs: list[Job]) -> list[np.ndarray]:
    """Each job's pieces in turn, in this process."""
    outputs = []
    for job in jobs:
        out = np.zeros((2, job.n), np.float32)
        try:
            for a, b in pieces_of(job):
                out[:, a:b] = _render_piece(job, a, b)
        except ValueError:  # unreadable headers: let the backend report the SoundFont
            out = np.ascontiguousarray(job.backend.render(job.events, 0, job.n, job.sample_rate, job.soundfont))
        outputs.append(out)
    return outputs


def render_jobs(jobs: list[Job], workers: int | None = None) -> list[np.ndarray]:
    """Each job's float32 [2, n], rendered in the fixed pieces of `pieces_of` by up to `workers`
    processes (default: `default_workers`, the idle cores by the load average, at most one per
    MIN_STRETCH_SECONDS). Forked only for FORK_MIN_SECONDS of audio or more, on Linux, and while
    SIGCHLD is not ignored; otherwise in-process. The result is the same in every case."""
    total_seconds = sum(job.n / job.sample_rate for job in jobs)
    if workers is None:
        workers = default_workers(int(total_seconds * 44100), 44100)
    groups = []
    if workers > 1 and total_seconds >= FORK_MIN_SECONDS and _can_fork():
        try:
            groups = plan(jobs, workers)
        except ValueError:  # unreadable headers: let the backend report the SoundFont
            groups = []
    if len(groups) <= 1:
        return _render_in_process(jobs)
    try:
        return _fork_render(jobs, groups)
    except ChildProcessError:  # the host reaps children itself (SIGCHLD ignored meanwhile)
        return _render_in_process(jobs)


def render_parallel(backend, events: list[ChannelEvent], n: int, sample_rate: int, soundfont: Path,
                    workers: int | None = None) -> np.ndarray:
    """`backend.render` of samples [0, n) as float32 [2, n], by up to `workers` processes."""
    return render_jobs([Job(backend, events, n, sample_rate, soundfont)], workers)[0]


def _fork_render(jobs: list[Job], groups: list[list[tuple[int, int, int]]]) -> list[np.ndarray]:
    outputs = [np.frombuffer(mmap.mmap(-1, max(8, 8 * job.n)), dtype=np.float32, count=2 * job.n).reshape(2, job.n)
               for job in jobs]  # (each array keeps its anonymous shared map alive)

    def render(group) -> None:
        for j, a, b in group:
            job = jobs[j]
            outputs[j][:, a:b] = _render_piece(job, a, b)

    children: list[tuple[int, list]] = []
    pending = []  # groups left to render in-process
    try:
        for group in groups[1:]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # (3.12+: fork with threads)
                    pid = os.fork()
            except OSError:
                pending.append(group)
                continue
            if pid == 0:  # the child: render, and leave without running anything of the parent's
                code = 1
                try:
                    render(group)
                    code = 0
                finally:
                    os._exit(code)
            children.append((pid, group))
        t0 = time.monotonic()
        render(groups[0])
        deadline = time.monotonic() + max(60.0, 20.0 * (time.monotonic() - t0))
        while children:
            pid, group = children[-1]
            ok = _wait(pid, deadline)
            children.pop()  # only once waited for: an interrupt leaves it to the cleanup below
            if not ok:
                pending.append(group)
        for group in pending:
            render(group)
        return outputs
    finally:
        for pid, _ in children:  # still running after an error in the parent
            _kill(pid)


def _wait(pid: int, deadline: float) -> bool:
    """True when child `pid` exits with status 0 by `deadline`; otherwise it is killed, and False."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status) == 0
        if time.monotonic() > deadline:
            _kill(pid)
            return False
        time.sleep(0.001)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
