"""Latency of `POST /api/predict` through gunicorn on loopback, next to the raw forward pass.

Starts the API under gunicorn exactly as `make run` does (gunicorn_conf, preload, SQLite in a
temporary directory, rate limits off) and sends it the benchmarks' 1,000-character review
(bench/common.py), in two ways:

- paced, one client, as a visitor types (the review page sends at most one request per 250 ms):
  rounds of the CNN's raw forward pass in this process, the whole model (encoding, CNN and the
  n-gram part the bundled checkpoint pools with it: `Predictor.predict_proba`) and one request,
  each after an idle pause, so all three are timed in the same minutes under the same conditions
  (the machine's speed drifts) and none runs while another's OpenMP threads still spin;
- closed loop, back to back, from 1 and from 8 concurrent keep-alive clients: p50/p99 latency
  and requests/s, next to the model timed alone in a tight loop before and after.

    python bench/api_latency.py [--checkpoint PATH] [--requests N] [--workers N] [--rounds N]

MODEL_BF16 and TORCH_THREADS from the environment apply to both the server and the reference
timings.

Without the bundled checkpoint (and without --checkpoint) it times a randomly initialised
model of the shipped architecture (small-bn, 1,014 characters): same cost, meaningless scores.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/api_latency.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.common import REVIEW, command_line, percentile, serve_api, served_model  # noqa: E402
from brandpulse.api.settings import Settings  # noqa: E402
from brandpulse.model.charcnn import CharCNN  # noqa: E402
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, save_checkpoint  # noqa: E402
from brandpulse.model.config import EncoderConfig, model_config_from_preset  # noqa: E402
from brandpulse.model.predictor import Predictor  # noqa: E402


def random_checkpoint(directory: Path) -> Path:
    """A randomly initialised model of the shipped architecture."""
    torch.manual_seed(0)
    model = CharCNN(model_config_from_preset("small-bn"), EncoderConfig()).eval()
    return save_checkpoint(
        directory / "random-small-bn.safetensors",
        model,
        classes=("negative", "positive"),
        info={"architecture": "small-bn-random"},
    )


def model_times_ms(predictor: Predictor, repeats: int) -> tuple[list[float], list[float]]:
    """Times (ms) of the CNN's forward pass alone and of the whole model, `repeats` of each."""
    indices = predictor.encoder.encode_batch([REVIEW])
    forward, whole_model = [], []
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=predictor.bf16)
    with torch.inference_mode(), autocast:
        for _ in range(10):
            predictor.model(indices)
        for _ in range(repeats):
            start = time.perf_counter()
            predictor.model(indices)
            forward.append((time.perf_counter() - start) * 1000)
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict_proba([REVIEW])
        whole_model.append((time.perf_counter() - start) * 1000)
    return forward, whole_model


def paced_rounds(port: int, predictor: Predictor, rounds: int, pause: float) -> dict[str, list[float]]:
    """Times (ms) of the CNN forward, the whole model and a request, interleaved, each after `pause` s."""
    indices = predictor.encoder.encode_batch([REVIEW])
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=predictor.bf16)
    body = json.dumps({"text": REVIEW}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: dict[str, list[float]] = {"forward": [], "model": [], "request": []}

    def forward() -> None:
        with torch.inference_mode(), autocast:
            predictor.model(indices)

    def request() -> None:
        connection.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")

    steps = {"forward": forward, "model": lambda: predictor.predict_proba([REVIEW]), "request": request}
    for round_number in range(rounds + 5):  # the first 5 rounds warm up
        for name, step in steps.items():
            time.sleep(pause)
            start = time.perf_counter()
            step()
            if round_number >= 5:
                times[name].append((time.perf_counter() - start) * 1000)
    connection.close()
    return times


def run_clients(port: int, clients: int, requests: int) -> tuple[list[float], float]:
    """Latencies (ms) of `requests` predictions from `clients` keep-alive clients, and wall time (s)."""
    body = json.dumps({"text": REVIEW}).encode()
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(count: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        barrier.wait()
        for _ in range(count):
            start = time.perf_counter()
            connection.request("POST", "/api/predict", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = command_line(__doc__, "checkpoint", "workers")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per concurrency level")
    parser.add_argument("--repeats", type=int, default=200, help="timed raw forward passes")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=200, help="paced single-client rounds")
    parser.add_argument("--pause-ms", type=float, default=50.0, help="idle pause before each paced step")
    args = parser.parse_args(argv)
    out = sys.stdout
    workers = args.workers or Settings.from_env().workers
    threads = Settings.from_env({**os.environ, "WEB_CONCURRENCY": str(workers)}).inference_threads

    with tempfile.TemporaryDirectory() as directory:
        checkpoint = args.checkpoint
        if checkpoint is None:
            if BUNDLED_CHECKPOINT.is_file():
                checkpoint = BUNDLED_CHECKPOINT
            else:
                checkpoint = random_checkpoint(Path(directory))
        predictor = served_model(checkpoint, threads)  # as the API will run it (MODEL_BF16)
        # The model is timed before and after the HTTP runs, and the two samples pooled, so a
        # machine whose speed drifts (a shared VM) does not skew the ratios.
        forward, whole_model = model_times_ms(predictor, args.repeats // 2)
        precision = "bfloat16 autocast" if predictor.bf16 else "float32"
        out.write(f"model {checkpoint.name} ({precision}), {len(REVIEW)}-character review, ")
        out.write(f"torch {torch.__version__}\n")

        # LOG_LEVEL as `make run` has it: one request log line each.
        log_level = os.environ.get("LOG_LEVEL") or "INFO"
        with serve_api("", model=checkpoint, WEB_CONCURRENCY=str(workers), LOG_LEVEL=log_level) as api:
            run_clients(api.port, 1, 20)  # warm-up
            paced = paced_rounds(api.port, predictor, args.rounds, args.pause_ms / 1000)
            rows = []
            for clients in args.concurrency:
                latencies, wall = run_clients(api.port, clients, args.requests)
                rows.append((clients, latencies, wall))
        more_forward, more_whole_model = model_times_ms(predictor, args.repeats - args.repeats // 2)
    out.write(
        f"model alone, before / after the HTTP runs ({threads} torch thread(s)): CNN forward p50 "
        f"{statistics.median(forward):.2f} / {statistics.median(more_forward):.2f} ms, whole model "
        f"(encoding + CNN + n-gram part, if any) p50 {statistics.median(whole_model):.2f} / "
        f"{statistics.median(more_whole_model):.2f} ms\n"
    )
    forward += more_forward
    whole_model += more_whole_model
    forward_p50, model_p50 = statistics.median(forward), statistics.median(whole_model)
    out.write(
        f"pooled: CNN forward p50 {forward_p50:.2f} ms, p99 {percentile(forward, 0.99):.2f} ms; "
        f"whole model p50 {model_p50:.2f} ms\n\n"
    )
    out.write(f"gunicorn: {workers} worker(s), gthread, {threads} torch thread(s) each\n\n")
    forward_paced, model_paced = statistics.median(paced["forward"]), statistics.median(paced["model"])
    request_paced = statistics.median(paced["request"])
    out.write(
        f"paced, 1 client, {args.rounds} interleaved rounds, {args.pause_ms:g} ms idle before each step:\n"
        f"  CNN forward p50 {forward_paced:.2f} ms, whole model p50 {model_paced:.2f} ms, "
        f"/api/predict p50 {request_paced:.2f} ms, p99 {percentile(paced['request'], 0.99):.2f} ms\n"
        f"  /api/predict p50 / CNN forward p50 {request_paced / forward_paced:.2f}x, "
        f"/ whole model p50 {request_paced / model_paced:.2f}x\n\n"
    )
    out.write("closed loop, back to back (ratios to the model timed alone in a tight loop, above):\n")
    out.write("clients  requests    p50 ms    p99 ms    req/s  p50 / CNN forward  p50 / model\n")
    for clients, latencies, wall in rows:
        p50 = statistics.median(latencies)
        out.write(
            f"{clients:>7}  {len(latencies):>8}  {p50:>8.2f}  {percentile(latencies, 0.99):>8.2f}  "
            f"{len(latencies) / wall:>7.1f}  {p50 / forward_p50:>16.2f}x  {p50 / model_p50:>10.2f}x\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
