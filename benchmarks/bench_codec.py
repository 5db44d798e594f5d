"""Codec engine speed: MusicGen token generation and EnCodec decoding, real-time factor, memory.

    python benchmarks/bench_codec.py [--seconds 4] [--gpu-seconds 30] [--tiny-seconds 70] [--threads N]
                                     [--memory] [--no-small]

Two random models (the speed does not depend on the weights):
  small  musicgen-small's published sizes: decoder 24 layers x 1024 wide, 16 heads, FFN 4096,
         4 codebooks of 2048; EnCodec 32 kHz, 50 frames/s (num_filters 64, ratios 8-5-4-4,
         2 LSTM layers); cross-attention to a 12-token T5-base-wide (768) memory, as a caption gives
  tiny   the test model (2 layers x 32, EnCodec 8 kHz at 10 frames/s, 2 codebooks of 32)
Generation is `generate_codes` (sampling top-k 250, guidance 3, so the decoder runs on a batch of
2) then `decode_codes` (10 s chunks, 1 s cross-fade). Reported: decoder steps (codec frames) per
second, tokens per second (steps x codebooks), the decode's share, and the real-time factor
(seconds of music per second of wall time; > 1 is faster than real time). On a GPU, also at
fp16 and with peak GPU memory. `--memory` generates the tiny model at 60 s and 600 s in child
processes and reports each one's peak RSS (flat apart from the output audio).
Prints markdown table rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cuescore.models.codec_generate import Sampling, audio_geometry, decode_codes, generate_codes  # noqa: E402
from musicgen_fixtures import tiny_musicgen_config  # noqa: E402

SMALL_DECODER = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096, num_codebooks=4,
                     vocab_size=2048, max_position_embeddings=2048, pad_token_id=2048, bos_token_id=2048,
                     decoder_start_token_id=2048, activation_function="gelu")
SMALL_ENCODEC = dict(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, target_bandwidths=[2.2],
                     num_filters=64, hidden_size=128, num_lstm_layers=2, use_causal_conv=False,
                     use_conv_shortcut=False, norm_type="weight_norm", compress=2)
CAPTION_TOKENS = 12


def small_model():
    """A random MusicGen of musicgen-small's sizes (a 1-layer T5 of T5-base's width: only its width
    enters generation, as the cross-attention memory)."""
    from transformers import (EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration,
                              T5Config)

    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=1, num_heads=12)
    config = MusicgenConfig(text_encoder=text, audio_encoder=EncodecConfig(**SMALL_ENCODEC),
                            decoder=MusicgenDecoderConfig(**SMALL_DECODER))
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(config).eval()
    model.generation_config.update(pad_token_id=2048, decoder_start_token_id=2048, bos_token_id=2048)
    return model


def tiny_model():
    from transformers import MusicgenForConditionalGeneration

    config, _ = tiny_musicgen_config()
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(config).eval()
    pad = config.decoder.pad_token_id
    model.generation_config.update(pad_token_id=pad, decoder_start_token_id=pad, bos_token_id=pad)
    return model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run(model, seconds: float, device: torch.device) -> dict[str, float]:
    """Generate and decode `seconds` of music; timings and rates."""
    width = model.config.text_encoder.hidden_size
    memory = torch.randn(1, CAPTION_TOKENS, width, device=device, dtype=model.dtype)
    mask = torch.ones(1, CAPTION_TOKENS, dtype=torch.long, device=device)
    sampling = Sampling(guidance=3.0, top_k=250, seed=0)
    sample_rate, hop = audio_geometry(model)
    _sync(device)
    start = time.perf_counter()
    codes = list(generate_codes(model, lambda s, e: (memory, mask, None, None), seconds, sampling=sampling))
    _sync(device)
    generated = time.perf_counter()
    audio = np.concatenate(list(decode_codes(model, codes, round(seconds * sample_rate))), axis=-1)
    _sync(device)
    done = time.perf_counter()
    frames = sum(c.shape[-1] for c in codes)
    assert audio.shape[-1] == round(seconds * sample_rate)
    return {"steps/s": frames / (generated - start), "tokens/s": frames * codes[0].shape[1] / (generated - start),
            "generate s": generated - start, "decode s": done - generated, "rtf": seconds / (done - start)}


def report(name: str, device_label: str, seconds: float, r: dict[str, float], extra: str = "") -> None:
    print(f"| {name}, {seconds:g} s of music | {device_label} | {r['steps/s']:.1f} | {r['tokens/s']:.0f} | "
          f"{r['generate s']:.2f} | {r['decode s']:.2f} | **{r['rtf']:.3f}** |{extra}", flush=True)


def bench_gpu(seconds: float) -> None:
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    for dtype in (torch.float32, torch.float16):
        model = small_model().to(device, dtype)
        run(model, 2.0, device)  # warm-up
        torch.cuda.reset_peak_memory_stats(device)
        r = run(model, seconds, device)
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        report("small", f"GPU {name} ({str(dtype).split('.')[-1]})", seconds, r, f" peak {peak:.2f} GiB |")
        del model
        torch.cuda.empty_cache()


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB. (`ru_maxrss` would not do in a child:
    Linux carries the parent's peak across fork and exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_rss_child(seconds: float, threads: int) -> tuple[float, float]:
    """Peak RSS (MB) of a child process before and after it generates `seconds` with the tiny model."""
    code = (f"import sys, torch; torch.set_num_threads({threads}); "
            f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import bench_codec as b; "
            "m = b.tiny_model(); print(b.peak_rss_mb()); "
            f"b.run(m, {seconds}, torch.device('cpu')); print(b.peak_rss_mb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.strip().splitlines()[-2:]
    return float(before), float(after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="music generated by the small model on the CPU")
    parser.add_argument("--gpu-seconds", type=float, default=30.0, help="music generated by the small model on a GPU")
    parser.add_argument("--tiny-seconds", type=float, default=70.0, help="music generated by the tiny model")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--memory", action="store_true", help="peak RSS of the tiny model at 60 s and 600 s")
    parser.add_argument("--no-small", action="store_true", help="skip the small model on the CPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, load average {load}\n", flush=True)
    print("| model | device | steps/s | tokens/s | generate s | decode s | real-time factor |")
    print("|---|---|---|---|---|---|---|")
    cpu_dev = torch.device("cpu")
    if args.memory:  # first, while this process is small
        threads = torch.get_num_threads()
        for seconds in (60.0, 600.0):
            before, after = peak_rss_child(seconds, threads)
            audio_mb = seconds * 8000 * 4 / 2**20
            print(f"| tiny, peak RSS generating {seconds:g} s (output audio {audio_mb:.1f} MB) | {cpu} | "
                  f"{before:.0f} MB with the model loaded, {after:.0f} MB after |", flush=True)
    report("tiny", cpu, args.tiny_seconds, run(tiny_model(), args.tiny_seconds, cpu_dev))
    if not args.no_small:
        report("small", cpu, args.seconds, run(small_model(), args.seconds, cpu_dev))
    if torch.cuda.is_available():
        bench_gpu(args.gpu_seconds)


if __name__ == "__main__":
    main()
