"""What each engine is and which options it takes, declared without importing the engine.

`CATALOG` maps an engine name to its `EngineInfo`: the class to import (as "module:Class"),
a one-line description, the packages it needs and its `EngineOption`s. The registry validates
options against this table and the CLI builds its engine flags from it, so an option cannot
exist in an engine and be missing on the command line. This module imports only the standard
library: building `cuescore generate --help` from it loads no numpy, OpenCV or torch.

An option several engines declare (`device`, `checkpoint`, `top_k`, `temperature`) is one flag
with one meaning; engines may give it different defaults.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from cuescore.errors import OptionError

OPTION_KINDS = ("int", "float", "str", "bool", "path")


@dataclass(frozen=True)
class EngineOption:
    """One engine setting. kind: int, float, str, bool (a switch) or path (an existing file or
    folder, or a name the engine resolves); `low`/`high` bound numbers; `choices` limit strings;
    `nullable` options accept None ("none" on the command line)."""

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    metavar: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"option {self.name}: kind must be one of {OPTION_KINDS}, got {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, value: Any, engine: str) -> Any:
        """`value` (a Python value or command-line text) in this option's type; OptionError naming
        the flag and what is allowed when it does not fit."""
        if self.nullable and (value is None or isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise self._bad(value, engine, "true or false")
        if self.kind in ("int", "float"):
            return self._number(value, engine)
        text = str(value).strip() if isinstance(value, str) or hasattr(value, "__fspath__") else None
        if not text:
            raise self._bad(value, engine, "non-empty text")
        if self.choices and text.lower() not in self.choices:
            raise self._bad(value, engine, "one of " + ", ".join(self.choices))
        return text.lower() if self.choices else text

    def _number(self, value: Any, engine: str) -> float | int:
        wanted = "an integer" if self.kind == "int" else "a number"
        if isinstance(value, bool):
            raise self._bad(value, engine, wanted)
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise self._bad(value, engine, wanted) from None
        if not math.isfinite(number) or (self.kind == "int" and not number.is_integer()):
            raise self._bad(value, engine, wanted)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise self._bad(value, engine, f"{_fmt(self.low)}..{_fmt(self.high)}")
        return int(number) if self.kind == "int" else number

    def _bad(self, value: Any, engine: str, allowed: str) -> OptionError:
        return OptionError(f"engine {engine}: {self.flag} {value!r} is not allowed; allowed: {allowed}")


def _fmt(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


@dataclass(frozen=True)
class EngineInfo:
    """An engine's declaration: `target` is "module:Class"; `requires` lists the importable
    packages it needs (`install_hint` says how to get them)."""

    name: str
    target: str
    description: str
    options: tuple[EngineOption, ...] = ()
    requires: tuple[str, ...] = ()
    install_hint: str = ""

    def option(self, name: str) -> EngineOption | None:
        return next((o for o in self.options if o.name == name), None)

    def missing(self) -> list[str]:
        """The required packages that are not installed."""
        return [pkg for pkg in self.requires if find_spec(pkg) is None]


_DEVICE = EngineOption("device", "str", "auto", "where learned models run: auto (a GPU when there is one), cpu or cuda",
                       choices=("auto", "cpu", "cuda"))
_CHECKPOINT = EngineOption("checkpoint", "path", None, "checkpoint folder: for amt from `cuescore train amt` or "
                           "`cuescore convert` (or 'debug'); for codec from `cuescore train codec` or `cuescore "
                           "convert vidmuse`; for guided --planner amt, an amt one", nullable=True, metavar="PATH")
_MUSIC_MODEL = EngineOption("music_model", "path", None, "MusicGen folder or hub id in the local Hugging Face cache "
                            "(codec: e.g. facebook/musicgen-small, with --checkpoint a local copy of its music model; "
                            "guided: a MusicGen-melody, e.g. facebook/musicgen-melody)", nullable=True, metavar="MODEL")
_PROMPT = EngineOption("prompt", "str", None, "text for the music model, e.g. 'lo-fi hip hop with vinyl crackle'",
                       nullable=True, metavar="TEXT")
_TEMPERATURE = EngineOption("temperature", "float", 1.0, "sampling temperature; 0 = always the likeliest token",
                            low=0, high=3)

CATALOG: dict[str, EngineInfo] = {
    "affective": EngineInfo(
        "affective", "cuescore.engines.affective:AffectiveEngine",
        "rules from the video's mood, motion, colour and cuts; needs no weights (default)"),
    "amt": EngineInfo(
        "amt", "cuescore.engines.amt:AMTEngine",
        "Video2Music's Affective Multimodal Transformer writes one chord per second (needs --checkpoint from "
        "`cuescore train amt` or `cuescore convert video2music`)",
        options=(
            _CHECKPOINT,
            EngineOption("top_k", "int", 0, "sample among the k likeliest tokens; 0 = all", low=0, high=4096,
                         metavar="K"),
            _TEMPERATURE,
            EngineOption("allow_n", "bool", False, "let the model write N (no chord), which Video2Music forbids"),
            EngineOption("max_repeat", "int", 2, "most seconds in a row one chord may be sampled; 0 = no limit",
                         low=0, high=3600, metavar="N"),
            _DEVICE,
        ),
        requires=("torch", "safetensors"), install_hint="pip install torch safetensors"),
    "codec": EngineInfo(
        "codec", "cuescore.engines.codec:CodecEngine",
        "a MusicGen language model writes the audio itself, conditioned on the video (--checkpoint) or on a "
        "caption of it (--music-model alone)",
        options=(
            _MUSIC_MODEL,
            _CHECKPOINT,
            _PROMPT,
            EngineOption("guidance", "float", 3.0, "classifier-free guidance scale; 1 = off", low=0, high=20),
            EngineOption("stride", "float", 29.5, "seconds between the starts of 30 s generation windows",
                         low=1, high=30, metavar="SECONDS"),
            EngineOption("top_k", "int", 250, "sample among the k likeliest tokens; 0 = all", low=0, high=4096,
                         metavar="K"),
            EngineOption("top_p", "float", 0.0, "sample from the smallest set of tokens this likely; 0 = off",
                         low=0, high=1),
            _TEMPERATURE,
            _DEVICE,
        ),
        requires=("torch", "transformers", "safetensors"), install_hint="pip install torch transformers safetensors"),
    "guided": EngineInfo(
        "guided", "cuescore.engines.guided:GuidedEngine",
        "the affective (or amt) engine's plan and score played by MusicGen-melody, conditioned on the score's "
        "chroma and a caption (--music-model, e.g. facebook/musicgen-melody); --mix blends in the SoundFont render",
        options=(
            _MUSIC_MODEL,
            _PROMPT,
            EngineOption("planner", "str", "affective", "what writes the plan and score the neural audio follows "
                         "(amt needs --checkpoint)", choices=("affective", "amt")),
            _CHECKPOINT,
            EngineOption("mix", "float", 1.0, "share of the neural audio in the soundtrack; the rest is the score's "
                         "SoundFont render (0 = the render alone, no generation)", low=0, high=1),
            EngineOption("guidance", "float", 3.0, "classifier-free guidance scale; 1 = off", low=0, high=20),
            EngineOption("top_k", "int", 250, "sample among the k likeliest tokens; 0 = all", low=0, high=4096,
                         metavar="K"),
            _TEMPERATURE,
            _DEVICE,
        ),
        requires=("torch", "transformers", "safetensors"), install_hint="pip install torch transformers safetensors"),
}
"""Engine name → declaration, in the order the CLI lists them."""

DEFAULT_ENGINE = "affective"


def engine_info(name: str) -> EngineInfo:
    """The declaration of engine `name`; OptionError listing the engines for an unknown name."""
    if name not in CATALOG:
        raise OptionError(f"unknown engine '{name}'; choose one of: {', '.join(CATALOG)}")
    return CATALOG[name]


def resolve_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Every option of engine `name`: the given ones validated and converted, the rest at their
    defaults. A None value means "the default". OptionError for an option the engine does not
    take, naming the engines that do."""
    info = engine_info(name)
    resolved = {o.name: o.default for o in info.options}
    for key, value in options.items():
        option = info.option(key)
        if option is None:
            users = [n for n, i in CATALOG.items() if i.option(key) is not None]
            where = f"; it is an option of {', '.join(users)}" if users else ""
            raise OptionError(f"engine {name} takes no option {key.replace('_', '-')!r}{where}")
        if value is not None:
            resolved[key] = option.convert(value, name)
    return resolved


def shared_options() -> dict[str, tuple[EngineOption, list[str]]]:
    """Option name → (its first declaration, the engines that declare it), in catalog order.
    ValueError when two engines declare one name with different kinds (one flag, one meaning)."""
    merged: dict[str, tuple[EngineOption, list[str]]] = {}
    for name, info in CATALOG.items():
        for option in info.options:
            if option.name in merged:
                first, users = merged[option.name]
                if first.kind != option.kind:
                    raise ValueError(f"option {option.name}: {users[0]} declares it {first.kind}, {name} {option.kind}")
                users.append(name)
            else:
                merged[option.name] = (option, [name])
    return merged


def add_engine_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add `--engine` and one flag per engine option (an option several engines declare is one
    flag, whose help names them) to `parser`. Flags default to None: `engine_options_from_namespace`
    passes on only what the user gave."""
    lines = "; ".join(f"{name}: {info.description}" for name, info in CATALOG.items())
    parser.add_argument("--engine", default=DEFAULT_ENGINE, choices=tuple(CATALOG), metavar="NAME",
                        help=f"what writes the music (default: {DEFAULT_ENGINE}) — {lines}".replace("%", "%%"))
    group = parser.add_argument_group("engine options (each applies to the engines named in its help)")
    for name, (option, users) in shared_options().items():
        defaults = {u: CATALOG[u].option(name).default for u in users}
        shown = ", ".join(f"{u} {_shown(d)}" for u, d in defaults.items()) if len(set(map(str, defaults.values()))) > 1 \
            else _shown(option.default)
        allowed = ("; " + ", ".join(option.choices)) if option.choices else \
            (f"; {_fmt(option.low)}..{_fmt(option.high)}" if option.low is not None else "")
        text = f"{option.help} [{', '.join(users)}] (default: {shown}{allowed})".replace("%", "%%")
        if option.kind == "bool":
            group.add_argument(option.flag, dest=name, default=None, action=argparse.BooleanOptionalAction, help=text)
        else:
            group.add_argument(option.flag, dest=name, default=None, metavar=option.metavar or _metavar(option),
                               help=text)
    return parser


def _metavar(option: EngineOption) -> str:
    return "{" + ",".join(option.choices) + "}" if option.choices else option.kind.upper()


def _shown(value: Any) -> str:
    return "none" if value is None else _fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else str(value)


def engine_options_from_namespace(namespace: argparse.Namespace) -> dict[str, Any]:
    """The engine options the user gave on the command line (flags left out are not passed)."""
    given = {name: getattr(namespace, name, None) for name in shared_options()}
    return {name: value for name, value in given.items() if value is not None}
