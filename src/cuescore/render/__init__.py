"""Score → audio: SoundFont synthesis and mastering (MIDI file writing lives on `Score`)."""

from cuescore.render.master import master
from cuescore.render.synth import available_synths, synthesize

__all__ = ["available_synths", "master", "synthesize"]
