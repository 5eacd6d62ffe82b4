"""Speed of the character-level CNN on this machine: training and inference figures.

Prints training samples/s (float32, and bfloat16 autocast where the CPU computes it natively)
for the shipped architecture at the bundled recipe's input length and the paper's small model at
its own, and inference latency for batches of 1 and 32, end to end (encoding and, for the bundled
pair, the n-gram part included, as the API pays it) and for the CNN's raw forward pass alone, so
what lies outside the forward pass is visible; then encoding alone.

    python bench/model_speed.py [--checkpoint PATH] [--repeats N]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/model_speed.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.common import REVIEW, command_line  # noqa: E402
from brandpulse.model.charcnn import CharCNN  # noqa: E402
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT  # noqa: E402
from brandpulse.model.config import EncoderConfig, model_config_from_preset  # noqa: E402
from brandpulse.model.predictor import Predictor  # noqa: E402
from brandpulse.model.runtime import cpu_has_native_bf16, use_threads  # noqa: E402
from brandpulse.training.recipe import load_recipe  # noqa: E402


def median_ms(function, repeats: int) -> tuple[float, float]:
    """Median and 90th-percentile wall time of `function()` in milliseconds (after a warm-up)."""
    for _ in range(3):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def training_rate(preset: str, max_length: int, bf16: bool, steps: int, batch_size: int = 64) -> float:
    """Training samples per second of one architecture (five classes) at an input length."""
    encoder = EncoderConfig(max_length=max_length)
    model = CharCNN(model_config_from_preset(preset, n_classes=5), encoder).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, encoder.vocab_size, (batch_size, encoder.max_length))
    y = torch.randint(0, 5, (batch_size,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    median, _ = median_ms(step, steps)
    return batch_size / (median / 1000)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = command_line(__doc__, "checkpoint")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per inference figure")
    parser.add_argument("--train-steps", type=int, default=8, help="timed steps per training figure")
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    args = parser.parse_args(argv)
    threads = use_threads(args.threads)
    out = sys.stdout
    out.write(f"torch {torch.__version__}, {threads} threads\n\n")

    predictor = Predictor.from_checkpoint(args.checkpoint or BUNDLED_CHECKPOINT)
    out.write(
        f"inference: {predictor.version} ({sum(p.numel() for p in predictor.model.parameters()):,} "
        f"parameters), text of {len(REVIEW)} characters\n"
    )
    out.write(
        f"{'batch':>5}  {'precision':>9}  {'end to end p50/p90 ms':>22}  "
        f"{'forward only p50/p90 ms':>24}  {'outside forward':>15}\n"
    )
    precisions = (False, True) if cpu_has_native_bf16() else (False,)
    if len(precisions) == 1:
        out.write(
            "(bf16 autocast not timed: this CPU has no native bfloat16, emulating it is many times slower)\n"
        )
    for batch in (1, 32):
        texts = [REVIEW] * batch
        indices = predictor.encoder.encode_batch(texts)
        for bf16 in precisions:
            predictor.bf16 = bf16
            end_to_end = median_ms(lambda texts=texts: predictor.predict(texts), args.repeats)
            autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
            with torch.inference_mode(), autocast:
                forward = median_ms(lambda indices=indices: predictor.model(indices), args.repeats)
            share = max(0.0, 1 - forward[0] / end_to_end[0])
            out.write(
                f"{batch:>5}  {'bf16' if bf16 else 'float32':>9}  {end_to_end[0]:>10.2f} / "
                f"{end_to_end[1]:<9.2f}  {forward[0]:>11.2f} / {forward[1]:<10.2f}  {share:>14.0%}\n"
            )
    predictor.bf16 = False
    encode_one = median_ms(lambda: predictor.encoder.encode(REVIEW), args.repeats)
    out.write(f"encoding one text alone: {encode_one[0] * 1000:.0f} µs\n\n")

    recipe = load_recipe()["cnn"]
    out.write("training, batch 64 (samples/s)\n")
    out.write(f"{'architecture':>12}  {'characters':>10}  {'float32':>8}  {'bf16':>8}\n")
    for preset, length in ((recipe["arch"], recipe["max_length"]), ("small", 1014)):
        fp32 = training_rate(preset, length, bf16=False, steps=args.train_steps)
        bf16 = (
            training_rate(preset, length, bf16=True, steps=args.train_steps) if True in precisions else None
        )
        shown = f"{bf16:>8.0f}" if bf16 is not None else f"{'-':>8}"
        out.write(f"{preset:>12}  {length:>10}  {fp32:>8.0f}  {shown}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
