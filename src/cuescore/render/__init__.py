"""Score → audio: SoundFont synthesis and mastering (MIDI file writing lives on `Score`)."""

from cuescore.render.banks import SoundFontChoice, find_soundfont
from cuescore.render.master import master, master_track
from cuescore.render.synth import available_synths, synthesize, synthesize_track

__all__ = ["SoundFontChoice", "available_synths", "find_soundfont", "master", "master_track", "synthesize",
           "synthesize_track"]
