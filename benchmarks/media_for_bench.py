"""Benchmark inputs: a 60 s 1280x720 h264 clip made from the real clips in ../shared/media
(or from the demo clip when that folder is absent), and long clips made by repeating it with
stream copy (no re-encode)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from cuescore.media import iter_frames, render_demo_clip

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
SHARED_VIDEO = ROOT.parents[1] / "shared" / "media" / "video"
SOURCES = ("testvideo.mp4", "big_buck_bunny_0_30.webm", "0102_0011.mp4")


def clip_720p(seconds: float = 60.0, size: tuple[int, int] = (1280, 720)) -> Path:
    """A `seconds`-long 1280x720 (or `size`) 30 fps h264 clip (CRF 23, preset medium: a typical camera/web encode).

    One slice per frame, as x264 and ffmpeg write by default and as every real clip in
    ../shared/media has. PyAV's encoder defaults to slice threading, which would cut each frame
    into one slice per core and let a plain decode run on several cores (a different workload).
    """
    CACHE.mkdir(exist_ok=True)
    out = CACHE / (f"bench_720p_{int(seconds)}s.mp4" if size == (1280, 720) else f"bench_{size[1]}p_{int(seconds)}s.mp4")
    if out.exists():
        return out
    sources = [SHARED_VIDEO / s for s in SOURCES if (SHARED_VIDEO / s).exists()]
    if not sources:
        sources = [render_demo_clip(CACHE / "demo.mp4").path]
    tmp = out.with_suffix(".part.mp4")
    n = 0
    with av.open(str(tmp), "w") as dst:
        stream = dst.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "23", "preset": "medium"}
        stream.thread_type = "FRAME"
        while n < seconds * 30:
            for src in sources:
                for frame in iter_frames(src, fps=30, size=size):
                    if n >= seconds * 30:
                        break
                    vf = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
                    vf.pts, vf.time_base = n, Fraction(1, 30)
                    dst.mux(stream.encode(vf))
                    n += 1
        dst.mux(stream.encode(None))
    tmp.rename(out)
    return out


def repeat_clip(src: Path, times: int) -> Path:
    """`src` repeated `times` times by copying packets with shifted timestamps."""
    out = CACHE / f"{src.stem}_x{times}.mp4"
    if out.exists():
        return out
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(src)) as probe_c:
        v = probe_c.streams.video[0]
        span = max(p.pts + (p.duration or 0) for p in probe_c.demux(v) if p.pts is not None)
    with av.open(str(tmp), "w") as dst:
        out_v = None
        for k in range(times):
            with av.open(str(src)) as c:
                v = c.streams.video[0]
                out_v = out_v or dst.add_stream_from_template(v)
                for p in c.demux(v):
                    if p.dts is None:
                        continue
                    p.pts += k * span
                    p.dts += k * span
                    p.stream = out_v
                    dst.mux(p)
    tmp.rename(out)
    return out
