"""The controls table: defaults, conversion, one-line validation errors, argparse flags."""

from __future__ import annotations

import argparse

import pytest

from cuescore.controls import (
    CONTROLS, DEFAULTS, INSTRUMENT_CHOICES, INSTRUMENT_PRESETS, Controls, add_control_arguments,
)
from cuescore.errors import OptionError
from cuescore.music.plan import Key


def parser() -> argparse.ArgumentParser:
    return add_control_arguments(argparse.ArgumentParser(prog="cuescore"))


def test_defaults_are_valid_and_documented():
    c = Controls()
    assert c.to_dict() == DEFAULTS
    assert c.seed == 0 and c.key is None and c.mode == "auto" and c.loudness == -14.0
    assert c.bpm_range == (60.0, 160.0)
    for name, spec in CONTROLS.items():
        assert spec.help and spec.allowed(), name
    assert {"seed", "key", "mode", "tempo", "tempo_min", "tempo_max", "energy", "instruments", "weight_emotion",
            "weight_motion", "weight_cuts", "weight_colour", "primer", "original_gain", "loudness",
            "soundfont", "hits", "ignore_cuts", "intensity", "sections", "video_control",
            "music_control"} == set(CONTROLS)


def test_from_options_converts_command_line_text():
    c = Controls.from_options(seed="7", tempo="96", key="Bb major", primer="C, Am | F G7", instruments="Rock",
                              weight_cuts="0", tempo_max=None)
    assert c.seed == 7 and isinstance(c.seed, int)
    assert c.tempo == 96.0 and c.bpm_range == (96.0, 96.0)
    assert c.key_value == Key(10, "major")
    assert [ch.label for ch in c.primer_chords] == ["C", "A:min", "F", "G:7"]
    assert c.instruments == "rock" and c.weight_cuts == 0.0 and c.tempo_max == 160.0


@pytest.mark.parametrize("options, words", [
    ({"seed": -1}, ["seed", "-1", "0..4294967295"]),
    ({"seed": "abc"}, ["seed", "'abc'", "not an integer"]),
    ({"seed": 2.5}, ["seed", "2.5"]),
    ({"energy": 2.5}, ["energy", "2.5", "0..2"]),
    ({"weight_motion": -0.1}, ["weight_motion", "-0.1", "0..2"]),
    ({"loudness": float("nan")}, ["loudness", "nan", "-30..-6"]),
    ({"loudness": -40}, ["loudness", "-40", "-30..-6"]),
    ({"tempo": 300}, ["tempo", "300", "40..220"]),
    ({"tempo_min": 150, "tempo_max": 100}, ["tempo_min", "150", "tempo_max", "100"]),
    ({"mode": "dorian"}, ["mode", "'dorian'", "auto, major, minor"]),
    ({"instruments": "kazoo"}, ["instruments", "'kazoo'", "cinematic"]),
    ({"key": "H minor"}, ["key", "'H minor'", "A minor"]),
    ({"key": "A minor", "mode": "major"}, ["A minor", "major"]),
    ({"primer": "C Xq F"}, ["primer", "Xq"]),
    ({"primer": "C N G"}, ["primer", "N is not a chord"]),
    ({"soundfont": "/no/such/font.sf2"}, ["soundfont", "no such file"]),
    ({"energy": 4}, ["energy", "4", "0..2"]),
    ({"colour_weight": 1}, ["unknown option", "colour_weight", "weight_colour"]),
])
def test_bad_options_raise_one_line_naming_option_value_and_range(options, words):
    with pytest.raises(OptionError) as err:
        Controls.from_options(**options)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_constructor_validates_too():
    with pytest.raises(OptionError, match="original_gain"):
        Controls(original_gain=1.5)
    with pytest.raises(OptionError, match="weight_emotion"):
        Controls().replace(weight_emotion=3)


def test_instrument_presets_are_general_midi():
    for name in INSTRUMENT_CHOICES:  # every choice --help offers is accepted, whatever its case
        assert Controls.from_options(instruments=name.title()).instruments == name
    for name, roles in INSTRUMENT_PRESETS.items():
        assert "keys" in roles and "bass" in roles, name
        assert all(0 <= program <= 127 for program in roles.values()), name
    assert "drums" in INSTRUMENT_PRESETS["rock"] and "drums" not in INSTRUMENT_PRESETS["piano"]


def test_argparse_flags_come_from_the_table():
    p = parser()
    flags = {a.dest for a in p._actions}
    assert set(CONTROLS) <= flags
    ns = p.parse_args(["--seed", "3", "--key", "e minor", "--weight-cuts", "0.5", "--instruments", "Piano",
                       "--primer", "Am F C G", "--loudness", "-18"])
    c = Controls.from_namespace(ns)
    assert (c.seed, c.key, c.weight_cuts, c.instruments, c.loudness) == (3, "E minor", 0.5, "piano", -18.0)
    assert Controls.from_namespace(p.parse_args([])) == Controls()
    text = p.format_help()
    assert "--weight-colour" in text and "--tempo-min" in text and "default: -14" in text and "-30..-6" in text


def test_argparse_rejects_unknown_choice(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--mode", "lydian"])
    assert "invalid choice" in capsys.readouterr().err


def test_keys_are_spelled_as_musicians_write_them():
    from cuescore.music.plan import Key

    spelled = {k: Key.parse(k).name for k in ("Bb minor", "Eb major", "F# minor", "C#m", "Db", "D minor", "A")}
    assert spelled == {"Bb minor": "Bb minor", "Eb major": "Eb major", "F# minor": "F# minor", "C#m": "C# minor",
                       "Db": "Db major", "D minor": "D minor", "A": "A major"}
