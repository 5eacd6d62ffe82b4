"""Where forward passes run: one inference thread per process, safe to fork after a preload.

The timing reasons are in `brandpulse.api.serving.inference` and bench/api_latency.py; these tests
check the behaviour the design relies on, with the real bundled model.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import torch

from brandpulse.api.serving.inference import ModelService

TEXT = "Friendly staff and quick delivery, I would order from them again without a doubt."


def test_every_prediction_runs_on_one_inference_thread_with_its_torch_threads(bundled_checkpoint):
    service = ModelService(bundled_checkpoint, threads=2)
    seen: list[tuple[str, int]] = []
    original = service.get().predict

    def recording_predict(texts, *args):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return original(texts, *args)

    service.get().predict = recording_predict  # record where the real model runs
    try:
        callers = [threading.Thread(target=service.predict, args=([TEXT],)) for _ in range(8)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
    finally:
        del service.get().predict
    assert 1 <= len(seen) <= 8  # requests waiting together share a pass (batching.py)
    assert {name for name, _ in seen} == {"inference"}
    assert {threads for _, threads in seen} == {2}


FORK_AFTER_PRELOAD = textwrap.dedent(
    """
    import os, sys
    import torch
    from brandpulse.api.serving.inference import ModelService

    torch.set_num_threads(2)
    service = ModelService(sys.argv[1], threads=2)
    service.get()  # as gunicorn's preload does in the master, which never predicts
    child = os.fork()
    if child == 0:  # a worker
        [result] = service.predict(["Great value, friendly staff, I love this shop."])
        os._exit(0 if result["score"] > 0.5 else 3)
    _, status = os.waitpid(child, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_a_worker_forked_after_the_model_load_predicts(bundled_checkpoint):
    # An OpenMP thread team formed in the parent before fork() makes the child's first
    # parallel region hang; the service loads with one torch thread and predicts on its own
    # thread, so the forked child (a gunicorn worker) works.
    result = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_PRELOAD, str(bundled_checkpoint)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_bf16_inference_scores_like_float32(bundled_checkpoint):
    # MODEL_BF16 runs the CNN under bfloat16 autocast; the bundled model's scores barely move
    # (held out: the same accuracy to four digits, docs/api.md).
    texts = [TEXT, "Rude staff, broken on arrival, and no refund. Avoid.", "It was fine, nothing special."]
    full = ModelService(bundled_checkpoint, threads=2).predict(texts)
    half = ModelService(bundled_checkpoint, threads=2, bf16=True).predict(texts)
    for a, b in zip(full, half, strict=True):
        assert a["label"] == b["label"]
        assert abs(a["score"] - b["score"]) < 0.05, (a, b)
