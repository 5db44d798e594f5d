"""Render event streams in pieces at once, in forked worker processes.

A stretch [a, b) needs every note that can still sound in it: those starting before b whose
note-off plus release tail (read from the SoundFont's headers, `render.soundfont`) reaches past a.
Its worker plays just those notes (and every program and controller change) from the first one's
start, with the same rendering-call boundaries as a whole render (`synth.BLOCK`), so each voice is
computed exactly as in the serial render; only the order in which voices are summed differs.
A job of FORK_MIN_SECONDS or more is cut into pieces of about PIECE_SECONDS on a grid fixed by its
length alone (`pieces_of`), and every render, serial or forked, renders those same pieces, so the
output does not depend on the number of workers, bit for bit. Pieces are rendered in order, a
window of a few per process at a time, and appended to a `Spool` (a temporary file), so memory
holds a window, not the track; within a window they go to the processes longest first by
estimated work (voices × seconds). Workers write into anonymous shared memory maps; a
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

from cuescore.media.track import Spool
from cuescore.render.midi import NOTE_OFF, NOTE_ON, PROGRAM, ChannelEvent
from cuescore.render.soundfont import channel_regions

MIN_STRETCH_SECONDS = 8.0
"""No stretch shorter than this: below it the fork and the pre-roll of ringing notes cost more than they save."""
PIECE_SECONDS = 15.0
"""Jobs of FORK_MIN_SECONDS or more render in pieces of about this long, on a grid fixed by their length."""
FORK_MIN_SECONDS = 60.0
"""Less audio than this renders whole and in-process: forking barely pays below it."""
WINDOW_PER_WORKER = 3
"""Pieces rendered per process before the window is written out and the next one begins."""
COST_TAIL_SECONDS = 2.0
"""Release tails count at most this long in the work estimate (most samples end before)."""


def idle_workers(n_samples: int, sample_rate: int) -> int:
    """Workers worth running over `n_samples` of audio: the idle cores (counting this process's
    own), at most one per MIN_STRETCH_SECONDS. Idle = cores minus what other work keeps busy
    (`busy_cores`): on a busy machine another worker only competes for the same cores, and what it
    costs to start (pre-roll, forking) makes the whole slower than one worker."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    idle = cores - busy_cores()
    return max(1, min(cores, int(idle + 0.25), int(n_samples / sample_rate // MIN_STRETCH_SECONDS)))


LOADAVG = "/proc/loadavg"
"""Linux's load file: the averages, then "runnable/total" scheduling entities."""


def busy_cores() -> float:
    """Cores other work keeps busy: the lower of the 1-minute load average and the threads that
    can run right now (the fourth field of /proc/loadavg, where the system has it), less this
    process's own running thread. The average trails a minute behind (a job that just ended still
    counts in it, as does this process's own analysis), the snapshot flickers; the lower of the two
    is wrong only while a busy spell begins. 0 where neither can be read."""
    try:
        average = os.getloadavg()[0]
    except OSError:
        return 0.0
    try:
        with open(LOADAVG) as f:
            runnable = float(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        runnable = average
    return max(0.0, min(average, runnable) - 1.0)


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
    """One render: `backend.render` of samples [0, n) of `events` at `sample_rate`; `playing`
    [len(events)] bool, if given: only those events are played (the others still end the
    rendering calls, so a part rendered alone sounds exactly as it does within the whole)."""

    backend: object
    events: list[ChannelEvent]
    n: int
    sample_rate: int
    soundfont: Path
    playing: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._notes = None
        self._controls = None

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
        if self._controls is None:  # events other than notes: every stretch plays those before its end
            kinds = np.array([e.kind for e in self.events], np.int64)
            self._controls = (kinds != NOTE_ON) & (kinds != NOTE_OFF)
        wanted = self._controls & (samples < b)
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


def plan(jobs: list[Job], pieces: list[tuple[int, int, int]], workers: int) -> list[list[int]]:
    """Per process, the indices into `pieces` (job index, a, b) it renders, assigned longest first
    by estimated work to the least loaded process. The workers only change who renders a piece,
    never where pieces start."""
    curves = {j: jobs[j].work() for j in {p[0] for p in pieces}}

    def done(j: int, sample: int) -> float:  # work before `sample`, to the bin
        cum, bin_len = curves[j]
        k = sample // bin_len - 1
        return float(cum[min(len(cum) - 1, k)]) if k >= 0 else 0.0

    def cost(i: int) -> float:
        j, a, b = pieces[i]
        return done(j, b) - done(j, a) + 1e-3

    loads, groups = [0.0] * max(1, workers), [[] for _ in range(max(1, workers))]
    for i in sorted(range(len(pieces)), key=lambda i: -cost(i)):
        k = loads.index(min(loads))
        loads[k] += cost(i)
        groups[k].append(i)
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
        return job.backend.render(job.events, 0, job.n, job.sample_rate, job.soundfont, job.playing)
    _, _, start, wanted = job.stretch(a, b)
    if job.playing is not None:
        wanted &= job.playing
    return job.backend.render(job.events, start, b, job.sample_rate, job.soundfont, wanted)[:, a - start:]


def _pieces(jobs: list[Job]) -> list[tuple[int, int, int]]:
    """(job index, a, b) of every job's pieces, each job's in order; a job whose notes cannot be
    read from the SoundFont's headers renders whole (and its backend reports the SoundFont)."""
    pieces = []
    for j, job in enumerate(jobs):
        stretches = pieces_of(job)
        if len(stretches) > 1:
            try:
                job.notes()
            except ValueError:
                stretches = [(0, job.n)]
        pieces += [(j, a, b) for a, b in stretches]
    return pieces


def render_jobs(jobs: list[Job], workers: int | None = None) -> list[Spool]:
    """Each job's float32 [2, n] as a `Spool`, rendered in the fixed pieces of `pieces_of`, in
    order, a window of WINDOW_PER_WORKER pieces per process at a time (so memory holds a window,
    not the track), by up to `workers` processes (default: `default_workers`, the idle cores by
    the load average, at most one per MIN_STRETCH_SECONDS). Forked only for FORK_MIN_SECONDS of
    audio or more, on Linux, and while SIGCHLD is not ignored; otherwise in-process. The result is
    the same in every case."""
    total_seconds = sum(job.n / job.sample_rate for job in jobs)
    if workers is None:
        workers = default_workers(int(total_seconds * 44100), 44100)
    fork = workers > 1 and total_seconds >= FORK_MIN_SECONDS and _can_fork()
    pieces = _pieces(jobs)
    window = WINDOW_PER_WORKER * workers if fork else 1
    spools = [Spool(2, job.sample_rate) for job in jobs]
    for w in range(0, len(pieces), window):
        batch = pieces[w: w + window]
        groups = plan(jobs, batch, workers) if fork else []
        outputs = None
        if len(groups) > 1:
            try:
                outputs = _fork_render(jobs, batch, groups)
            except ChildProcessError:  # the host reaps children itself (SIGCHLD ignored meanwhile)
                fork = False
        for (j, a, b), out in zip(batch, outputs or (_render_piece(jobs[j], a, b) for j, a, b in batch)):
            spools[j].append(out)
    return spools


def render_parallel(backend, events: list[ChannelEvent], n: int, sample_rate: int, soundfont: Path,
                    workers: int | None = None) -> np.ndarray:
    """`backend.render` of samples [0, n) as float32 [2, n], by up to `workers` processes."""
    with render_jobs([Job(backend, events, n, sample_rate, soundfont)], workers)[0] as spool:
        return spool.read(0, n)


def _fork_render(jobs: list[Job], pieces: list[tuple[int, int, int]], groups: list[list[int]]) -> list[np.ndarray]:
    """Each of `pieces` rendered into shared memory, `groups[0]` here and the others in forked
    children; a child's group that fails or hangs is rendered here."""
    outputs = [np.frombuffer(mmap.mmap(-1, max(8, 8 * (b - a))), dtype=np.float32, count=2 * (b - a)).reshape(2, b - a)
               for _, a, b in pieces]  # (each array keeps its anonymous shared map alive)

    def render(group) -> None:
        for i in group:
            j, a, b = pieces[i]
            outputs[i][:, :] = _render_piece(jobs[j], a, b)

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
