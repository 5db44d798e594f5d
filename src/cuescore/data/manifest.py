"""A dataset folder's manifest: which video became which id, with what outcome, in which split.

`cuescore dataset build` records every video in `manifest.json` (`cuescore.jobs.Manifest`, kind
"dataset"): its source, `ok` with the files written (bytes and SHA-256), the detected key and
length, or `failed` with the reason. The split files and `vevo_meta/sources.tsv` are made from it:

- splits: at the end of a run that left no video pending, the `ok` ids without a split are
  sorted, shuffled with the build's seed and cut by its fractions (`assign_splits`); the split is
  then kept in the manifest. An interrupted run assigns none, so a resumed build, a build on more
  workers and merged shards (`merge_datasets`, which drops the shards' own splits) all end with
  the same split files as one uninterrupted build. Ids in the split files that the manifest does
  not know (an older dataset built into the same folder) keep their place.
- `sources.tsv`: id, source file name, detected key, seconds.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from cuescore.data.muvisync import META_DIR, SPLITS, read_split, split_file
from cuescore.errors import InputError, OptionError
from cuescore.fileio import atomic_path, ensure_writable_dir
from cuescore.jobs import Manifest, file_record, folder_lock

KIND = "dataset"
SOURCES_FILE = "sources.tsv"
SHARED_FILES = ("vevo_meta/chord.json", "vevo_meta/chord_inv.json", "vevo_meta/chord_root.json",
                "vevo_meta/chord_attr.json")
"""Files every example shares (written once per folder); merges copy them too, with each `encoder.json`
and codec-pairs `spec.json`."""


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """How many of `n` videos go to train, val and test (largest remainder; fractions are normalised).

    A positive val fraction gets at least one video once there are two (training needs one)."""
    f = np.asarray(fractions, np.float64)
    if f.shape != (3,) or not np.all(np.isfinite(f)) or np.any(f < 0) or f.sum() <= 0:
        raise OptionError(f"split must be three non-negative fractions (train, val, test), got {fractions!r}")
    share = n * f / f.sum()
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if counts[1] == 0 and f[1] > 0 and counts.max() > 1:  # training needs a validation video
        counts[int(np.argmax(counts))] -= 1
        counts[1] = 1
    return int(counts[0]), int(counts[1]), int(counts[2])


def assign_splits(ids: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """id → split: `ids` shuffled by `seed`, then cut by `split_counts`. Same ids and seed, same answer."""
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    n_train, n_val, _ = split_counts(len(ids), fractions)
    return {vid: ("train" if k < n_train else "val" if k < n_train + n_val else "test") for k, vid in enumerate(order)}


def _write_text(path: Path, text: str) -> None:
    ensure_writable_dir(path.parent)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _write_sources(manifest: Manifest) -> None:
    """Rewrite `vevo_meta/sources.tsv`: rows of ids the manifest does not know are kept."""
    path = manifest.root / META_DIR / SOURCES_FILE
    table: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip() and line.split("\t", 1)[0] not in manifest.items:
                table[line.split("\t", 1)[0]] = line
    for vid, e in manifest.items.items():
        if e.get("status") == "ok":
            table[vid] = f"{vid}\t{Path(e['source']).name}\t{e['key']}\t{e['seconds']}"
    _write_text(path, "id\tsource\tkey\tseconds\n" + "".join(f"{table[k]}\n" for k in sorted(table)))


def register_splits(manifest: Manifest, fractions: tuple[float, float, float], seed: int) -> dict[str, list[str]]:
    """Give the manifest's `ok` ids that have none a split, rewrite the split files and
    `sources.tsv` (see the module docstring); split → the manifest's ids in it."""
    root = manifest.root
    new = sorted(vid for vid, e in manifest.items.items() if e.get("status") == "ok" and "split" not in e)
    for vid, name in assign_splits(new, fractions, seed).items():
        manifest.record(vid, {**manifest.items[vid], "split": name})
    ours: dict[str, list[str]] = {name: [] for name in SPLITS}
    for vid, e in sorted(manifest.items.items()):
        if e.get("status") == "ok":
            ours[e["split"]].append(vid)
    for name in SPLITS:
        listed = read_split(root, name) if split_file(root, name).is_file() else []
        kept = [vid for vid in listed if vid not in manifest.items]
        _write_text(split_file(root, name), "".join(f"{vid}\n" for vid in kept + ours[name]))
    _write_sources(manifest)
    return ours


@dataclass
class MergeReport:
    """What `merge_datasets` did: ids taken from each shard (ok / failed) and the splits made."""

    root: Path
    taken: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{s} {len(ids)}" for s, ids in self.splits.items())
        lines = [f"{self.root}: {sum(len(v) for v in self.splits.values())} videos from {len(self.taken)} "
                 f"shard(s) (by split: {counts}), {len(self.failed)} failed"]
        lines += [f"  shard {shard}: {n} videos" for shard, n in self.taken.items()]
        lines += [f"  failed {source}: {reason}" for source, reason in self.failed]
        return "\n".join(lines)


def _copy_verified(src_root: Path, dst_root: Path, rel: str, rec: dict) -> None:
    src, dst = src_root / rel, dst_root / rel
    got = file_record(src_root, [src]) if src.is_file() else {}
    if got.get(rel) != rec:
        raise InputError(f"{src}: missing or changed since its shard recorded it; rebuild that shard")
    ensure_writable_dir(dst.parent)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _shared_files(root: Path) -> list[str]:
    found = [rel for rel in SHARED_FILES if (root / rel).is_file()]
    for pattern in ("vevo_semantic/all/2d/*/encoder.json", "codec_pairs/*/spec.json"):
        found += [p.relative_to(root).as_posix() for p in sorted(root.glob(pattern))]
    return found


def merge_datasets(shards: Sequence[str | os.PathLike], root: str | os.PathLike) -> MergeReport:
    """Join dataset folders built with `--shard K/N` (same inputs and settings) into `root` and make
    its splits as one build would. `InputError` for a folder without a manifest or a changed file;
    `OptionError` for shards made with other settings or giving one id two sources."""
    loaded = []
    for shard in shards:
        if not (Path(shard) / "manifest.json").is_file():
            raise InputError(f"{shard}: no manifest.json; give folders written by `cuescore dataset build`")
        loaded.append(Manifest.load(shard, KIND))
    settings = {k: v for k, v in loaded[0].settings.items() if k != "shard"}
    with folder_lock(root) as out:
        merged = Manifest.load(out, KIND)
        merged.use_settings(settings, fixed=("encoder", "density"))
        report = MergeReport(out)
        for shard in loaded:
            other = {k: v for k, v in shard.settings.items() if k != "shard"}
            if other != settings:
                raise OptionError(f"{shard.root} was built with other settings than {loaded[0].root}; "
                                  "merge only shards of one build")
            for rel in _shared_files(shard.root):
                if not (out / rel).is_file():
                    _copy_verified(shard.root, out, rel, file_record(shard.root, [shard.root / rel])[rel])
            report.taken[str(shard.root)] = _take(shard, merged, report)
        report.splits = register_splits(merged, tuple(settings["split"]), settings["seed"])
        merged.save()
    return report


def _take(shard: Manifest, merged: Manifest, report: MergeReport) -> int:
    """Copy the shard's videos into the merged folder; how many were `ok`."""
    n = 0
    for vid, entry in sorted(shard.items.items()):
        known = merged.items.get(vid)
        if known and known["source"] != entry["source"]:
            raise OptionError(f"id {vid} is {known['source']} in one shard and {entry['source']} in "
                              f"{shard.root}; merge only shards of one build")
        if entry["status"] != "ok":
            if not (known and known.get("status") == "ok"):
                merged.record(vid, entry)
                report.failed.append((entry["source"], entry.get("reason", "")))
            continue
        for rel, rec in entry["outputs"].items():
            _copy_verified(shard.root, merged.root, rel, rec)
        merged.record(vid, {k: v for k, v in entry.items() if k != "split"})
        n += 1
    return n


__all__ = ["KIND", "MergeReport", "assign_splits", "merge_datasets", "register_splits", "split_counts"]
