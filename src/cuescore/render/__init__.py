"""Score → audio: SoundFont synthesis and mastering (MIDI file writing lives on `Score`)."""

from cuescore.render.banks import SoundFontChoice, find_soundfont
from cuescore.render.master import master
from cuescore.render.synth import available_synths, synthesize

__all__ = ["SoundFontChoice", "available_synths", "find_soundfont", "master", "synthesize"]
