"""Which SoundFont renders the score: `--soundfont auto` (the default), `bundled` or a path.

`auto` takes, in order, the file named by `$CUESCORE_SOUNDFONT`, the largest .sf2/.sf3 in the
user's SoundFont folders (`$XDG_DATA_HOME/soundfonts`, `~/.local/share/soundfonts`,
`~/.sounds/sf2`), the best General MIDI bank a system package installs (Debian's
`fluid-soundfont-gm` and `musescore-general-soundfont`; the Fedora and Arch paths of the same
banks), and else the small bank bundled with pretty_midi (TimGM6mb, 6 MB). Every choice is
checked before any work: a file that is missing or whose SoundFont headers cannot be read is an
`InputError`. sf3 banks (SoundFont 2 with Ogg-compressed samples, such as MuseScore_General.sf3)
have the same headers and load in tinysoundfont.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pretty_midi

from cuescore.errors import InputError
from cuescore.render.soundfont import preset_regions

ENV_VAR = "CUESCORE_SOUNDFONT"
SUFFIXES = (".sf2", ".sf3")
SYSTEM_BANKS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/soundfonts/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/GeneralUser_GS.sf2",
    "/usr/share/soundfonts/default.sf2",
)
"""Installed General MIDI banks, best first (FluidR3_GM first: uncompressed, so it loads fast)."""
APT_HINT = "apt-get install fluid-soundfont-gm"


@dataclass(frozen=True)
class SoundFontChoice:
    """The bank used and why: source is "path" (given), "env" ($CUESCORE_SOUNDFONT), "user"
    (a user folder), "installed" (a system package) or "bundled"."""

    path: Path
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"path": str(self.path), "source": self.source}


def bundled_soundfont() -> Path:
    """The General MIDI SoundFont bundled with pretty_midi (TimGM6mb, 6 MB)."""
    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def user_folders() -> list[Path]:
    """Folders where a user's own banks are looked for, in order."""
    home = Path.home()
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return [data / "soundfonts", home / ".local" / "share" / "soundfonts", home / ".sounds" / "sf2"]


def _user_bank() -> Path | None:
    found = [p for folder in user_folders() if folder.is_dir() for p in folder.iterdir()
             if p.suffix.lower() in SUFFIXES and p.is_file()]
    return max(found, key=lambda p: (p.stat().st_size, str(p))) if found else None


def _system_bank() -> Path | None:
    return next((Path(p) for p in SYSTEM_BANKS if os.path.isfile(p)), None)


def find_soundfont(choice: str | os.PathLike | None = "auto") -> SoundFontChoice:
    """The bank for `choice` ("auto" or None, "bundled", or a path), checked readable.
    `InputError` naming the file when it is missing or not a SoundFont."""
    text = "auto" if choice is None else os.fspath(choice)
    if text.lower() == "bundled":
        picked = SoundFontChoice(bundled_soundfont(), "bundled")
    elif text.lower() != "auto":
        picked = SoundFontChoice(Path(text), "path")
    elif os.environ.get(ENV_VAR):
        picked = SoundFontChoice(Path(os.environ[ENV_VAR]), "env")
    else:
        user, system = _user_bank(), _system_bank()
        picked = (SoundFontChoice(user, "user") if user else SoundFontChoice(system, "installed") if system
                  else SoundFontChoice(bundled_soundfont(), "bundled"))
    check_soundfont(picked.path, f" (from ${ENV_VAR})" if picked.source == "env" else "")
    return picked


def check_soundfont(path: Path, origin: str = "") -> None:
    """`InputError` unless `path` is a SoundFont 2 (.sf2, or .sf3 with compressed samples) whose
    preset headers read; origin is added to the message (e.g. where the path came from)."""
    where = f"{path}{origin}"
    if not path.is_file():
        raise InputError(f"{where}: no such SoundFont file; give a .sf2/.sf3 path, 'auto' or 'bundled'")
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise InputError(f"{where}: not a SoundFont 2 file (no RIFF sfbk header); give a .sf2/.sf3 bank")
    try:
        preset_regions(path, 0, 0)
    except ValueError:
        raise InputError(f"{where}: the SoundFont's preset headers cannot be read (corrupt or truncated); "
                         "give another bank or 'bundled'") from None
