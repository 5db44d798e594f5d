"""The `amt` engine: Video2Music's Affective Multimodal Transformer writes the chords.

The checkpoint (option `checkpoint`: a folder written by `cuescore train amt`, a hub id, or
`debug`) samples one chord per second from the video rows of our analysis (semantic, scene
offset, motion, emotion), conditioned on the key's mode, with Video2Music's rules: no `N`
(unless `allow_n`) and no chord more than `max_repeat` (2) seconds in a row. MuVi-Sync's chords are
normalised to C major / A minor, so the primer is transposed into that key and the sampled
chords back into the plan's key. The key is the user's, else `engines.key.choose_key` (mode from
valence and brightness, tonic from hue, or the key the primer fits); its mode is the model's
major/minor condition. Videos longer than the model's `max_len` are decoded in overlapping
windows, so there is no length limit.

Regressor: a bi-GRU checkpoint in the `regression/` subfolder of the checkpoint folder (train
it with `cuescore train regression -o CKPT_DIR/regression`) predicts note density and loudness
per second: density levels 0-4 per bar follow Video2Music's steps (≤ 6, 12, 18, 24 notes/s),
energy follows its loudness → velocity curve ((loudness / 0.5) ** 0.3). Without one, density
and energy come from the video features exactly as in the affective engine.

Everything else is `VideoPlanner`'s, shared with the affective engine: tempo fitted to the cuts (`fit_beat_grid`), sections,
accents and instruments by mood. The per-second chords become spans on the beat grid: each chord
change moves to a hard cut less than a second away (else to the nearest beat), and a cut that the
model plays through still starts a new span of the same chord, so the arrangement marks it.
`AMTRecord.cut_on_chord_change` reports the share of hard cuts that carry a real chord change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cuescore.analysis.features import EMOTIONS, VideoFeatures
from cuescore.controls import Controls
from cuescore.engines.base import AnalysisNeeds, Composition, Engine
from cuescore.engines.key import choose_key
from cuescore.engines.video_plan import PlanParts, PlanRecord, VideoPlanner, around
from cuescore.errors import OptionError
from cuescore.evaluation.correspondence import chord_changes
from cuescore.music.arrange import arrange
from cuescore.music.chords import chord_from_token
from cuescore.music.plan import ChordSpan, Key
from cuescore.music.tempo import BEAT_TOLERANCE, on_grid_share

DENSITY_STEPS = (6.0, 12.0, 18.0, 24.0)
"""Notes per second at the top of density levels 0..3 (Video2Music's demo); above is level 4."""
LOUDNESS_CEILING, LOUDNESS_EXPONENT = 0.5, 0.3
"""Video2Music's loudness → velocity curve: (min(loudness, 0.5) / 0.5) ** 0.3."""
_NEUTRAL_ENERGY = 0.55   # energy around which weight_emotion scales the regressor's loudness


def normalised_tonic(mode: str) -> int:
    """Tonic of MuVi-Sync's normalised keys: C (0) for major, A (9) for minor."""
    return 0 if mode == "major" else 9


def chord_spans(labels: list[str], beats: list[float], cuts: list[float], duration: float) -> list[ChordSpan]:
    """Chord spans on the beat grid from per-second labels (label i sounds over [i, i+1) s).

    Each chord change (a second whose label differs from the one before) moves to the nearest of
    `cuts` less than a second away (each cut takes at most one change), else to the nearest beat;
    changes that land on the same beat keep the later chord. A cut without a change still starts
    a new span of the sounding chord. The first span starts at 0, the last ends at `duration`.
    """
    b = np.asarray(beats, float) if len(beats) else np.zeros(1)
    snap = lambda t: float(b[np.argmin(np.abs(b - t))])  # noqa: E731
    grid_cuts = sorted({snap(t) for t in cuts if 0.0 < snap(t) < duration})
    changes = [s for s in range(1, len(labels)) if labels[s] != labels[s - 1] and s < duration]
    pairs = sorted((abs(c - s), s, c) for s in changes for c in grid_cuts if abs(c - s) < 1.0)
    moved: dict[int, float] = {}
    for _, s, c in pairs:
        if s not in moved and c not in moved.values():
            moved[s] = c
    seq: list[tuple[float, str | None, bool]] = []  # (time, label or None = keep sounding, at a cut)
    for s in changes:
        t, at_cut = (moved[s], True) if s in moved else (snap(s), False)
        while at_cut and seq and seq[-1][0] > t and not seq[-1][2]:
            seq.pop()  # an earlier change snapped past this one's cut: the cut's chord wins
        seq.append((max(t, seq[-1][0]) if seq else t, labels[s], at_cut))
    seq += [(c, None, True) for c in grid_cuts if c not in moved.values()]
    starts: list[tuple[float, str, bool]] = [(0.0, labels[0] if labels else "N", False)]
    for t, label, at_cut in sorted(seq, key=lambda e: (e[0], e[1] is None)):
        if t >= duration - 1e-9:
            continue
        label = starts[-1][1] if label is None else label
        if t <= starts[-1][0] + 1e-9:
            starts[-1] = (starts[-1][0], label, starts[-1][2] or at_cut)
        else:
            starts.append((t, label, at_cut))
    spans: list[ChordSpan] = []
    for i, (t, label, at_cut) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else float(duration)
        if spans and spans[-1].label == label and not at_cut:
            spans[-1].end = end
        else:
            spans.append(ChordSpan(float(t), float(end), label))
    return spans


def density_levels(note_density: np.ndarray) -> np.ndarray:
    """Video2Music's density level 0-4 of notes per second (≤ 6 → 0, ≤ 12 → 1, ..., > 24 → 4)."""
    return np.searchsorted(DENSITY_STEPS, np.asarray(note_density, float), side="left").astype(float)


def loudness_energy(loudness: np.ndarray) -> np.ndarray:
    """0-1 from RMS loudness, shaped like Video2Music's velocity curve."""
    return (np.clip(np.asarray(loudness, float), 0.0, LOUDNESS_CEILING) / LOUDNESS_CEILING) ** LOUDNESS_EXPONENT


@dataclass
class AMTRecord(PlanRecord):
    """The shared plan record plus the AMT's per-second chords, the share of hard cuts that carry
    a chord change, where the models came from and, with a regressor, its raw predictions."""

    chords_per_second: list[str] = field(default_factory=list)
    cut_on_chord_change: float | None = None
    checkpoint: str = ""
    regression: str | None = None
    density_source: str = "video"
    note_density: list[float] | None = None
    loudness: list[float] | None = None


class AMTEngine(Engine):
    """Chords from a trained AMT; density and energy from the regressor when the checkpoint has one.

    Options (see `catalog.CATALOG["amt"]`): checkpoint, top_k, temperature, allow_n (let the model
    write the no-chord token), max_repeat (the most seconds in a row one chord may be sampled,
    0 = no limit) and device ("auto" = a GPU when there is one).
    """

    NAME = "amt"

    def __init__(self, controls: Controls, **options) -> None:
        super().__init__(controls, **options)
        checkpoint = self.options["checkpoint"]
        if checkpoint is None:
            raise OptionError("engine 'amt' needs a trained checkpoint: pass --checkpoint DIR "
                              "(train one with `cuescore train amt --data MUVISYNC_ROOT -o DIR`)")
        from cuescore.models.checkpoint import load_model, regression_checkpoint
        from cuescore.models.device import resolve_device

        self.planner = VideoPlanner(controls)
        device = self.options["device"]
        self.device = resolve_device(device)
        self.model = load_model(checkpoint, device=self.device)
        self.config: dict = self.model.checkpoint_config
        if self.config["kind"] != "amt":
            raise OptionError(f"{checkpoint}: holds a {self.config['kind']} model; the amt engine needs "
                              "a checkpoint written by `cuescore train amt`")
        self.regression_dir = regression_checkpoint(checkpoint)
        self.regressor = load_model(self.regression_dir, device=self.device) if self.regression_dir else None
        if self.regressor is not None and self.regressor.config.video_dim != self.model.config.video_dim:
            raise OptionError(f"{self.regression_dir}: the regressor reads {self.regressor.config.video_dim}-wide "
                              f"video rows, the AMT {self.model.config.video_dim}; train both on the same features")

    @property
    def trained_encoder(self) -> dict:
        """The `VideoFeatures.encoder` record of the semantic features the checkpoint was trained on."""
        return dict(self.config.get("features", {}).get("semantic_encoder") or {})

    def analysis_needs(self) -> AnalysisNeeds:
        from cuescore.analysis.encoders import ENCODERS

        want = self.trained_encoder
        enc_id, name = str(want.get("id") or ""), str(want.get("name") or "")
        if not enc_id:
            return AnalysisNeeds()
        if enc_id.startswith("clip:"):
            return AnalysisNeeds(encoder=enc_id)
        if name in ENCODERS:
            return AnalysisNeeds(encoder=name)
        raise OptionError(f"the checkpoint was trained on semantic features from {enc_id!r} (dim {want.get('dim')}), "
                          "which cuescore's analysis cannot compute; analyse the video with that encoder and pass "
                          "the features with --features")

    def compose(self, features: VideoFeatures) -> Composition:
        rows = self._video_rows(features)
        planner = self.planner
        c = planner.controls
        features = planner.direct(features)
        duration = float(features.duration)
        motion, arousal, drive = planner.drive(features)
        grid = planner.grid(features, drive)
        key = choose_key(features, c, np.random.default_rng(c.seed))
        labels = self.chords_per_second(rows, key)
        chords = chord_spans(labels, grid.beats, grid.on_grid, duration)
        density, energy, predicted = self._density_energy(rows, motion, arousal)
        parts = PlanParts(drive, grid, key, chords, planner.sections(features, grid), density, energy,
                          planner.preset(features, drive))
        plan, shared = planner.assemble(features, parts, self.NAME)
        record = AMTRecord(
            **vars(shared), chords_per_second=labels,
            cut_on_chord_change=on_grid_share(features.hard_cuts, chord_changes(chords), BEAT_TOLERANCE),
            checkpoint=str(self.options["checkpoint"]),
            regression=str(self.regression_dir) if self.regression_dir else None,
            density_source="regression" if predicted else "video", **predicted,
        )
        return Composition(plan, arrange(plan, c.seed), None, record)

    def _video_rows(self, features: VideoFeatures) -> np.ndarray:
        """The model's input rows [T, video_dim] from validated features of the trained encoder."""
        from cuescore.data.matrices import features_matrix
        from cuescore.models.checkpoint import check_encoder

        features.validate()
        check_encoder(self.config, features.encoder)
        if self.regressor is not None:
            check_encoder(self.regressor.checkpoint_config, features.encoder)
        emotions = self.config.get("features", {}).get("emotions") or EMOTIONS
        rows = features_matrix(features, emotion_width=len(emotions))
        if rows.shape[1] != self.model.config.video_dim:
            raise OptionError(f"the video's feature rows are {rows.shape[1]} wide, the checkpoint expects "
                              f"{self.model.config.video_dim}; analyse with the encoder it was trained on")
        return rows

    def chords_per_second(self, rows: np.ndarray, key: Key) -> list[str]:
        """One chord label per row of `rows` ([T, video_dim]), in `key`: the primer (one chord per
        second, transposed into the model's normalised key), then the model's samples."""
        from cuescore.models.amt import generate_chords

        c, o = self.controls, self.options
        shift = (key.tonic - normalised_tonic(key.mode)) % 12
        primer = [chord.transpose(-shift).token for chord in c.primer_chords]
        tokens = generate_chords(
            self.model, rows, key.mode, primer, top_k=o["top_k"], temperature=o["temperature"],
            no_n=not o["allow_n"], max_repeat=o["max_repeat"], seed=c.seed,
        )
        return [chord_from_token(t).transpose(shift).label for t in tokens]

    def _density_energy(self, rows: np.ndarray, motion: np.ndarray, arousal: np.ndarray,
                        ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Per second: (density level 0-4, energy 0-1, the regressor's raw predictions or {})."""
        if self.regressor is None:
            density, energy = self.planner.levels(motion, arousal)
            return density, energy, {}
        from cuescore.models.regression import predict_density_loudness

        c = self.controls
        notes, loudness = predict_density_loudness(self.regressor, rows)
        density = around(2.0, c.weight_motion, density_levels(notes))
        energy = np.clip(c.energy * around(_NEUTRAL_ENERGY, c.weight_emotion, loudness_energy(loudness)), 0.0, 1.0)
        predicted = {"note_density": np.round(notes, 3).tolist(), "loudness": np.round(loudness, 4).tolist()}
        return density, energy, predicted
