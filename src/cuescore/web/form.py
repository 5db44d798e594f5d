"""The page's settings, generated from the library's declarations so page and CLI cannot disagree.

Every `Controls` field becomes one input built from its `Control` metadata (choices → dropdown,
bounded numbers → slider or number box, anything else → a text box read by the same converter as
the command line); every option an offered engine declares (`engines.catalog.EngineOption`)
becomes one input in that engine's group. Settings that name files on the server (kind "path",
and a SoundFont path) are the operator's: the page offers only "auto"/"bundled" SoundFonts and
the engines' path options come from `cuescore serve`'s own flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from cuescore.controls import CONTROLS, DEFAULTS, Control, Controls
from cuescore.engines.catalog import CATALOG, EngineInfo, EngineOption
from cuescore.errors import CuescoreError, OptionError
from cuescore.engines.base import get_engine

_SERVER_SOUNDFONTS = ("auto", "bundled")
_SLIDER_SPAN = 1000
"""Bounded numbers whose range is wider than this get a number box instead of a slider."""


def _label(name: str) -> str:
    return name.replace("_", " ")


def _number_input(name: str, kind: str, default: Any, help: str, low: float | None, high: float | None) -> gr.Component:
    step = 1 if kind == "int" else 0.01
    if low is not None and high is not None and high - low <= _SLIDER_SPAN:
        return gr.Slider(low, high, value=default, step=step, label=_label(name), info=help)
    return gr.Number(value=default, minimum=low, maximum=high, precision=0 if kind == "int" else None,
                     label=_label(name), info=help)


def control_input(name: str, spec: Control) -> gr.Component | None:
    """The page's input for control `name` (None for server file paths, which are the operator's)."""
    default = DEFAULTS[name]
    if spec.kind == "path":
        return None
    if spec.kind == "soundfont":
        return gr.Dropdown(list(_SERVER_SOUNDFONTS), value=default if default in _SERVER_SOUNDFONTS else "auto",
                           label=_label(name), info="SoundFont that renders the score: auto = the best installed "
                           "General MIDI bank; bundled = the small bundled bank")
    if spec.choices:
        return gr.Dropdown(list(spec.choices), value=default, label=_label(name), info=spec.help)
    if spec.kind in ("int", "float") and not spec.nullable:
        return _number_input(name, spec.kind, default, spec.help, spec.low, spec.high)
    return gr.Textbox(value="" if default is None else str(default), label=_label(name),
                      info=f"{spec.help} ({spec.allowed()})", placeholder="none" if spec.nullable else None)


def option_input(engine: str, option: EngineOption) -> gr.Component | None:
    """The page's input for an engine option (None for path options, which `cuescore serve` sets)."""
    if option.kind == "path":
        return None
    label = f"{engine}: {_label(option.name)}"
    if option.kind == "bool":
        return gr.Checkbox(value=bool(option.default), label=label, info=option.help)
    if option.choices:
        return gr.Dropdown(list(option.choices), value=option.default, label=label, info=option.help)
    if option.kind in ("int", "float") and not option.nullable:
        return _number_input(label, option.kind, option.default, option.help, option.low, option.high)
    return gr.Textbox(value="" if option.default is None else str(option.default), label=label, info=option.help,
                      placeholder="none" if option.nullable else None)


def available_engines(server_options: dict[str, Any]) -> dict[str, EngineInfo]:
    """The engines this server can run: their packages are installed and they build with the
    operator's path options (a checkpoint, a music model); others are not offered."""
    offered = {}
    for name, info in CATALOG.items():
        if info.missing() or _lacks_model(info, server_options):
            continue
        try:
            get_engine(name, Controls(), **engine_server_options(info, server_options))
        except CuescoreError:
            continue
        offered[name] = info
    return offered


def _lacks_model(info: EngineInfo, server_options: dict[str, Any]) -> bool:
    """True for an engine that reads model files (it declares path options defaulting to None) when
    the operator gave none of them: it cannot run, and building it just to hear so would import torch."""
    paths = [o.name for o in info.options if o.kind == "path" and o.default is None]
    return bool(paths) and all(server_options.get(name) is None for name in paths)


def engine_server_options(info: EngineInfo, server_options: dict[str, Any]) -> dict[str, Any]:
    """The operator's options (from `cuescore serve`'s flags) that engine `info` declares."""
    return {k: v for k, v in server_options.items() if v is not None and info.option(k) is not None}


@dataclass
class SettingsForm:
    """The generated inputs: `inputs` in the order the job function receives their values."""

    engines: dict[str, EngineInfo]
    server_options: dict[str, Any]
    controls: dict[str, gr.Component] = field(default_factory=dict)
    options: dict[tuple[str, str], gr.Component] = field(default_factory=dict)
    groups: dict[str, gr.Group] = field(default_factory=dict)

    @property
    def inputs(self) -> list[gr.Component]:
        """The controls in table order (as `cuescore generate --help` lists them), then the engine options."""
        return [*(self.controls[n] for n in CONTROLS if n in self.controls), *self.options.values()]

    def render_controls(self, names: list[str]) -> None:
        """One input per named `Controls` field, in the given order (call inside a Blocks layout)."""
        for name in names:
            component = control_input(name, CONTROLS[name])
            if component is not None:
                self.controls[name] = component

    def render_options(self, selected: str) -> None:
        """One group of inputs per offered engine, visible only while that engine is selected."""
        for engine, info in self.engines.items():
            with gr.Group(visible=engine == selected) as group:
                for option in info.options:
                    component = option_input(engine, option)
                    if component is not None:
                        self.options[(engine, option.name)] = component
            self.groups[engine] = group

    def read(self, engine: str, values: list[Any]) -> tuple[Controls, dict[str, Any]]:
        """(Controls, engine options) from the values of `inputs`; OptionError as on the command line."""
        if engine not in self.engines:
            raise OptionError(f"engine '{engine}' is not offered here; choose one of: {', '.join(self.engines)}")
        given = dict(zip([*(n for n in CONTROLS if n in self.controls), *self.options], values))
        controls = Controls.from_options(**{name: _no_server_file(name, _blank(given[name])) for name in self.controls})
        options = {name: _blank(value) for (owner, name), value in
                   ((key, given[key]) for key in self.options) if owner == engine}
        options.update(engine_server_options(self.engines[engine], self.server_options))
        return controls, options


def _no_server_file(name: str, value: Any) -> Any:
    """`value` unless it names a file on the server: text controls that read a file on the command line
    (keyframes from a CSV) are given inline on the page, so no page user can make the server open a path."""
    if isinstance(value, str) and (os.sep in value or os.path.exists(value.strip())):
        raise OptionError(f"{_label(name)}: give the values inline (e.g. 0:0.3,20:1.0); files are read only by "
                          "the command line")
    return value


def _blank(value: Any) -> Any:
    """An empty text box means "the default" (None), as a flag left out on the command line."""
    return None if isinstance(value, str) and not value.strip() else value
