"""`--soundfont auto | bundled | PATH`: which bank renders the score, checked before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cuescore import Controls, score_video
from cuescore.errors import InputError
from cuescore.render import banks, find_soundfont, synthesize
from cuescore.render.banks import bundled_soundfont

FLUID = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE_SF3 = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    """No $CUESCORE_SOUNDFONT and an empty home: only system banks (or none) can be found."""
    monkeypatch.delenv(banks.ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    return tmp_path / "home"


def _corrupt(path: Path) -> Path:
    path.write_bytes(b"RIFF\x00\x01\x00\x00sfbk" + bytes(range(256)) * 8)
    return path


def test_auto_takes_the_bank_named_by_the_environment(clean_home, tmp_path, monkeypatch):
    mine = shutil.copy(bundled_soundfont(), tmp_path / "mine.sf2")
    monkeypatch.setenv(banks.ENV_VAR, str(mine))
    choice = find_soundfont("auto")
    assert (choice.path, choice.source) == (Path(mine), "env")
    assert find_soundfont(None) == choice
    assert find_soundfont("bundled").path == bundled_soundfont()  # bundled and a path beat the environment
    assert find_soundfont(str(mine)).source == "path"


def test_auto_takes_the_largest_bank_of_the_user_folder(clean_home):
    folder = clean_home / "data" / "soundfonts"
    folder.mkdir(parents=True)
    (folder / "z_small.sf2").write_bytes(bundled_soundfont().read_bytes()[:4096])
    big = shutil.copy(bundled_soundfont(), folder / "a_gm.sf2")
    (folder / "notes.txt").write_text("not a bank, though the largest file here " * 200000)
    assert find_soundfont("auto") == banks.SoundFontChoice(Path(big), "user")


def test_auto_falls_back_to_the_bundled_bank_when_nothing_is_installed(clean_home, monkeypatch):
    monkeypatch.setattr(banks, "SYSTEM_BANKS", ())
    choice = find_soundfont("auto")
    assert (choice.path, choice.source) == (bundled_soundfont(), "bundled")


def test_unreadable_banks_are_input_errors_naming_the_file(clean_home, tmp_path, monkeypatch):
    bad = _corrupt(tmp_path / "bad.sf2")
    with pytest.raises(InputError, match="bad.sf2.*cannot be read"):
        find_soundfont(bad)
    monkeypatch.setenv(banks.ENV_VAR, str(tmp_path / "gone.sf2"))
    with pytest.raises(InputError, match=r"gone.sf2 \(from \$CUESCORE_SOUNDFONT\): no such SoundFont"):
        find_soundfont("auto")


def test_an_unreadable_bank_stops_the_job_before_any_work(demo_clip, tmp_path, clean_home, monkeypatch):
    monkeypatch.setenv(banks.ENV_VAR, str(_corrupt(tmp_path / "bad.sf2")))
    stages = []
    with pytest.raises(InputError, match="bad.sf2"):
        score_video(demo_clip.path, tmp_path / "out.mp4", Controls(), progress=lambda s, d: stages.append(s))
    assert stages == [] and sorted(p.name for p in tmp_path.iterdir()) == ["bad.sf2"]


@pytest.mark.skipif(not FLUID.is_file(), reason="fluid-soundfont-gm is not installed")
def test_auto_finds_the_installed_fluid_bank_and_it_sounds_different(clean_home, score):
    choice = find_soundfont("auto")
    assert (choice.path, choice.source) == (FLUID, "installed")
    fluid = synthesize(score, soundfont=choice.path).samples
    bundled = synthesize(score, soundfont=bundled_soundfont()).samples
    assert fluid.shape == bundled.shape and np.sqrt(np.mean(fluid ** 2)) > 1e-3
    assert not np.allclose(fluid, bundled, atol=1e-3)


@pytest.mark.slow
@pytest.mark.skipif(not MUSESCORE_SF3.is_file(), reason="musescore-general-soundfont is not installed")
def test_an_sf3_bank_with_compressed_samples_renders(score):
    audio = synthesize(score, soundfont=find_soundfont(MUSESCORE_SF3).path, workers=1)
    assert audio.samples.shape[1] == pytest.approx(score.duration * audio.sample_rate, abs=1)
    assert np.sqrt(np.mean(audio.samples ** 2)) > 1e-3
