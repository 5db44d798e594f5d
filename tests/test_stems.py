"""Stems: each part rendered alone with the whole score's synthesizer calls and mastered with the
mix's gain curves, so the stems sum to the mix; the SoundFont is parsed once per process."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from cli_runner import cli
from cuescore.controls import Controls
from cuescore.media.track import ArrayTrack
from cuescore.music.arrange import arrange
from cuescore.render import synthesize, synthesize_track
from cuescore.render.master import master_with_curve
from cuescore.scoring import score_video
from plan_fixtures import make_plan
from video_factory import make_video


def _error_db(total: np.ndarray, reference: np.ndarray) -> float:
    """RMS of the difference relative to the reference's RMS, in dB."""
    return float(20 * np.log10(np.sqrt(np.mean((total - reference) ** 2)) / np.sqrt(np.mean(reference ** 2))))


@pytest.fixture(scope="module")
def score():
    return arrange(make_plan(duration=20.0), seed=3)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 12 s, 10 fps clip."""
    return make_video(tmp_path_factory.mktemp("stems") / "clip.mp4", n_frames=120, fps=10, size=(96, 64))


def test_part_renders_sum_to_the_render_and_mastered_stems_to_the_master(score):
    whole = synthesize_track(score, workers=1)
    parts = [synthesize_track(score, workers=1, part=track.name) for track in score.tracks]
    dry = whole.read(0, whole.n)
    assert np.abs(sum(p.read(0, p.n) for p in parts) - dry).max() < 1e-6
    assert all(np.abs(p.read(0, p.n)).max() > 1e-3 for p in parts)  # every part sounds on its own
    mixed, mastering = master_with_curve(whole)
    stems = [mastering.apply(p) for p in parts]
    assert _error_db(sum(s.read(0, s.n) for s in stems), mixed.read(0, mixed.n)) < -100.0
    with pytest.raises(KeyError, match="no track 'choir'"):
        synthesize_track(score, part="choir")
    with pytest.raises(ValueError, match="cannot apply"):
        mastering.apply(ArrayTrack(dry[:, :1000], whole.sample_rate))


def test_generate_writes_stems_that_sum_to_the_mix(clip, tmp_path):
    result = score_video(clip, tmp_path / "a.mp4", Controls(soundfont="bundled"), stems=True)
    parts = [track.name for track in result.composition.score.tracks]
    assert len(parts) >= 3 and set(result.stems) == set(parts)
    for part in parts:
        assert result.outputs[f"stem:{part}"] == tmp_path / f"a.{part}.wav"
    assert json.loads(result.json.read_text())["outputs"]["stem:" + parts[0]] == str(tmp_path / f"a.{parts[0]}.wav")
    mix, rate = sf.read(str(result.wav), dtype="float64")
    stems = [sf.read(str(result.stems[part]), dtype="float64")[0] for part in parts]
    assert all(stem.shape == mix.shape for stem in stems)
    assert _error_db(sum(stems), mix) < -60.0  # 16-bit files: each adds its rounding


def test_stems_of_an_engine_that_writes_audio_are_an_option_error(clip, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = cli("generate", clip, "-o", out / "x.mp4", "--engine", "codec", "--stems")
    assert code == 2 and "engine codec writes the audio itself" in err and err.count("\n") == 1, err
    assert list(out.iterdir()) == []


def test_the_soundfont_is_parsed_once_and_its_clones_render_as_a_fresh_load(score, monkeypatch):
    import tinysoundfont

    from cuescore.render import synth

    synth._load_soundfont.cache_clear()
    first = synthesize(score, workers=1).samples
    again = synthesize(score, workers=1).samples
    assert synth._load_soundfont.cache_info().misses == 1 and synth._load_soundfont.cache_info().hits >= 1

    def fresh(self, soundfont, sample_rate):
        player = tinysoundfont.Synth(gain=self.GAIN_DB, samplerate=sample_rate)
        return player, player.sfload(str(soundfont), max_voices=self.MAX_VOICES)

    monkeypatch.setattr(synth.TinySoundFontSynth, "_synth", fresh)
    assert np.array_equal(first, again) and np.array_equal(first, synthesize(score, workers=1).samples)


def test_the_compressor_curve_follows_level_whatever_the_block_sizes():
    from cuescore.render.compressor import CompressorDetector

    sr = 44100
    t = np.arange(3 * sr) / sr
    loud = (t >= 1.0) & (t < 2.0)
    x = np.stack([np.sin(2 * np.pi * 220 * t) * np.where(loud, 0.8, 0.02)] * 2).astype(np.float32)
    curves = []
    for size in (4096, 1000, 3 * sr):
        detector = CompressorDetector(sr)
        for start in range(0, x.shape[1], size):
            detector.feed(x[:, start:start + size])
        curves.append(detector.curve().read(0, x.shape[1]))
    assert all(np.array_equal(curves[0], c) for c in curves[1:])
    gain_db = 20 * np.log10(curves[0])
    assert np.all(gain_db[: sr] == 0.0)  # under the threshold: untouched
    # 0.8 peak is 18 dB over -20 dB at 2:1: about 9 dB off once the 25 ms attack has settled
    assert -10.0 < gain_db[int(1.5 * sr)] < -8.0 and gain_db[int(1.01 * sr)] > gain_db[int(1.2 * sr)]
    assert gain_db[int(2.05 * sr)] < -3.0 and gain_db[-1] > -0.5  # lets go over the 250 ms release
