"""Import Video2Music's released weights (Kang, Poria, Herremans 2024) into cuescore checkpoints.

Video2Music saves `torch.save(model.state_dict())`: `best_loss_weights.pickle` for its AMT
(`VideoMusicTransformer` with relative attention) and `best_rmse_weights.pickle` for the
regressor (`VideoRegression`, run as a bi-GRU). The layouts match cuescore's `ChordTransformer`
and `VideoRegression` layer for layer; the key mapping (source -> cuescore):

    embedding_root, embedding_attr          -> root_emb, attr_emb
    Linear_chord, Linear_vis                -> chord_in, video_in
    transformer.encoder.*                   -> encoder.* (same nn.TransformerEncoder, final norm)
    transformer.decoder.layers.i.self_attn  -> layers.i.self_attn: in_proj rows [0, D) -> q_proj,
        [D, 3D) -> kv_proj; Er -> rel_table flipped (their row len-1-d holds distance d, ours row d)
    ...multihead_attn                       -> layers.i.cross_attn (in_proj split the same way)
    ...linear1, linear2, norm1-3            -> layers.i.ff.0, ff.3, norm1-3
    transformer.decoder.norm, Wout          -> norm, out
    positional_encoding(_video).pe          -> checked to be the sinusoids cuescore computes
    bigru.*, bifc                           -> rnn.*, out (regressor)

Unused keys (`embedding`, `condition_linear`, `Wout_root`, `Wout_attr`; the regressor's
`bilstm`, `lstm`, `gru`, `fc`) are reported, not converted. Sizes are read from the shapes, so
other Video2Music training configurations convert too, as long as the video rows are CLIP
ViT-L/14@336 (768) + scene offset + motion + 6 emotions, the layout of `features_matrix`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from cuescore.convert.state_dict import SourceWeights
from cuescore.data.muvisync import CLIP_L14P_ID, DEFAULT_SEMANTIC
from cuescore.errors import InputError
from cuescore.fileio import atomic_dir, check_new_dir
from cuescore.models.amt import N_ATTRS, N_ROOTS, AMTConfig, ChordTransformer, sinusoids
from cuescore.models.checkpoint import REGRESSION_SUBDIR, save_checkpoint
from cuescore.models.regression import RegressionConfig, VideoRegression
from cuescore.music.chords import VOCAB_SIZE

REPOSITORY = "https://github.com/AMAAI-Lab/Video2Music"
AMT_FILE = "Video2Music's AMT weights (best_loss_weights.pickle)"
REGRESSION_FILE = "Video2Music's regressor weights (best_rmse_weights.pickle)"
SEMANTIC_DIM = 768
"""Width of CLIP ViT-L/14@336 image embeddings, Video2Music's semantic feature."""
N_EMOTIONS = 6
VIDEO_DIM = SEMANTIC_DIM + 2 + N_EMOTIONS
DROPOUT = 0.1
"""Video2Music's training dropout (kept for fine-tuning; inference runs in eval mode)."""
_DEC = "transformer.decoder"


def features_record(max_len: int) -> dict:
    """The `features` entry of a converted checkpoint (the inputs Video2Music was trained on)."""
    from cuescore.analysis.features import EMOTIONS

    return {
        "semantic_folder": DEFAULT_SEMANTIC,
        "emotion_variant": "6c_l14p",
        "semantic_encoder": {"name": "clip", "id": CLIP_L14P_ID, "dim": SEMANTIC_DIM},
        "emotions": list(EMOTIONS),
        "video_dim": VIDEO_DIM,
        "layout": [f"semantic:{SEMANTIC_DIM}", "scene_offset+1", "motion", f"emotion:{N_EMOTIONS}"],
        "max_len": max_len,
    }


def amt_config(src: SourceWeights) -> AMTConfig:
    """The AMT's hyperparameters, read from the shapes of its state dict."""
    d_model, video_dim = src.shape("Linear_vis.weight", 2)
    if f"{_DEC}.layers.0.self_attn.Er" not in src.state:
        raise InputError(f"{src.path}: this AMT has no relative position table (Er); cuescore converts the "
                         "released AMT, which was trained with RPR")
    max_len, head_dim = src.shape(f"{_DEC}.layers.0.self_attn.Er", 2)
    d_ff = src.shape(f"{_DEC}.layers.0.linear1.weight", 2)[0]
    n_layers, n_enc = src.count(f"{_DEC}.layers"), src.count("transformer.encoder.layers")
    if video_dim != VIDEO_DIM:
        raise InputError(f"{src.path}: the AMT reads {video_dim}-wide video rows; cuescore converts the "
                         f"{VIDEO_DIM}-wide layout of the release (CLIP ViT-L/14@336 {SEMANTIC_DIM} + scene offset + motion + "
                         f"{N_EMOTIONS} emotions)")
    if head_dim <= 0 or d_model % head_dim:
        raise InputError(f"{src.path}: relative position table of width {head_dim} does not divide d_model {d_model}")
    if n_enc != n_layers:
        raise InputError(f"{src.path}: {n_enc} encoder layers but {n_layers} decoder layers; cuescore's AMT needs "
                         "as many of each")
    return AMTConfig(video_dim=video_dim, n_layers=n_layers, n_heads=d_model // head_dim, d_model=d_model,
                     d_ff=d_ff, dropout=DROPOUT, max_len=max_len, rpr=True)


def _linear(src: SourceWeights, out: dict, target: str, source: str, n_out: int, n_in: int) -> None:
    out[f"{target}.weight"] = src.take(f"{source}.weight", (n_out, n_in))
    out[f"{target}.bias"] = src.take(f"{source}.bias", (n_out,))


def _attention(src: SourceWeights, out: dict, target: str, source: str, d: int) -> None:
    """nn.MultiheadAttention's packed in_proj (q, k, v rows) -> q_proj + kv_proj, and out_proj."""
    weight = src.take(f"{source}.in_proj_weight", (3 * d, d))
    bias = src.take(f"{source}.in_proj_bias", (3 * d,))
    out[f"{target}.q_proj.weight"], out[f"{target}.kv_proj.weight"] = weight[:d], weight[d:]
    out[f"{target}.q_proj.bias"], out[f"{target}.kv_proj.bias"] = bias[:d], bias[d:]
    _linear(src, out, f"{target}.out_proj", f"{source}.out_proj", d, d)


def _check_positions(src: SourceWeights, key: str, cfg: AMTConfig) -> None:
    table = src.take(key, (cfg.max_len, 1, cfg.d_model))[:, 0]
    if not torch.allclose(table, sinusoids(cfg.max_len, cfg.d_model), atol=1e-4):
        raise InputError(f"{src.path}: {key!r} is not the sinusoid table Video2Music computes; the file was altered")


def amt_state(src: SourceWeights, model: ChordTransformer) -> dict[str, Tensor]:
    """cuescore's state dict for `model` from Video2Music's AMT weights (every shape checked)."""
    cfg = model.config
    D, F = cfg.d_model, cfg.d_ff
    out: dict[str, Tensor] = {
        "root_emb.weight": src.take("embedding_root.weight", (N_ROOTS, D)),
        "attr_emb.weight": src.take("embedding_attr.weight", (N_ATTRS, D)),
    }
    _linear(src, out, "chord_in", "Linear_chord", D, D + 1)
    _linear(src, out, "video_in", "Linear_vis", D, cfg.video_dim)
    _linear(src, out, "out", "Wout", VOCAB_SIZE, D)
    for name, value in model.state_dict().items():
        if name.startswith("encoder."):  # the same nn.TransformerEncoder: same names and shapes
            out[name] = src.take(f"transformer.{name}", tuple(value.shape))
    out["norm.weight"] = src.take(f"{_DEC}.norm.weight", (D,))
    out["norm.bias"] = src.take(f"{_DEC}.norm.bias", (D,))
    for i in range(cfg.n_layers):
        theirs, ours = f"{_DEC}.layers.{i}", f"layers.{i}"
        _attention(src, out, f"{ours}.self_attn", f"{theirs}.self_attn", D)
        er = src.take(f"{theirs}.self_attn.Er", (cfg.max_len, D // cfg.n_heads))
        out[f"{ours}.self_attn.rel_table"] = er.flip(0).contiguous()
        _attention(src, out, f"{ours}.cross_attn", f"{theirs}.multihead_attn", D)
        _linear(src, out, f"{ours}.ff.0", f"{theirs}.linear1", F, D)
        _linear(src, out, f"{ours}.ff.3", f"{theirs}.linear2", D, F)
        for n in (1, 2, 3):
            out[f"{ours}.norm{n}.weight"] = src.take(f"{theirs}.norm{n}.weight", (D,))
            out[f"{ours}.norm{n}.bias"] = src.take(f"{theirs}.norm{n}.bias", (D,))
    _check_positions(src, "positional_encoding.pe", cfg)
    _check_positions(src, "positional_encoding_video.pe", cfg)
    return out


def convert_amt(path: str | os.PathLike) -> tuple[ChordTransformer, list[str]]:
    """cuescore's AMT (eval mode) holding Video2Music's AMT weights from `path`, and the unused keys."""
    src = SourceWeights(path, AMT_FILE)
    model = ChordTransformer(amt_config(src))
    model.load_state_dict(amt_state(src, model))
    return model.eval(), src.unused()


def convert_regression(path: str | os.PathLike) -> tuple[VideoRegression, list[str]]:
    """cuescore's regressor (eval mode) holding the bi-GRU of Video2Music's regressor weights, and the unused keys."""
    src = SourceWeights(path, REGRESSION_FILE)
    gates, video_dim = src.shape("bigru.weight_ih_l0", 2)
    n_layers = 0
    while f"bigru.weight_ih_l{n_layers}" in src.state:
        n_layers += 1
    if gates % 3:
        raise InputError(f"{src.path}: 'bigru.weight_ih_l0' has {gates} rows, not three gates of a GRU")
    model = VideoRegression(RegressionConfig(video_dim=video_dim, hidden=gates // 3, n_layers=n_layers,
                                             dropout=DROPOUT, bidirectional=True))
    state = {f"rnn.{k}": src.take(f"bigru.{k}", tuple(v.shape)) for k, v in model.rnn.state_dict().items()}
    _linear(src, state, "out", "bifc", 2, 2 * model.config.hidden)
    model.load_state_dict(state)
    return model.eval(), src.unused()


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source(path: str | os.PathLike, unused: list[str]) -> dict:
    return {"system": "Video2Music", "repository": REPOSITORY, "file": Path(path).name, "sha256": _sha256(path),
            "unused_keys": unused}


@dataclass
class Conversion:
    """What `convert_video2music` wrote: the checkpoint folder, its config and the keys left out."""

    output: Path
    amt: AMTConfig
    regression: RegressionConfig | None
    unused: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for the user: what was written, which source tensors were left out, what next."""
        cfg = self.amt
        what = f"AMT ({cfg.n_layers} layers, {cfg.n_heads} heads, d_model {cfg.d_model}, up to {cfg.max_len} s)"
        if self.regression is not None:
            what += f", regressor in {self.output / REGRESSION_SUBDIR}"
        lines = [f"{self.output}: Video2Music {what}; semantic features: CLIP ViT-L/14@336"]
        for role, keys in self.unused.items():
            groups: dict[str, int] = {}
            for key in keys:
                groups[key.split(".")[0]] = groups.get(key.split(".")[0], 0) + 1
            if groups:
                lines.append(f"  not used from the {role} file (nor by Video2Music's forward pass): "
                             + ", ".join(f"{name} ({n} tensors)" for name, n in groups.items()))
        lines.append(f"  next: cuescore generate VIDEO --engine amt --checkpoint {self.output}")
        return "\n".join(lines)


def convert_video2music(
    amt: str | os.PathLike, output: str | os.PathLike, regression: str | os.PathLike | None = None
) -> Conversion:
    """Write a cuescore checkpoint folder `output` (config.json + model.safetensors, the regressor in
    `output/regression/`) from Video2Music's AMT and, if given, regressor weights. Everything is
    read and checked before anything is written; `output` must be new or empty."""
    check_new_dir(output)
    model, amt_unused = convert_amt(amt)
    unused = {"amt": amt_unused}
    reg_model = None
    if regression is not None:
        reg_model, unused["regression"] = convert_regression(regression)
        if reg_model.config.video_dim != model.config.video_dim:
            raise InputError(f"{regression}: the regressor reads {reg_model.config.video_dim}-wide rows, "
                             f"the AMT {model.config.video_dim}; give the pair from one Video2Music release")
    features = features_record(model.config.max_len)
    with atomic_dir(output) as tmp:
        save_checkpoint(model, tmp, {"features": features, "source": _source(amt, amt_unused)})
        if reg_model is not None:
            reg_source = _source(regression, unused["regression"])
            save_checkpoint(reg_model, tmp / REGRESSION_SUBDIR, {"features": features, "source": reg_source})
    return Conversion(Path(output), model.config, reg_model.config if reg_model else None, unused)
