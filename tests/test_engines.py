"""The engine contract: the catalog, options reaching engines, flags built from declarations,
a cheap `--help`, and `score_video` taking audio straight from an engine that writes sound."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from cuescore.cli import build_parser
from cuescore.controls import Controls
from cuescore.engines import CATALOG, Composition, Engine, EngineInfo, EngineOption, EngineRecord, get_engine
from cuescore.engines.catalog import engine_options_from_namespace, resolve_options
from cuescore.errors import OptionError
from cuescore.media import Audio
from feature_fixtures import REGULAR_CUTS, make_features


def test_every_declared_option_is_a_generate_flag():
    generate = build_parser()._subparsers._group_actions[0].choices["generate"]
    dests = {a.dest for a in generate._actions}
    for info in CATALOG.values():
        for option in info.options:
            assert option.name in dests, (info.name, option.name)
    engine = next(a for a in generate._actions if a.dest == "engine")
    assert tuple(engine.choices) == tuple(CATALOG)


def test_command_line_options_are_validated_and_passed_on():
    args = build_parser().parse_args(["generate", "v.mp4", "--engine", "amt", "--top-k", "5", "--allow-n",
                                      "--max-repeat", "0"])
    given = engine_options_from_namespace(args)
    assert given == {"top_k": "5", "allow_n": True, "max_repeat": "0"}
    resolved = resolve_options("amt", given)
    assert resolved["top_k"] == 5 and resolved["max_repeat"] == 0 and resolved["allow_n"] is True
    assert resolved["temperature"] == 1.0 and resolved["device"] == "auto" and resolved["checkpoint"] is None
    with pytest.raises(OptionError, match="--top-k 'many' is not allowed; allowed: an integer"):
        resolve_options("amt", {"top_k": "many"})
    with pytest.raises(OptionError, match="--device 'tpu'.*auto, cpu, cuda"):
        resolve_options("amt", {"device": "tpu"})
    with pytest.raises(OptionError, match="engine affective takes no option 'max-repeat'; it is an option of amt"):
        get_engine("affective", Controls(), max_repeat=1)


def test_an_option_of_another_engine_is_a_one_line_error(demo_clip, tmp_path, capfd):
    from cuescore.cli import main

    out = tmp_path / "x.mp4"
    assert main(["generate", str(demo_clip.path), "-o", str(out), "--top-k", "3"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "engine affective takes no option 'top-k'; it is an option of amt" in err
    assert list(tmp_path.iterdir()) == []


def test_help_imports_no_heavy_module():
    code = ("import sys; from cuescore.cli import main\n"
            "try: main(['generate', '--help'])\nexcept SystemExit: pass\n"
            "heavy = {'cv2', 'scipy', 'torch', 'scenedetect', 'librosa', 'transformers', 'cuescore.analysis'}\n"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_affective_engine_module_needs_no_torch():
    code = "import cuescore.engines.affective, sys; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


@dataclass
class ToneRecord(EngineRecord):
    frequency: float = 0.0


class ToneEngine(Engine):
    """An engine that writes the waveform itself (a tone at the option's pitch), to check the
    audio path of the contract without a learned model."""

    NAME = "tone"

    def compose(self, features):
        sr = 32000
        t = np.arange(int(round(features.duration * sr))) / sr
        tone = 0.3 * np.sin(2 * np.pi * self.options["frequency"] * t)
        return Composition(None, None, Audio(tone[None, :], sr), ToneRecord(self.options["frequency"]))


@pytest.fixture
def tone_engine(monkeypatch):
    info = EngineInfo("tone", f"{__name__}:ToneEngine", "a test tone",
                      options=(EngineOption("frequency", "float", 440.0, "pitch, Hz", low=20, high=8000),))
    monkeypatch.setitem(CATALOG, "tone", info)
    return info


def test_an_audio_engine_gets_mastered_and_muxed_without_a_score(tone_engine, demo_clip, features_dir, tmp_path):
    from cuescore.analysis import VideoFeatures
    from cuescore.scoring import score_video

    result = score_video(demo_clip.path, tmp_path / "tone.mp4", Controls(loudness=-20), engine="tone",
                         engine_options={"frequency": "220"}, features=VideoFeatures.load(features_dir))
    assert result.midi is None and result.plan is None and set(result.outputs) == {"video", "wav", "json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tone.json", "tone.mp4", "tone.wav"]
    audio, sr = sf.read(result.wav, always_2d=True)
    assert abs(len(audio) / sr - demo_clip.duration) < 1.0 / sr + 1e-9
    spectrum = np.abs(np.fft.rfft(audio[: sr * 4, 0]))
    assert abs(np.argmax(spectrum) * sr / (sr * 4) - 220.0) < 1.0
    data = json.loads(result.json.read_text())
    assert data["engine"] == "tone" and data["engine_record"] == {"frequency": 220.0}
    assert data["cuts"] == result.features.hard_cuts and len(data["emotion"]) == result.features.T
    assert "tone.wav" in result.summary() and "tone.mid" not in result.summary()


def test_composition_needs_sound():
    with pytest.raises(ValueError, match="score or audio"):
        Composition(None, None, None, EngineRecord())
    f = make_features(12.0, REGULAR_CUTS)
    out = get_engine("affective", Controls(seed=1)).compose(f)
    assert out.audio is None and out.score.tracks and out.plan.engine == "affective"
