"""What a SoundFont 2 file's presets play, read from its headers (no samples): per preset, the
regions a note can sound (key and velocity ranges), how long each rings after its note-off, and
the highest frequency it can hold at a given key (its sample's Nyquist frequency times the
playback ratio).

Rendering uses this to know, for a stretch of the score, which earlier notes may still be sounding
in it (their release tails) and how much work each note is (one voice per matching region), and
which parts carry nothing above a quarter of the output rate and can be rendered at half of it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

_KEY_RANGE, _VEL_RANGE, _RELEASE, _INSTRUMENT, _SAMPLE = 43, 44, 38, 41, 53
_COARSE_TUNE, _FINE_TUNE, _SCALE_TUNING, _ROOT_KEY = 51, 52, 56, 58
_DEFAULT_RELEASE_TC = -12000
_SHDR = np.dtype([("name", "S20"), ("start", "<u4"), ("end", "<u4"), ("loop_start", "<u4"), ("loop_end", "<u4"),
                  ("rate", "<u4"), ("pitch", "u1"), ("correction", "i1"), ("link", "<u2"), ("type", "<u2")])


@dataclass(frozen=True)
class Region:
    """One voice a note may start: keys lo_key..hi_key, velocities lo_vel..hi_vel; the longest it
    rings after the note-off, in seconds; its sample's rate, and the key (fractional, tuning
    included) and key-tracking (1 = a semitone per key) at which it plays at that rate."""

    lo_key: int
    hi_key: int
    lo_vel: int
    hi_vel: int
    release: float
    sample_rate: int = 44100
    centre: float = 60.0
    keytrack: float = 1.0

    def plays(self, key: int, velocity: int) -> bool:
        return self.lo_key <= key <= self.hi_key and self.lo_vel <= velocity <= self.hi_vel

    def bandwidth(self, key: int) -> float:
        """Highest frequency (Hz) this region can sound at `key`: its sample's Nyquist frequency
        shifted by the playback ratio (synthesizers ignore what the output rate cannot hold)."""
        return self.sample_rate / 2.0 * 2.0 ** ((key - self.centre) * self.keytrack / 12.0)


def _chunks(data: bytes, start: int, stop: int):
    while start + 8 <= stop:
        cid, size = data[start:start + 4], struct.unpack_from("<I", data, start + 4)[0]
        yield cid, start + 8, size
        start += 8 + size + (size & 1)


def _records(raw: bytes, size: int) -> np.ndarray:
    """Records of `size` bytes whose first two fields are little-endian uint16s (bags, generators,
    instrument headers after their 20-byte name): [n, 2] int64."""
    n = len(raw) // size
    words = np.frombuffer(raw[: n * size], dtype="<u2").reshape(n, size // 2)
    return words[:, :2].astype(np.int64) if size == 4 else words[:, 10:11].astype(np.int64)


def _zones(bags: np.ndarray, gens: np.ndarray, first: int, stop: int, terminal: int) -> tuple[dict, list[dict]]:
    """(global zone's generators, [generators of each other zone]) for bags first..stop-1; a
    global zone is a first zone without the terminal generator (instrument / sample id)."""
    zones = [dict(gens[bags[b][0]:bags[b + 1][0]].tolist()) for b in range(first, stop) if b + 1 < len(bags)]
    if zones and terminal not in zones[0]:
        return zones[0], zones[1:]
    return {}, zones


def _range(z: dict, g: dict, gen: int) -> tuple[int, int]:
    amount = z.get(gen, g.get(gen, 127 << 8))
    return amount & 0xFF, amount >> 8


def _signed(amount: int) -> int:
    return amount - 0x10000 if amount >= 0x8000 else amount


@dataclass(frozen=True, eq=False)
class _Font:
    phdr: list  # (program, bank, first bag) per preset header
    pbag: np.ndarray
    pgen: np.ndarray
    inst: np.ndarray  # first bag per instrument
    ibag: np.ndarray
    igen: np.ndarray
    shdr: np.ndarray
    index: dict  # (bank, program) → preset header number


@lru_cache(maxsize=4)
def _font(path: str, mtime: float) -> _Font:
    data = Path(path).read_bytes()
    pdta = {}
    for cid, off, size in _chunks(data, 12, len(data)):
        if cid == b"LIST" and data[off:off + 4] == b"pdta":
            pdta = {c.decode("latin-1"): data[o:o + s] for c, o, s in _chunks(data, off + 4, off + size)}
    raw = pdta["phdr"]
    phdr = [struct.unpack_from("<20sHHH", raw, i)[1:] for i in range(0, len(raw) - 37, 38)]  # program, bank, bag
    index = {(bank, program): i for i, (program, bank, _) in enumerate(phdr[:-1])}
    shdr = np.frombuffer(pdta["shdr"][: len(pdta["shdr"]) // _SHDR.itemsize * _SHDR.itemsize], dtype=_SHDR)
    return _Font(phdr, _records(pdta["pbag"], 4), _records(pdta["pgen"], 4), _records(pdta["inst"], 22)[:, 0],
                 _records(pdta["ibag"], 4), _records(pdta["igen"], 4), shdr, index)


@lru_cache(maxsize=512)
def _regions(font: _Font, p: int) -> tuple[Region, ...]:
    pglobal, pzones = _zones(font.pbag, font.pgen, font.phdr[p][2], font.phdr[p + 1][2], _INSTRUMENT)
    regions = []
    for pz in pzones:
        i = pz.get(_INSTRUMENT)
        if i is None or i + 1 >= len(font.inst):
            continue
        pk, pv = _range(pz, pglobal, _KEY_RANGE), _range(pz, pglobal, _VEL_RANGE)
        offset = _signed(pz.get(_RELEASE, pglobal.get(_RELEASE, 0)))
        iglobal, izones = _zones(font.ibag, font.igen, int(font.inst[i]), int(font.inst[i + 1]), _SAMPLE)
        for iz in izones:
            if _SAMPLE not in iz:
                continue
            ik, iv = _range(iz, iglobal, _KEY_RANGE), _range(iz, iglobal, _VEL_RANGE)
            lo_k, hi_k, lo_v, hi_v = max(pk[0], ik[0]), min(pk[1], ik[1]), max(pv[0], iv[0]), min(pv[1], iv[1])
            if lo_k > hi_k or lo_v > hi_v:
                continue
            tc = _signed(iz.get(_RELEASE, iglobal.get(_RELEASE, _DEFAULT_RELEASE_TC & 0xFFFF))) + offset
            regions.append(Region(lo_k, hi_k, lo_v, hi_v, 2.0 ** (max(tc, -12000) / 1200.0),
                                  *_pitch(font, iz, iglobal, pz, pglobal)))
    return tuple(regions)


def _pitch(font: _Font, iz: dict, iglobal: dict, pz: dict, pglobal: dict) -> tuple[int, float, float]:
    """(sample rate, centre key, key-tracking) of an instrument zone under a preset zone: the key
    is played at the sample's own rate when key + coarse + fine tune = root key (as synthesizers
    compute it: shift = (key + tune - root) * scale tuning / 100 semitones)."""

    def gen(g: int, default: int) -> int:  # instrument value (or its global zone's) + preset offset
        return _signed(iz.get(g, iglobal.get(g, default))) + _signed(pz.get(g, pglobal.get(g, 0)))

    index = iz[_SAMPLE]
    sample = font.shdr[index] if index < len(font.shdr) else None
    rate = int(sample["rate"]) if sample is not None and sample["rate"] > 0 else 96000  # unknown: assume wide
    root = _signed(iz.get(_ROOT_KEY, iglobal.get(_ROOT_KEY, 0xFFFF)))
    if not 0 <= root <= 127:
        root = int(sample["pitch"]) if sample is not None and sample["pitch"] <= 127 else 60
    cents = gen(_FINE_TUNE, 0) + (int(sample["correction"]) if sample is not None else 0)
    return rate, root - gen(_COARSE_TUNE, 0) - cents / 100.0, gen(_SCALE_TUNING, 100) / 100.0


def preset_regions(soundfont: str | os.PathLike, bank: int, program: int) -> tuple[Region, ...] | None:
    """The regions of preset (bank, program), None when the file has no such preset. `ValueError`
    when the file's headers cannot be read as SoundFont 2."""
    path = Path(soundfont)
    try:
        font = _font(str(path.resolve()), path.stat().st_mtime)
        p = font.index.get((bank, program))
        return None if p is None else _regions(font, p)
    except (KeyError, IndexError, struct.error) as exc:
        raise ValueError(f"{path}: unreadable SoundFont headers ({type(exc).__name__})") from None


def channel_regions(soundfont: str | os.PathLike, program: int, drums: bool) -> tuple[Region, ...]:
    """The regions of the preset a synthesizer picks for `program` (a drum kit when `drums`): the
    exact preset when the file has it, else every fall-back synthesizers take (bank 128 or 0,
    program 0), an upper bound on what the channel's notes can play."""
    exact = preset_regions(soundfont, 128 if drums else 0, program)
    if exact is not None:
        return exact
    keys = [(128, 0), (0, program), (0, 0)] if drums else [(0, 0)]
    return tuple(r for bank, p in keys for r in preset_regions(soundfont, bank, p) or ())
