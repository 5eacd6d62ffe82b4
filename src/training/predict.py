"""`predict`: score texts with a checkpoint; one JSON object per text on standard output.

Texts come from the arguments, or one per line from standard input when there are none.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, CheckpointError
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import configure_logging, use_threads

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `predict` command line; returns the process exit code."""
    p = argparse.ArgumentParser(prog="predict", description=__doc__.splitlines()[0])
    p.add_argument("texts", nargs="*", help="texts to score (default: lines of standard input)")
    p.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT, help="model checkpoint")
    p.add_argument("--threads", type=int, help="torch compute threads (default: every core)")
    p.add_argument("--log-level", default="WARNING", help="logging level")
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    use_threads(args.threads)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    try:
        predictor = Predictor.from_checkpoint(args.checkpoint)
    except CheckpointError as error:
        logger.error("%s", error)
        return 2
    for text, result in zip(texts, predictor.predict(texts), strict=True):
        sys.stdout.write(json.dumps({"text": text, **result, "model_version": predictor.version}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
