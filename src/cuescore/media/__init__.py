"""Media I/O with PyAV: probe, streaming decode, audio arrays, muxing and the demo clip."""

from cuescore.media.audio import Audio, read_audio_track, write_wav
from cuescore.media.decode import Frame, fit_size, iter_frames
from cuescore.media.democlip import DemoClip, Scene, render_demo_clip
from cuescore.media.frames import frames_at, spread_frames, window_frames
from cuescore.media.mux import mux
from cuescore.media.probe import VideoInfo, probe

__all__ = [
    "Audio", "DemoClip", "Frame", "Scene", "VideoInfo",
    "fit_size", "frames_at", "iter_frames", "mux", "probe", "read_audio_track", "render_demo_clip",
    "spread_frames", "window_frames", "write_wav",
]
