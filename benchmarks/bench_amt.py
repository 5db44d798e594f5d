"""AMT speed: chord generation with and without the key/value cache, and training throughput.

    python benchmarks/bench_amt.py [--seconds 300] [--size paper] [--batch-size 2] [--steps 3] [--threads N]

Generation writes one chord per second of a 300 s video with the paper-size model (random
weights; the speed does not depend on them), three ways in the same run:
  cached      `generate_chords` with the key/value cache (video encoded once, one decoder step per chord)
  uncached    the decoder recomputed over the whole prefix at every step (video encoded once)
  full        Video2Music's loop: the full forward pass (encoder included) at every step
Training throughput is sequences (of `--seconds` seconds) per second for forward + backward +
Adam with the AMT loss, on the CPU and, when torch sees one, on the GPU (bf16 autocast).
Prints markdown table rows.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from cuescore.models.amt import AMTConfig, ChordTransformer, generate_chords
from cuescore.training.distributed import ADAM_BETAS, ADAM_EPS, autocast
from cuescore.training.losses import amt_loss

VIDEO_DIM = 768 + 2 + 6  # CLIP ViT-L/14@336 + scene offset + motion + 6 emotions


def _model(size: str, seconds: int, device: torch.device) -> ChordTransformer:
    torch.manual_seed(0)
    return ChordTransformer(AMTConfig.sized(size, video_dim=VIDEO_DIM, max_len=seconds)).to(device)


@torch.no_grad()
def _full_loop(model: ChordTransformer, video: torch.Tensor, T: int) -> list[int]:
    """Greedy decoding by the full forward pass (encoder and decoder) at every step."""
    out = [1]
    mode = torch.zeros(1, dtype=torch.long)
    while len(out) < T:
        logits = model(torch.tensor([out]), mode, video[None])[0, -1]
        logits[0] = logits[157:] = float("-inf")
        out.append(int(logits.argmax()))
    return out


def bench_generation(size: str, seconds: int, full: bool) -> list[tuple[str, str, float]]:
    model = _model(size, seconds, torch.device("cpu")).eval()
    video = torch.randn(seconds, VIDEO_DIM)
    generate_chords(model, video[:8], "major", length=8, temperature=0)  # warm-up
    rows, times = [], {}
    for name, cache in (("cached", True), ("uncached", False)):
        start = time.perf_counter()
        tokens = generate_chords(model, video, "major", temperature=0, max_repeat=0, no_n=False, use_cache=cache)
        times[name] = time.perf_counter() - start
        assert len(tokens) == seconds
        rows.append((f"generate {seconds} chords, {name}", "s", times[name]))
    if full:
        start = time.perf_counter()
        _full_loop(model, video, seconds)
        times["full"] = time.perf_counter() - start
        rows.append((f"generate {seconds} chords, full forward per step (Video2Music)", "s", times["full"]))
    rows.append(("cache speed-up vs uncached decoder", "x", times["uncached"] / times["cached"]))
    if full:
        rows.append(("cache speed-up vs full forward per step", "x", times["full"] / times["cached"]))
    return rows


def bench_training(size: str, seconds: int, batch: int, steps: int, device: torch.device) -> float:
    """Sequences per second for training steps on random data."""
    model = _model(size, seconds, device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=ADAM_BETAS, eps=ADAM_EPS, foreach=True)
    precision = "bf16" if device.type == "cuda" else "fp32"
    x = torch.randint(0, 157, (batch, seconds - 1), device=device)
    tgt = torch.randint(0, 157, (batch, seconds - 1), device=device)
    mode = torch.randint(0, 2, (batch,), device=device)
    video = torch.randn(batch, seconds, VIDEO_DIM, device=device)
    emotion = torch.softmax(torch.randn(batch, seconds - 1, 6, device=device), dim=-1)

    def step() -> None:
        with autocast(device, precision):
            loss = amt_loss(model(x, mode, video), tgt, emotion)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300, help="chords to generate / sequence length (s)")
    parser.add_argument("--size", default="paper", help="model size: paper, small, debug")
    parser.add_argument("--batch-size", type=int, default=2, help="training batch (sequences)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-full", action="store_true", help="skip the slow full-forward-per-step baseline")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__}, model size {args.size}, {args.seconds} s sequences\n")
    print("| benchmark | device | value | unit |\n|---|---|---|---|")
    for name, unit, value in bench_generation(args.size, args.seconds, not args.no_full):
        print(f"| {name} | {cpu} | {value:.2f} | {unit} |")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for dev in devices:
        label = cpu if dev.type == "cpu" else f"GPU {torch.cuda.get_device_name(dev)} (bf16)"
        steps = args.steps if dev.type == "cpu" else max(args.steps, 20)
        rate = bench_training(args.size, args.seconds, args.batch_size, steps, dev)
        print(f"| training, batch {args.batch_size} | {label} | {rate:.2f} | sequences/s |")


if __name__ == "__main__":
    main()
