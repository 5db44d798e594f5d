"""`Controls`: every user setting in one table that both validation and the CLI read.

Each field of `Controls` carries a `Control` in its metadata (type, default, range or choices,
help), like PySceneDetect's CONFIG_MAP: `Controls.from_options` validates against it and
`add_control_arguments` builds `--seed`, `--key`, ... from it, so the two cannot disagree.
The four `weight_*` settings scale one video feature's influence each (0 turns it off, 1 is
as analysed, 2 doubles it), as in Controllable V2M. The "directing" settings (hits, ignore_cuts,
intensity, sections, video_control, music_control) are text parsed by `cuescore.directives` and
stored in its canonical form (a CSV file of keyframes is stored as its keyframes), so a result's
recorded controls reproduce it; their times are checked against the video by `check_duration`.
"""

from __future__ import annotations

import argparse
import math
import os
import dataclasses
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable

from cuescore import directives
from cuescore.errors import OptionError

if TYPE_CHECKING:  # music theory (and numpy) is imported when a key or primer is read, not for --help
    from cuescore.music.chords import Chord
    from cuescore.music.plan import Key

INSTRUMENT_PRESETS: dict[str, dict[str, int]] = {
    "cinematic": {"pad": 49, "keys": 0, "bass": 42, "lead": 60, "drums": 48},
    "piano": {"keys": 0, "bass": 0, "lead": 0},
    "ambient": {"pad": 89, "keys": 46, "bass": 35, "lead": 73},
    "rock": {"pad": 29, "keys": 27, "bass": 33, "lead": 30, "drums": 0},
    "electronic": {"pad": 90, "keys": 4, "bass": 38, "lead": 81, "drums": 25},
    "orchestral": {"pad": 48, "keys": 46, "bass": 43, "lead": 68, "drums": 48},
}
"""Preset name → role → General MIDI program (0-127). "drums" is the GM kit (0 standard,
25 TR-808, 48 orchestra); a preset without "drums" has no drum track."""

INSTRUMENT_CHOICES = ("auto", *INSTRUMENT_PRESETS)
"""`auto` lets the engine pick a preset from the video's mood."""

MODE_CHOICES = ("auto", "major", "minor")


@dataclass(frozen=True)
class Control:
    """One setting: its kind ("int", "float", "str", "path", "soundfont", "key", "progression", or a
    directive kind of `_DIRECTIVE_FORMS`), range or choices, help text, argparse metavar and group;
    `nullable` settings accept None; `repeat` ones may be given several times (a list, joined by ';')."""

    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    metavar: str | None = None
    group: str = "music"
    repeat: bool = False

    def allowed(self) -> str:
        """The allowed values, in words, for error messages and --help."""
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        elif self.low is not None:
            text = f"{_fmt(self.low)}..{_fmt(self.high)}"
        else:
            text = {"path": "an existing file", "soundfont": "auto, bundled or an existing .sf2/.sf3 file",
                    "key": "a key like 'A minor'",
                    "progression": "chords like 'C Am F G'", **_DIRECTIVE_FORMS}.get(self.kind, "a value")
        return f"{text} or none" if self.nullable else text


_DIRECTIVE_FORMS = {
    "hits": f"times in s or m:ss.ss, at least {directives.fmt(directives.MIN_HIT_GAP)} s apart, inside the video",
    "times": "times in s or m:ss.ss, inside the video",
    "keyframes": "TIME:LEVEL pairs, times increasing inside the video, levels 0..1, or a CSV file of time,level rows",
    "sections": "TIME:LABEL pairs, times increasing inside the video",
    "video_control": "SHOT,REGION,FEATURE,WEIGHT with SHOT and REGION an index or *, FEATURE one of "
                     f"{'/'.join(directives.VIDEO_FEATURES)}, WEIGHT 0..2",
    "music_control": f"FEATURE,WEIGHT with FEATURE one of {'/'.join(directives.MUSIC_FEATURES)}, WEIGHT 0..2",
}
"""Directive kind → its form in words (the kinds `directives.canonical` parses)."""


def _fmt(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def control(default: Any, kind: str, help: str, **spec: Any) -> Any:
    """A dataclass field whose metadata holds the `Control` describing it."""
    return field(default=default, metadata={"control": Control(kind, help, **spec)})


@dataclass(frozen=True)
class Controls:
    """User settings; constructing one validates it (`OptionError` naming the bad option)."""

    seed: int = control(0, "int", "random seed; the same seed gives the same music", low=0, high=2**32 - 1)
    key: str | None = control(None, "key", "musical key such as 'A minor' or 'Eb major'; none = chosen from the video",
                              nullable=True, metavar="KEY")
    mode: str = control("auto", "str", "major or minor; auto = from the video's mood and brightness",
                        choices=MODE_CHOICES)
    tempo: float | None = control(None, "float", "lock the tempo to this many BPM (cuts are then not chased)",
                                  low=40, high=220, nullable=True, metavar="BPM")
    tempo_min: float = control(60.0, "float", "slowest tempo the engine may choose, BPM", low=40, high=220,
                               metavar="BPM")
    tempo_max: float = control(160.0, "float", "fastest tempo the engine may choose, BPM", low=40, high=220,
                               metavar="BPM")
    energy: float = control(1.0, "float", "scale of the music's dynamics and intensity (note velocities, drums); 1 = as analysed; the overall level is --loudness", low=0, high=2)
    instruments: str = control("auto", "str", "instrument preset; auto = chosen from the video's mood",
                               choices=INSTRUMENT_CHOICES)
    weight_emotion: float = control(1.0, "float", "influence of the video's emotion on key, chords and energy",
                                    low=0, high=2, group="weights")
    weight_motion: float = control(1.0, "float", "influence of motion on tempo, note density and accents",
                                   low=0, high=2, group="weights")
    weight_cuts: float = control(1.0, "float", "how hard beats and chord changes chase the cuts",
                                 low=0, high=2, group="weights")
    weight_colour: float = control(1.0, "float", "influence of colour and brightness on key and mode",
                                   low=0, high=2, group="weights")
    hits: str | None = control(None, "hits", "hit points: moments that land on a downbeat with a chord change "
                               "and a drum/orchestral hit, e.g. '12.3,1:05.5'", nullable=True, metavar="TIMES",
                               group="directing")
    ignore_cuts: str | None = control(None, "times", "detected cuts to leave unmarked: every cut within "
                                      f"{directives.fmt(directives.IGNORE_TOLERANCE)} s of one of these times is "
                                      "dropped, e.g. '20.1'", nullable=True, metavar="TIMES", group="directing")
    intensity: str | None = control(None, "keyframes", "intensity keyframes 'SECONDS:LEVEL,...' (or a CSV file of "
                                    "time,level rows), linear between keyframes, flat outside them; replaces the "
                                    "density and energy read from the video (--energy still scales it), e.g. "
                                    "'0:0.3,20:1.0,35:0.4'", nullable=True, metavar="KEYFRAMES", group="directing")
    sections: str | None = control(None, "sections", "name and place the sections (each start moves to the nearest "
                                   "bar line), e.g. '0:intro,8:build,24:climax,40:outro'", nullable=True,
                                   metavar="MARKS", group="directing")
    video_control: str | None = control(None, "video_control", "scale one feature's influence in one shot (index "
                                        "from the cut detection, or *) and one region of its key frame (or *), "
                                        "e.g. '1,*,motion,0'; repeatable; the --weight-* flags are the '*,*' case",
                                        nullable=True, metavar="SHOT,REGION,FEATURE,WEIGHT", group="directing",
                                        repeat=True)
    music_control: str | None = control(None, "music_control", "how far one musical feature follows the picture: "
                                        "pitch (melody contour and register), rhythm (note density against motion), "
                                        "dynamics (loudness against arousal), e.g. 'rhythm,0'; repeatable",
                                        nullable=True, metavar="FEATURE,WEIGHT", group="directing", repeat=True)
    primer: str | None = control(None, "progression", "chords to open with, e.g. 'C Am F G'", nullable=True,
                                 metavar="CHORDS")
    original_gain: float = control(0.0, "float", "level of the video's own audio under the music (linear)",
                                   low=0, high=1, group="output")
    loudness: float = control(-14.0, "float", "target loudness of the music, LUFS", low=-30, high=-6,
                              metavar="LUFS", group="output")
    soundfont: str = control("auto", "soundfont", "SoundFont to render with: auto = $CUESCORE_SOUNDFONT, else the "
                             "best installed General MIDI bank (apt-get install fluid-soundfont-gm), else the "
                             "bundled one; bundled = the small bundled bank; or a .sf2/.sf3 path",
                             metavar="SF2", group="output")

    def __post_init__(self) -> None:
        for name, spec in CONTROLS.items():
            object.__setattr__(self, name, _convert(name, spec, getattr(self, name)))
        if self.tempo_min > self.tempo_max:
            raise OptionError(f"tempo_min {_fmt(self.tempo_min)} is above tempo_max {_fmt(self.tempo_max)}; "
                              "swap them")
        if self.key is not None and self.mode != "auto" and _key(self.key).mode != self.mode:
            raise OptionError(f"key '{self.key}' contradicts mode '{self.mode}'; give only one of them")

    @classmethod
    def from_options(cls, **options: Any) -> "Controls":
        """Validated controls from keyword options (strings as typed on a command line are
        converted); a None value means "the default"."""
        unknown = sorted(set(options) - set(CONTROLS))
        if unknown:
            raise OptionError(f"unknown option '{unknown[0]}'; known options: {', '.join(CONTROLS)}")
        return cls(**{k: v for k, v in options.items() if v is not None})

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> "Controls":
        """Controls from an argparse namespace built with `add_control_arguments`."""
        return cls.from_options(**{k: v for k, v in vars(namespace).items() if k in CONTROLS})

    def replace(self, **changes: Any) -> "Controls":
        """A validated copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    @property
    def key_value(self) -> Key | None:
        """The fixed key, or None when the engine chooses."""
        return None if self.key is None else _key(self.key)

    @property
    def primer_chords(self) -> list[Chord]:
        return [] if self.primer is None else _progression(self.primer)

    @property
    def bpm_range(self) -> tuple[float, float]:
        """(lowest, highest) tempo in BPM; a locked tempo gives (tempo, tempo)."""
        return (self.tempo, self.tempo) if self.tempo is not None else (self.tempo_min, self.tempo_max)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTROLS}

    @property
    def hit_times(self) -> tuple[float, ...]:
        """Hit points, seconds, sorted."""
        return () if self.hits is None else directives.parse_hits(self.hits)

    @property
    def ignored_cuts(self) -> tuple[float, ...]:
        """Times near which detected cuts are dropped, seconds."""
        return () if self.ignore_cuts is None else directives.parse_times(self.ignore_cuts)

    @property
    def intensity_keyframes(self) -> tuple[tuple[float, float], ...]:
        """(time s, level 0-1) keyframes; empty when the video sets the intensity."""
        return () if self.intensity is None else directives.parse_keyframes(self.intensity)

    @property
    def section_marks(self) -> tuple[tuple[float, str], ...]:
        """(start s, label) of user-placed sections; empty when the engine places them."""
        return () if self.sections is None else directives.parse_sections(self.sections)

    @property
    def video_controls(self) -> tuple[directives.VideoControl, ...]:
        """Per-shot/per-region feature weights, in the order given."""
        return () if self.video_control is None else directives.parse_video_controls(self.video_control)

    def music_weight(self, feature: str) -> float:
        """The --music-control weight of `feature` (pitch, rhythm or dynamics); 1 when not given."""
        given = {} if self.music_control is None else directives.parse_music_controls(self.music_control)
        return given.get(feature, 1.0)

    def check_duration(self, duration: float) -> None:
        """`OptionError` naming the first hit, ignored cut, keyframe or section start outside a video
        of `duration` seconds (hits and section starts must lie before its end)."""
        times = [("hits", t, False) for t in self.hit_times] + [("ignore_cuts", t, True) for t in self.ignored_cuts]
        times += [("intensity", t, True) for t, _ in self.intensity_keyframes]
        times += [("sections", t, False) for t, _ in self.section_marks]
        for name, t, end_ok in times:
            if t > duration or (t == duration and not end_ok) or (name == "hits" and t <= 0):
                span = (f"0..{duration:.2f} s" if end_ok else
                        f"{'after 0 and' if name == 'hits' else 'from 0 to'} before {duration:.2f} s")
                raise OptionError(f"option {name}: {_fmt(t)} s is outside the video; allowed: {span}")


CONTROLS: dict[str, Control] = {f.name: f.metadata["control"] for f in fields(Controls)}
"""Name → `Control`, in table order."""

DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Controls)}


def _bad(name: str, value: Any, spec: Control, why: str = "") -> OptionError:
    reason = f" ({why})" if why else ""
    return OptionError(f"option {name}: {value!r} is not allowed{reason}; allowed: {spec.allowed()}")


def _number(name: str, spec: Control, value: Any) -> float | int:
    cast: Callable[[Any], Any] = int if spec.kind == "int" else float
    if isinstance(value, bool):
        raise _bad(name, value, spec)
    try:
        number = cast(value.strip()) if isinstance(value, str) else value
        if spec.kind == "int" and not float(number).is_integer():
            raise ValueError
        number = cast(number)
    except (TypeError, ValueError):
        raise _bad(name, value, spec, f"not {'an integer' if spec.kind == 'int' else 'a number'}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise _bad(name, value, spec)
    if not spec.low <= number <= spec.high:
        raise _bad(name, value, spec)
    return number


def _convert(name: str, spec: Control, value: Any) -> Any:
    """The value converted to the control's type; `OptionError` if it does not fit."""
    if spec.repeat and isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value) if value else None
    if spec.nullable and (value is None or isinstance(value, str) and value.strip().lower() in ("", "none", "auto")):
        return None
    if spec.kind in ("int", "float"):
        return _number(name, spec, value)
    if not isinstance(value, (str, os.PathLike)):
        raise _bad(name, value, spec, "not text")
    text = os.fspath(value).strip()
    if spec.choices:
        if text.lower() not in spec.choices:
            raise _bad(name, value, spec)
        return text.lower()
    if spec.kind == "key":
        try:
            return _key(text).name
        except ValueError:
            raise _bad(name, value, spec) from None
    if spec.kind == "progression":
        try:
            chords = _progression(text)
        except ValueError as exc:
            raise _bad(name, value, spec, str(exc)) from None
        if any(c.is_none for c in chords):
            raise _bad(name, value, spec, "N is not a chord")
        return " ".join(c.label for c in chords)
    if spec.kind in _DIRECTIVE_FORMS:
        try:
            return directives.canonical(spec.kind, text)
        except ValueError as exc:
            raise _bad(name, value, spec, str(exc)) from None
    if spec.kind == "soundfont" and text.lower() in ("auto", "bundled", ""):
        return text.lower() or "auto"
    if spec.kind in ("path", "soundfont") and not os.path.isfile(text):
        raise _bad(name, value, spec, "no such file")
    if not text:
        raise _bad(name, value, spec, "empty")
    return text


GROUP_TITLES = {
    "music": "music", "weights": "feature weights (0 = off, 1 = as analysed, 2 = double)",
    "output": "output", "directing": "directing the music (see README: Directing the music)",
}
"""Control group → its title (argparse groups in --help, sections of the web page)."""


def add_control_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add `--seed`, `--key`, ... (one per control, grouped) to `parser`.

    Every argument defaults to None so that `Controls.from_namespace` keeps the table's default
    for what the user did not give; --help shows the table's default and range.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, spec in CONTROLS.items():
        if spec.group not in groups:
            groups[spec.group] = parser.add_argument_group(GROUP_TITLES[spec.group])
        group = groups[spec.group]
        default = DEFAULTS[name]
        shown = "none" if default is None else _fmt(default) if isinstance(default, (int, float)) else default
        metavar = None if spec.choices else spec.metavar or ("N" if spec.kind in ("int", "float") else "VALUE")
        group.add_argument(
            f"--{name.replace('_', '-')}", dest=name, default=None, metavar=metavar,
            action="append" if spec.repeat else "store",
            choices=spec.choices or None, type=str.lower if spec.choices else str,
            help=f"{spec.help} (default: {shown}; {spec.allowed()})".replace("%", "%%"),
        )
    return parser


def _key(text: str) -> "Key":
    """`Key.parse(text)` (music theory is imported on first use, keeping `--help` light)."""
    from cuescore.music.plan import Key

    return Key.parse(text)


def _progression(text: str) -> "list[Chord]":
    """`parse_progression(text)`, imported on first use."""
    from cuescore.music.chords import parse_progression

    return parse_progression(text)
