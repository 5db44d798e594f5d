"""MuVi-Sync on disk: the folder layout of Video2Music's dataset, read and written.

Layout under a root folder (one `<id>` per video; `<second>` counts whole seconds from 0):

    vevo_chord/lab_v2_norm/all/<id>.lab      `key <tonic> <major|minor>`, then `<second> <chord label>`
    vevo_emotion/<variant>/all/<id>.lab      header `time exciting_prob ...`, then `<second> p1 .. p6`
                                             (`6c_l14p`; the `5c_*` variants drop `neutral`)
    vevo_motion/all/<id>.lab                 `<second> <mean absolute RGB frame difference, 0-255>`
    vevo_scene_offset/all/<id>.lab           `<second> <whole seconds since the shot began>`
    vevo_loudness/all/<id>.lab               `<second> <RMS amplitude of the music, 0-1>`
    vevo_note_density/all/<id>.lab           `<second> <notes sounding in that second>`
    vevo_semantic/all/2d/<encoder>/<id>.npy  float [T, D]; `clip_l14p` is CLIP ViT-L/14@336 (D = 768)
    vevo_meta/split/<version>/{train,val,test}.txt   one id per line
    vevo_meta/chord.json                     label -> token; must equal `cuescore.music.chords.vocabulary()`

The readers return whole sequences (numpy, one row per second; seconds without a line hold the
pad value); `cuescore.data.dataset` pads and cuts them for training. The writer turns cuescore's
own analysis (`VideoFeatures`) into the same layout, so analysed videos can join the dataset.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cuescore.analysis.features import EMOTIONS, VideoFeatures
from cuescore.errors import InputError, OptionError
from cuescore.fileio import atomic_path, ensure_writable_dir
from cuescore.music.chords import PAD, QUALITIES, ROOTS, Chord, chord_from_token, parse_chord, vocabulary
from cuescore.music.plan import Key

CHORD_DIR = "vevo_chord/lab_v2_norm/all"
MOTION_DIR = "vevo_motion/all"
SCENE_OFFSET_DIR = "vevo_scene_offset/all"
LOUDNESS_DIR = "vevo_loudness/all"
NOTE_DENSITY_DIR = "vevo_note_density/all"
META_DIR = "vevo_meta"
DEFAULT_SEMANTIC = "clip_l14p"
DEFAULT_EMOTION = "6c_l14p"
SPLITS = ("train", "val", "test")
CLIP_L14P_ID = "clip:openai/clip-vit-large-patch14-336"
ENCODER_FILE = "encoder.json"
"""Written beside the `.npy` files: the `VideoFeatures.encoder` record of the encoder that made them."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VOCAB = vocabulary()


def emotion_dir(variant: str = DEFAULT_EMOTION) -> str:
    return f"vevo_emotion/{variant}/all"


def semantic_dir(folder: str = DEFAULT_SEMANTIC) -> str:
    return f"vevo_semantic/all/2d/{folder}"


def emotion_names(variant: str = DEFAULT_EMOTION) -> tuple[str, ...]:
    """The emotion columns of a variant: `5c_*` has the first five of `EMOTIONS`, others all six."""
    return EMOTIONS[:5] if variant.startswith("5c") else EMOTIONS


def split_file(root: str | os.PathLike, split: str, version: str = "v1") -> Path:
    return Path(root) / META_DIR / "split" / version / f"{split}.txt"


def semantic_folder_for(encoder: dict) -> str:
    """Folder name under `vevo_semantic/all/2d/` for features from `encoder` (a `VideoFeatures.encoder`)."""
    enc_id = str(encoder.get("id") or encoder.get("name") or "")
    if enc_id == CLIP_L14P_ID:
        return DEFAULT_SEMANTIC
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", enc_id).strip("._-")
    if not name:
        raise OptionError("the features name no semantic encoder; cannot choose a vevo_semantic folder")
    return name


def present_variants(root: str | os.PathLike) -> dict[str, list[str]]:
    """The feature variants a dataset holds: {"semantic": folders under `vevo_semantic/all/2d/` with
    at least one `.npy`, "emotion": variants under `vevo_emotion/` with an `all/` folder}, each sorted."""
    base = Path(root)
    sem = base / "vevo_semantic/all/2d"
    semantic = sorted(d.name for d in sem.iterdir() if d.is_dir() and any(d.glob("*.npy"))) if sem.is_dir() else []
    emo = base / "vevo_emotion"
    emotion = sorted(d.name for d in emo.iterdir() if (d / "all").is_dir()) if emo.is_dir() else []
    return {"semantic": semantic, "emotion": emotion}


def resolve_variants(root: str | os.PathLike, semantic: str | None, emotion: str | None) -> tuple[str, str]:
    """The (semantic folder, emotion variant) to read: the given ones, or the only one present.

    `OptionError` when several are present and none was chosen (listing them), `InputError` when the
    dataset holds none (or not the one asked for)."""
    found = present_variants(root)
    chosen = []
    for kind, want, flag in (("semantic", semantic, "--semantic"), ("emotion", emotion, "--emotion")):
        have = found[kind]
        where = f"{Path(root)}/{'vevo_semantic/all/2d' if kind == 'semantic' else 'vevo_emotion'}"
        if want is not None:
            if want not in have:
                listed = ", ".join(have) or "none"
                raise InputError(f"{where}/{want}: folder missing (present: {listed}); pick one of those with {flag}")
            chosen.append(want)
        elif len(have) == 1:
            chosen.append(have[0])
        elif not have:
            raise InputError(f"{where}: no {kind} features found; {Path(root)} is not a MuVi-Sync dataset "
                             "(build one with `cuescore dataset build`)")
        else:
            raise OptionError(f"{Path(root)} holds several {kind} variants ({', '.join(have)}); "
                              f"choose one with {flag}")
    return chosen[0], chosen[1]


def describe_semantic_folder(root: str | os.PathLike, folder: str, dim: int | None) -> dict:
    """The encoder record for a semantic folder: its `encoder.json`, else what the name implies."""
    path = Path(root) / semantic_dir(folder) / ENCODER_FILE
    if path.is_file():
        try:
            return dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: not a JSON object ({exc})") from None
    if folder == DEFAULT_SEMANTIC:
        return {"name": "clip", "id": CLIP_L14P_ID, "dim": 768}
    return {"name": folder, "id": folder, "dim": dim}


# ---------------------------------------------------------------- reading


@dataclass
class ChordLab:
    """A chord file: the key line (None when absent) and one token per second ([n] int64, PAD in gaps)."""

    key: Key | None
    tokens: np.ndarray


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-split fields) for each non-blank line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _second(path: Path, lineno: int, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 0 and value == int(value)):
        raise InputError(f"{path}:{lineno}: '{text}' is not a whole second")
    return int(value)


def _float(path: Path, lineno: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}:{lineno}: '{text}' is not a number") from None
    if not np.isfinite(value):
        raise InputError(f"{path}:{lineno}: '{text}' is not a finite number")
    return value


def _to_array(rows: dict[int, object], pad: float, dtype, width: int | None = None) -> np.ndarray:
    n = max(rows) + 1 if rows else 0
    shape = (n,) if width is None else (n, width)
    out = np.full(shape, pad, dtype=dtype)
    for t, v in rows.items():
        out[t] = v
    return out


def read_chord_lab(path: str | os.PathLike) -> ChordLab:
    """Read a `vevo_chord` file. Labels are MuVi-Sync's (`C`, `A:min`, `N`); other spellings that
    `parse_chord` knows are accepted too. `InputError` names the file and line of anything else."""
    p = Path(path)
    key: Key | None = None
    rows: dict[int, int] = {}
    for lineno, fields in _lines(p):
        if fields[0] == "key":
            if len(fields) != 3 or fields[2] not in ("major", "minor"):
                raise InputError(f"{p}:{lineno}: expected 'key <tonic> <major|minor>', got {' '.join(fields)!r}")
            try:
                key = Key(parse_chord(fields[1]).root, fields[2])
            except (ValueError, TypeError):
                raise InputError(f"{p}:{lineno}: '{fields[1]}' is not a key tonic") from None
            continue
        if len(fields) != 2:
            raise InputError(f"{p}:{lineno}: expected '<second> <chord label>', got {' '.join(fields)!r}")
        second = _second(p, lineno, fields[0])
        token = _VOCAB.get(fields[1])
        if token is None:
            try:
                token = parse_chord(fields[1]).token
            except ValueError as exc:
                raise InputError(f"{p}:{lineno}: {exc}") from None
        rows[second] = token
    return ChordLab(key, _to_array(rows, PAD, np.int64))


def read_value_lab(path: str | os.PathLike) -> np.ndarray:
    """Read a `<second> <value>` file (motion, scene offset, loudness, note density): float32 [n]."""
    p = Path(path)
    rows: dict[int, float] = {}
    for lineno, fields in _lines(p):
        if len(fields) != 2:
            raise InputError(f"{p}:{lineno}: expected '<second> <value>', got {' '.join(fields)!r}")
        rows[_second(p, lineno, fields[0])] = _float(p, lineno, fields[1])
    return _to_array(rows, 0.0, np.float32)


def read_emotion_lab(path: str | os.PathLike, width: int = 6) -> np.ndarray:
    """Read a `vevo_emotion` file: float32 [n, width] probabilities; the `time ...` header is skipped."""
    p = Path(path)
    rows: dict[int, list[float]] = {}
    for lineno, fields in _lines(p):
        if fields[0] == "time":
            continue
        if len(fields) != width + 1:
            raise InputError(
                f"{p}:{lineno}: expected '<second>' and {width} emotion probabilities, got {len(fields) - 1} values"
            )
        rows[_second(p, lineno, fields[0])] = [_float(p, lineno, f) for f in fields[1:]]
    return _to_array(rows, 0.0, np.float32, width)


def read_semantic(path: str | os.PathLike, dim: int | None = None) -> np.ndarray:
    """Read a `vevo_semantic` `.npy` (memory-mapped): float [T, D]; `InputError` if not 2-D or D != dim."""
    p = Path(path)
    try:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: not a readable .npy array ({exc})") from None
    if arr.ndim != 2:
        raise InputError(f"{p}: expected a [seconds, dim] array, got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise InputError(f"{p}: feature width is {arr.shape[1]}, expected {dim} like the other files of this folder")
    return arr


def read_split(root: str | os.PathLike, split: str, version: str = "v1") -> list[str]:
    """Ids listed in `vevo_meta/split/<version>/<split>.txt`, in order, without duplicates."""
    p = split_file(root, split, version)
    if not p.is_file():
        raise InputError(f"{p}: split file missing; expected one video id per line")
    ids: list[str] = []
    for lineno, fields in _lines(p):
        if len(fields) != 1:
            raise InputError(f"{p}:{lineno}: expected one video id, got {' '.join(fields)!r}")
        if fields[0] not in ids:
            ids.append(fields[0])
    return ids


def check_vocabulary(root: str | os.PathLike) -> None:
    """If `vevo_meta/chord.json` exists, check it equals cuescore's vocabulary; `InputError` if not."""
    p = Path(root) / META_DIR / "chord.json"
    if not p.is_file():
        return
    try:
        theirs = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    if theirs == _VOCAB:
        return
    if not isinstance(theirs, dict):
        raise InputError(f"{p}: expected a JSON object of chord label -> token")
    diff = sorted(set(theirs.items()) ^ set(_VOCAB.items()), key=str)[0]
    label = diff[0]
    raise InputError(
        f"{p}: chord vocabulary differs from cuescore's (label {label!r}: {theirs.get(label)!r} there, "
        f"{_VOCAB.get(label)!r} here); cuescore reads only the MuVi-Sync vocabulary"
    )


# ---------------------------------------------------------------- writing


def _write_text(path: Path, text: str) -> Path:
    ensure_writable_dir(path.parent)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _chord_label(chord: str | int | Chord) -> str:
    if isinstance(chord, Chord):
        return chord.label
    if isinstance(chord, (int, np.integer)):
        return chord_from_token(int(chord)).label
    return parse_chord(str(chord)).label


def write_vocabulary(root: str | os.PathLike) -> None:
    """Write `vevo_meta/chord.json` and its companions (`chord_inv`, `chord_root`, `chord_attr`) as
    Video2Music's code reads them, unless `chord.json` is already there."""
    meta = Path(root) / META_DIR
    if (meta / "chord.json").is_file():
        return
    inv = {str(token): label for label, token in _VOCAB.items()}
    roots = {"N": 0, **{name: i + 1 for i, name in enumerate(ROOTS)}}
    attrs = {"N": 0, **{q: i + 1 for i, q in enumerate(QUALITIES)}}
    for name, table in (("chord_inv", inv), ("chord_root", roots), ("chord_attr", attrs), ("chord", _VOCAB)):
        _write_text(meta / f"{name}.json", json.dumps(table))


def add_to_split(root: str | os.PathLike, video_id: str, split: str, version: str = "v1") -> Path:
    """Append `video_id` to a split list unless it is listed already."""
    if split not in SPLITS:
        raise OptionError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    p = split_file(root, split, version)
    ids = read_split(root, split, version) if p.is_file() else []
    if video_id not in ids:
        _write_text(p, "".join(f"{i}\n" for i in [*ids, video_id]))
    return p


def write_muvisync_example(
    root: str | os.PathLike,
    video_id: str,
    features: VideoFeatures,
    chords_per_second: Sequence[str | int | Chord] | None = None,
    key: Key | str | None = None,
    loudness: Sequence[float] | np.ndarray | None = None,
    note_density: Sequence[float] | np.ndarray | None = None,
    split: str | None = None,
    *,
    semantic_folder: str | None = None,
    emotion_variant: str = DEFAULT_EMOTION,
    split_version: str = "v1",
) -> dict[str, Path]:
    """Write one video in the MuVi-Sync layout; returns the written files by kind.

    From `features`: motion (`.4f`), scene offset (whole seconds), emotion (header + `.4f`, 6 columns
    or 5 for a `5c_*` variant) and semantic (`.npy` float32 [T, D], in a folder named from the
    encoder: `clip_l14p` for CLIP ViT-L/14@336, else the sanitized encoder id; `encoder.json` beside
    it records the encoder). Optional music targets, one per second: chord labels / tokens / `Chord`s
    (with `key`, default C major: MuVi-Sync's chords are normalized to C major / A minor), loudness
    (0-1, `.4f`) and note density (notes per second). `split` adds the id to that split list.
    """
    if not _ID.match(video_id):
        raise OptionError(f"video id {video_id!r} must be letters, digits, '.', '_' or '-'")
    features.validate()
    base = Path(root)
    written: dict[str, Path] = {}
    T = features.T
    seconds = range(T)
    motion = np.asarray(features.motion, np.float64)
    written["motion"] = _write_text(
        base / MOTION_DIR / f"{video_id}.lab", "".join(f"{t} {motion[t]:.4f}\n" for t in seconds)
    )
    offset = np.rint(np.asarray(features.scene_offset, np.float64)).astype(int)
    written["scene_offset"] = _write_text(
        base / SCENE_OFFSET_DIR / f"{video_id}.lab", "".join(f"{t} {offset[t]}\n" for t in seconds)
    )
    names = emotion_names(emotion_variant)
    emo = np.asarray(features.emotion, np.float64)[:, : len(names)]
    header = "time " + " ".join(f"{n}_prob" for n in names) + "\n"
    body = "".join(f"{t} " + " ".join(f"{p:.4f}" for p in emo[t]) + "\n" for t in seconds)
    written["emotion"] = _write_text(base / emotion_dir(emotion_variant) / f"{video_id}.lab", header + body)

    folder = semantic_folder or semantic_folder_for(features.encoder)
    sem_dir = base / semantic_dir(folder)
    ensure_writable_dir(sem_dir)
    with atomic_path(sem_dir / f"{video_id}.npy") as tmp:
        np.save(tmp, np.asarray(features.semantic, np.float32), allow_pickle=False)
    written["semantic"] = sem_dir / f"{video_id}.npy"
    encoder = {**features.encoder, "dim": int(features.semantic.shape[1])}
    if features.encoder and not (sem_dir / ENCODER_FILE).is_file():
        _write_text(sem_dir / ENCODER_FILE, json.dumps(encoder, indent=2))

    if chords_per_second is not None:
        k = Key.parse(key) if isinstance(key, str) else (key or Key(0, "major"))
        labels = [_chord_label(c) for c in chords_per_second]
        text = f"key {ROOTS[k.tonic]} {k.mode}\n" + "".join(f"{t} {label}\n" for t, label in enumerate(labels))
        written["chord"] = _write_text(base / CHORD_DIR / f"{video_id}.lab", text)
        write_vocabulary(base)
    if loudness is not None:
        values = np.asarray(loudness, np.float64)
        written["loudness"] = _write_text(
            base / LOUDNESS_DIR / f"{video_id}.lab", "".join(f"{t} {v:.4f}\n" for t, v in enumerate(values))
        )
    if note_density is not None:
        values = np.asarray(note_density, np.float64)
        written["note_density"] = _write_text(
            base / NOTE_DENSITY_DIR / f"{video_id}.lab",
            "".join(f"{t} {float(round(v, 4))}\n" for t, v in enumerate(values)),
        )
    if split is not None:
        written["split"] = add_to_split(base, video_id, split, split_version)
    return written


__all__ = [
    "CHORD_DIR", "DEFAULT_EMOTION", "DEFAULT_SEMANTIC", "ChordLab", "add_to_split", "check_vocabulary",
    "describe_semantic_folder", "emotion_dir", "emotion_names", "present_variants", "read_chord_lab", "read_emotion_lab",
    "read_semantic", "read_split", "read_value_lab", "resolve_variants", "semantic_dir", "semantic_folder_for", "split_file",
    "write_muvisync_example", "write_vocabulary",
]
