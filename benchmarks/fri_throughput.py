"""FRI crop throughput vs plain batched inference of the same model, same device, same run.

    python benchmarks/fri_throughput.py [--model mvgg8|CKPT] [--size 48] [--side-ratio 0.7] [--device cpu]
                                        [--compile]

Prints crops/s of ``model_eval.fri.maps.classify_crops`` (cut + resize on the device + classify), images/s
of plain inference on already-sized batches, and their ratio (target >= 0.8); also the rate of the cut
and resize alone (one ``roi_align`` per batch) and the seconds one whole map takes. ``--compile`` runs
the network through ``torch.compile`` in both measurements (worth it on CUDA; bf16 autocast and
channels-last are always on there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from model_eval.fri.maps import classify_crops, extract_crops
from model_eval.nets.checkpoint import Classifier, build_members, load_checkpoint
from model_eval.nets.registry import Preprocessing, get_entry
from model_eval.runtime.device import autocast, pick_device, prepare_model, to_device


def _model(spec: str, device: torch.device) -> Classifier:
    if Path(spec).is_file():
        return load_checkpoint(spec, device=device).classifier
    entry = get_entry(spec)
    size = entry.preprocessing.input_size
    pre = Preprocessing(
        size,
        entry.preprocessing.mean * (3 // len(entry.preprocessing.mean)),
        entry.preprocessing.std * (3 // len(entry.preprocessing.std)),
    )
    torch.manual_seed(0)
    return Classifier(build_members(spec, 1, num_classes=43, in_channels=3, input_size=size), pre).eval()


def _measure(fns: dict, rounds: int, min_seconds: float) -> dict[str, float]:
    """Median rate of each function over ``rounds`` alternating rounds (fair under a shared, noisy CPU)."""
    for fn in fns.values():
        fn()  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < min_seconds:
                n += fn()
            rates[key].append(n / (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in rates.items()}


def measure(
    model_spec: str,
    *,
    size: int = 48,
    side_ratio: float = 0.7,
    batch_size: int = 512,
    seconds: float = 2.0,
    rounds: int = 5,
    device: torch.device | None = None,
    compile_model: bool = False,
    compile_beside: bool = False,
) -> dict[str, float]:
    """Crops/s of FRI maps and images/s of plain batched inference of the same network, measured in
    alternating rounds of one run. ``compile_model``: the network runs through ``torch.compile`` in both;
    ``compile_beside``: eager and ``torch.compile``d plain inference (and FRI) are measured side by side.

    Returns rates keyed plain, fri, cut (and plain_compiled, fri_compiled), plus n_crops, side, input.
    """
    device = device or pick_device(None)
    model = prepare_model(_model(model_spec, device), device).eval()
    if compile_model:
        model = _compiled(model)
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    side = max(3, round(side_ratio * size))
    n_crops = (size - side + 1) ** 2
    inp = int(model.input_size)
    plain = torch.rand(batch_size, 3, inp, inp, generator=torch.Generator().manual_seed(1))
    plain = to_device(plain, device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run_plain(net: torch.nn.Module) -> int:
        done = 0
        with torch.inference_mode():
            while done < n_crops:  # the same number of images as one FRI map, in the same batch size
                b = min(batch_size, n_crops - done)
                with autocast(device):
                    net(plain[:b]).argmax(1).cpu()
                done += b
        sync()
        return done

    def run_fri(net: torch.nn.Module) -> int:
        classify_crops(net, image, 0, side, batch_size=batch_size, device=device)
        sync()
        return n_crops

    grid = torch.arange(size - side + 1)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    ys, xs = yy.reshape(-1).to(device), xx.reshape(-1).to(device)

    def run_cut() -> int:
        with torch.inference_mode():
            for s in range(0, n_crops, batch_size):
                extract_crops(image, xs[s : s + batch_size], ys[s : s + batch_size], side, inp)
        sync()
        return n_crops

    fns = {"plain": lambda: run_plain(model), "fri": lambda: run_fri(model), "cut": run_cut}
    if compile_beside:
        compiled = _compiled(model)
        fns["plain_compiled"] = lambda: run_plain(compiled)
        fns["fri_compiled"] = lambda: run_fri(compiled)
    rates = _measure(fns, rounds, seconds)
    return {**rates, "n_crops": float(n_crops), "side": float(side), "input": float(inp)}


def _compiled(model: Classifier) -> Classifier:
    compiled = torch.compile(model)
    compiled.input_size = model.input_size  # classify_crops reads the network's input side
    return compiled  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mvgg8", help="architecture name (random weights) or checkpoint file")
    p.add_argument("--size", type=int, default=48, help="side of the analysed image")
    p.add_argument("--side-ratio", type=float, default=0.7, help="region side / image side")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement round")
    p.add_argument("--rounds", type=int, default=5, help="alternating measurement rounds (median)")
    p.add_argument("--device", default=None)
    p.add_argument("--compile", action="store_true", help="torch.compile the network (both measurements)")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    r = measure(
        args.model,
        size=args.size,
        side_ratio=args.side_ratio,
        batch_size=args.batch_size,
        seconds=args.seconds,
        rounds=args.rounds,
        device=device,
        compile_model=args.compile,
    )
    n_crops = int(r["n_crops"])
    print(
        f"device {device}, model {args.model} (input {int(r['input'])}px), image {args.size}px, "
        f"region side {int(r['side'])}, {n_crops} crops per map, batch {args.batch_size}, "
        f"threads {torch.get_num_threads()}"
    )
    print(f"plain batched inference: {r['plain']:10.1f} images/s")
    print(f"FRI crops (cut+resize+classify): {r['fri']:10.1f} crops/s")
    print(f"cut + resize alone (roi_align): {r['cut']:10.1f} crops/s")
    print(f"one map of {n_crops} crops: {n_crops / r['fri']:.3f} s")
    print(f"ratio FRI / plain: {r['fri'] / r['plain']:.3f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
