"""Live scoring in a real browser: how soon the score bar follows the text typed, and at what request rate.

Starts the API (bundled model, SQLite in a temporary directory, rate limits off) and the web page
under gunicorn on free loopback ports, as `make run` does, then opens headless Chromium (Debian's
chromium and chromedriver) on the review page and types real reviews into it.

    python bench/browser_feedback.py [--chars-per-second 8] [--reviews 8] [--runs 1]
    python bench/browser_feedback.py --src ../before/src        # another checkout's src/ (before/after)
    python bench/browser_feedback.py --web-url http://127.0.0.1:8050 --api-url http://127.0.0.1:5000

Method. Typing happens in the page: a driver sets the review box's value one character longer
through the native `value` setter and dispatches an `input` event (what React, hence Dash, listens
to for a key typed), at exact times (`performance.now()`, `--chars-per-second`), and records the
time of each keystroke. After each sentence (". ", "! ", "? ") and at the end it stops for
`--pause-ms`. A MutationObserver records when `#score-status` gets a new `data-scored-length` (the
length of the text whose score the bar shows: the bar, its label and the status change in the
same render). A wrapper around `window.fetch` records each live-scoring request (the Dash callback
posting `score-request`), when it left and when its answer came back. Figures:

- keystroke to bar, per bar update: for each update, the time since the keystroke that produced
  the text it shows (the issue's figure);
- keystroke to bar, per keystroke: for each keystroke, the time until the bar shows text at least
  that long (a keystroke whose own text is never scored waits for a later one);
- final score after a pause: from the last keystroke before each pause to the bar showing exactly
  that text;
- requests: live-scoring requests sent from the first keystroke of a stretch of typing to its
  final score, per second and as the mean interval; the smallest interval between two requests.
  The API's `/metrics` count of `POST /api/predict` is printed beside it as a cross-check; and
  over the whole session, pauses included (the long-run rate the page's token bucket bounds);
- where the time goes: the browser's request round trip, its answer to the bar, and, timed from
  this process after the typing, `POST /api/predict` alone and the Dash callback (web server plus
  API) alone, paced at one request per 150 ms.

Percentiles are nearest-rank. The machine's load averages are printed before and after: Chromium,
both servers and this script share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests

if __package__ in (None, ""):  # run as `python bench/browser_feedback.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    command_line,
    load_text,
    percentile,
    serve_api,
    setup_logging,
    write_json,
)
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT  # noqa: E402
from tests.support.chromium import headless_chromium  # noqa: E402
from tests.support.servers import free_port, predictions_answered, wait_until  # noqa: E402

logger = logging.getLogger("bench.browser_feedback")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT = 90.0  # seconds for a server to answer (torch import and model load included)
SETTLE_S = 1.0  # after the page has its brand, before the first keystroke
FINAL_TIMEOUT_MS = 5000  # the longest wait for the final score of a review
PACED_INTERVAL_S = 0.15  # the pace of the server-side timings

# Real reviews of the kind visitors write, 150-400 characters, several sentences each.
REVIEWS = (
    "Ordered the running shoes on Monday and they arrived on Wednesday. The fit is true to size and "
    "the cushioning is great on long runs. After a month the soles still look new. Would buy again.",
    "The blender is loud and the lid leaks if you fill it past halfway. Customer service sent a "
    "replacement lid, which also leaks. For this price I expected much better. Returning it.",
    "Decent headphones for the money. Sound is clear, bass is a bit weak, and the battery lasts about "
    "two days of commuting. The ear cushions get warm after an hour. Fine, not amazing.",
    "I have used this coffee shop's app for a year. Ordering ahead works well most mornings, but twice "
    "this month my order was not ready and the staff seemed annoyed that I asked. Still my usual stop, "
    "though I am less happy than before.",
    "Terrible experience with the delivery. The package was left in the rain, the box was soaked and "
    "the jacket inside smelled of mildew. Support took nine days to answer and then offered a coupon. "
    "Never again.",
    "Absolutely love this backpack! The laptop sleeve is padded, the zips are smooth and it survived a "
    "week of hiking in the mountains. My friend bought the same one after seeing mine.",
    "The phone itself is fast and the camera takes lovely photos in daylight. Night shots are grainy. "
    "The update last week broke the fingerprint reader, which is annoying. Three stars until they fix it.",
    "Great hotel in a quiet street, five minutes from the station. The room was spotless, the bed was "
    "comfortable and breakfast had plenty of choice. The only downside was the slow wifi in the evening.",
)

# The driver, run in the page (Selenium's execute_async_script; the last argument is its callback).
TYPE_REVIEW = """
const [text, charsPerSecond, pauseMs, finalTimeoutMs, pauseAt, wordsPerPause, done] = arguments;
const box = document.getElementById("review-text");
const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
const log = {keys: [], bars: [], requests: window.__bpRequests, late: []};
const observer = new MutationObserver((mutations) => {
    const now = performance.now();
    for (const mutation of mutations) {
        const length = Number(mutation.target.getAttribute("data-scored-length"));
        if (mutation.target.id === "score-status") { log.bars.push([now, length]); }
    }
});
observer.observe(document.body, {subtree: true, attributes: true, attributeFilter: ["data-scored-length"]});
box.focus();
const interval = 1000 / charsPerSecond;
// Lengths after which the typist stops: each sentence's end ("sentences"), or the end of every
// wordsPerPause-th word that does not end a sentence ("words": pauses mid-sentence); and the text's end.
const pauses = new Set();
let words = 0;
for (let i = 1; i < text.length; i += 1) {
    if (text[i] !== " ") { continue; }
    const sentenceEnd = ".!?".includes(text[i - 1]);
    words += 1;
    const stop = pauseAt === "sentences" ? sentenceEnd : (!sentenceEnd && words % wordsPerPause === 0);
    if (stop) { pauses.add(i); }
}
pauses.add(text.length);
let length = 0;
let due = performance.now() + 20;
function finish() {
    observer.disconnect();
    done(log);
}
function waitForFinal(started) {
    const shown = log.bars.length ? log.bars[log.bars.length - 1][1] : 0;
    if (shown >= text.length || performance.now() - started > finalTimeoutMs) {
        setTimeout(finish, 50);  // a last mutation still on its way is recorded too
    } else {
        setTimeout(waitForFinal, 10, started);
    }
}
function keystroke() {
    const now = performance.now();
    log.late.push(now - due);
    length += 1;
    setValue.call(box, text.slice(0, length));
    log.keys.push([now, length]);
    box.dispatchEvent(new Event("input", {bubbles: true}));
    if (length >= text.length) {
        waitForFinal(performance.now());
        return;
    }
    due += pauses.has(length) ? pauseMs : interval;
    setTimeout(keystroke, Math.max(0, due - performance.now()));
}
setTimeout(keystroke, Math.max(0, due - performance.now()));
"""

# Installed once per page: records every live-scoring request (the Dash callback fed by `score-request`).
WATCH_REQUESTS = """
window.__bpRequests = [];
const originalFetch = window.fetch;
window.fetch = function (resource, init) {
    const url = typeof resource === "string" ? resource : resource.url;
    const body = init && typeof init.body === "string" ? init.body : "";
    if (!url.includes("_dash-update-component") || !body.includes('"score-request"')) {
        return originalFetch.apply(this, arguments);
    }
    let length = null;
    try {
        const request = JSON.parse(body).inputs.find((input) => input.id === "score-request");
        length = String((request.value && request.value.text) || "").length;
    } catch (error) {
        // an unexpected body: counted, length unknown
    }
    const record = {sent: performance.now(), length: length, answered: null, status: null};
    window.__bpRequests.push(record);
    if (!window.__bpScoreBody) { window.__bpScoreBody = body; }
    return originalFetch.apply(this, arguments).then((response) => {
        record.answered = performance.now();
        record.status = response.status;
        return response;
    });
};
"""


def summary(values: list[float]) -> dict[str, Any]:
    """Count, p50, p95 and max of `values` (milliseconds)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values),
    }


def summary_text(values: list[float]) -> str:
    """`summary` as one line."""
    figures = summary(values)
    if not figures["n"]:
        return "no samples"
    p50, p95, worst = figures["p50"], figures["p95"], figures["max"]
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  max {worst:6.1f} ms  (n={figures['n']})"


# ---------------------------------------------------------------- servers


@contextmanager
def web_server(api_url: str, logs: Path, environment: dict[str, str]) -> Iterator[str]:
    """The web page under gunicorn (as `make run`), every session shown suggestions; its URL."""
    port = free_port()
    env = {
        **os.environ,
        "API_URL": api_url,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "SUGGESTION_CONTROL_SHARE": "0",
        **environment,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "python:brandpulse.dash.gunicorn_conf"]
    log_path = logs / "web.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "brandpulse.dash.wsgi:server"], env=env, cwd=logs, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"web exited:\n{log_path.read_text(errors='replace')[-3000:]}")
            return requests.get(url + "/healthz", timeout=2).status_code == 200

        wait_until(ready, START_TIMEOUT, "the web page did not become ready", interval=0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def servers(src: Path | None) -> Iterator[tuple[str, str]]:
    """The API and the web page on free loopback ports; yields their URLs."""
    if not BUNDLED_CHECKPOINT.is_file():
        raise SystemExit(f"the bundled model is missing ({BUNDLED_CHECKPOINT})")
    with serve_api("", model=BUNDLED_CHECKPOINT, src=src, TRUSTED_PROXIES="127.0.0.1") as api:
        environment = {"PYTHONPATH": api.env["PYTHONPATH"]} if src else {}  # the same checkout's page
        with web_server(api.url, api.cwd, environment) as web:
            yield api.url, web


def predict_count(api_url: str | None) -> int | None:
    """How many `POST /api/predict` the API has answered (its /metrics), when it is known."""
    if not api_url:
        return None
    try:
        return predictions_answered(api_url)
    except requests.RequestException:
        return None


# ---------------------------------------------------------------- browser


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver (nothing is downloaded)."""
    with headless_chromium(CHROMIUM, CHROMEDRIVER) as driver:
        driver.set_script_timeout(600)
        yield driver


def open_page(driver: Any, web_url: str) -> None:
    """A fresh review page in the "suggested" group, its brand shown and its start-up callbacks done."""
    from selenium.webdriver.common.by import By

    driver.get(web_url + "/healthz")
    driver.execute_script("window.sessionStorage.clear();")
    driver.get(web_url + "/")
    wait_until(lambda: driver.find_element(By.ID, "brand-name").text, 20, "the page shows no brand")
    group = driver.find_element(By.ID, "review-form").get_attribute("data-suggestion-group")
    if group != "suggested":
        raise SystemExit(f"this session is in the {group!r} group, which is never scored live")
    time.sleep(SETTLE_S)
    driver.execute_script(WATCH_REQUESTS)


def type_review(
    driver: Any,
    text: str,
    chars_per_second: float,
    pause_ms: float,
    pause_at: str = "sentences",
    words_per_pause: int = 4,
) -> dict[str, Any]:
    """Type `text` in the page's review box; the driver's log (keystrokes, bar updates, requests)."""
    return driver.execute_async_script(
        TYPE_REVIEW, text, chars_per_second, pause_ms, FINAL_TIMEOUT_MS, pause_at, words_per_pause
    )


# ---------------------------------------------------------------- figures


def review_figures(log: dict[str, Any], pause_ms: float) -> dict[str, list[float]]:
    """The per-update, per-keystroke, final and request figures of one typed review."""
    keys = {length: moment for moment, length in log["keys"]}
    bars = log["bars"]
    requests_sent = log["requests"]
    figures: dict[str, list[float]] = {
        "per_update": [],
        "per_keystroke": [],
        "final": [],
        "late": log["late"],
        "round_trip": [],
        "to_bar": [],
        "intervals": [],
    }
    for moment, length in bars:
        if length in keys and moment >= keys[length]:
            figures["per_update"].append(moment - keys[length])
    for length, moment in keys.items():
        shown = next((when for when, seen in bars if seen >= length and when >= moment), None)
        if shown is not None:
            figures["per_keystroke"].append(shown - moment)
    # Stretches of typing: each ends with the keystroke before a pause (or the last one).
    lengths = sorted(keys)
    stretches, start = [], lengths[0]
    for length in lengths:
        following = keys.get(length + 1)
        if following is None or following - keys[length] >= pause_ms * 0.9:
            stretches.append((start, length))
            start = length + 1
    busy_ms, sent = 0.0, 0
    for first, last in stretches:
        final = next((when for when, seen in bars if seen == last and when >= keys[last]), None)
        if final is None:
            logger.warning("no final score for %d characters within the pause", last)
            continue
        figures["final"].append(final - keys[last])
        window = [r for r in requests_sent if keys[first] <= r["sent"] <= final]
        busy_ms += final - keys[first]
        sent += len(window)
        times = [r["sent"] for r in window]
        figures["intervals"].extend(b - a for a, b in zip(times, times[1:], strict=False))
    figures["busy_ms"] = [busy_ms]
    figures["sent"] = [sent]
    # The whole session, pauses included: the long-run rate the token bucket bounds.
    first_key, last_key = keys[lengths[0]], keys[lengths[-1]]
    session_end = next((when for when, seen in bars if seen == lengths[-1] and when >= last_key), last_key)
    figures["session_ms"] = [session_end - first_key]
    figures["session_sent"] = [sum(1 for r in requests_sent if first_key <= r["sent"] <= session_end)]
    for record in requests_sent:
        if record["answered"] is None or record["length"] is None:
            continue
        figures["round_trip"].append(record["answered"] - record["sent"])
        answered, length = record["answered"], record["length"]
        shown = next((when for when, seen in bars if seen == length and when >= answered), None)
        if shown is not None:
            figures["to_bar"].append(shown - record["answered"])
    return figures


def paced_timings(api_url: str | None, web_url: str, body: str | None, rounds: int) -> dict[str, list[float]]:
    """`POST /api/predict` alone and the live-scoring Dash callback alone, one request per 150 ms."""
    timings: dict[str, list[float]] = {"api": [], "dash": []}
    session = requests.Session()
    texts = [review[: 40 + (index * 37) % (len(review) - 40)] for index, review in enumerate(REVIEWS * 8)]
    pause = threading.Event()  # never set: its wait() is the pace
    payload = json.loads(body) if body else None
    for index in range(rounds):
        text = texts[index % len(texts)]
        if api_url:
            started = time.perf_counter()
            session.post(api_url + "/api/predict", json={"text": text}, timeout=10).raise_for_status()
            timings["api"].append((time.perf_counter() - started) * 1000)
            pause.wait(PACED_INTERVAL_S)
        if payload:
            for request in payload["inputs"]:
                if request["id"] == "score-request":
                    request["value"] = {"seq": 10_000 + index, "text": text}
            started = time.perf_counter()
            session.post(web_url + "/_dash-update-component", json=payload, timeout=10).raise_for_status()
            timings["dash"].append((time.perf_counter() - started) * 1000)
            pause.wait(PACED_INTERVAL_S)
    return timings


def report(figures: dict[str, list[float]], predicts: int | None, args: argparse.Namespace) -> dict[str, Any]:
    """Log the figures and return them as a dict."""
    sent, busy_s = sum(figures["sent"]), sum(figures["busy_ms"]) / 1000
    session_sent, session_s = sum(figures["session_sent"]), sum(figures["session_ms"]) / 1000
    result = {
        "chars_per_second": args.chars_per_second,
        "per_update_ms": summary(figures["per_update"]),
        "per_keystroke_ms": summary(figures["per_keystroke"]),
        "final_ms": summary(figures["final"]),
        "requests": sent,
        "typing_seconds": busy_s,
        "requests_per_s": sent / busy_s if busy_s else None,
        "mean_interval_ms": busy_s * 1000 / sent if sent else None,
        "session_requests": session_sent,
        "session_seconds": session_s,
        "session_mean_interval_ms": session_s * 1000 / session_sent if session_sent else None,
        "interval_ms": summary(figures["intervals"]),
        "round_trip_ms": summary(figures["round_trip"]),
        "answer_to_bar_ms": summary(figures["to_bar"]),
        "keystroke_lateness_ms": summary(figures["late"]),
        "api_predict_ms": summary(figures.get("api", [])),
        "dash_callback_ms": summary(figures.get("dash", [])),
        "api_predicts_counted": predicts,
    }
    logger.info("")
    logger.info("keystroke to bar, per bar update     %s", summary_text(figures["per_update"]))
    logger.info("keystroke to bar, per keystroke      %s", summary_text(figures["per_keystroke"]))
    logger.info("final score after a pause            %s", summary_text(figures["final"]))
    if sent:
        logger.info(
            "requests while typing: %d in %.1f s = %.2f/s, mean interval %.1f ms; between two: %s",
            sent,
            busy_s,
            sent / busy_s,
            busy_s * 1000 / sent,
            summary_text(figures["intervals"]),
        )
    if session_sent:
        logger.info(
            "requests over the whole session (pauses included): %d in %.1f s = %.2f/s, mean interval %.1f ms",
            session_sent,
            session_s,
            session_sent / session_s,
            session_s * 1000 / session_sent,
        )
    if predicts is not None:
        logger.info("POST /api/predict answered by the API meanwhile (its /metrics): %d", predicts)
    logger.info("where the time goes:")
    logger.info("  browser request round trip         %s", summary_text(figures["round_trip"]))
    logger.info("  its answer to the bar              %s", summary_text(figures["to_bar"]))
    logger.info("  Dash callback alone (web + API)    %s", summary_text(figures.get("dash", [])))
    logger.info("  POST /api/predict alone            %s", summary_text(figures.get("api", [])))
    logger.info("  keystroke timer lateness           %s", summary_text(figures["late"]))
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = command_line(__doc__, "src", "label", "json")
    parser.add_argument("--chars-per-second", type=float, default=8.0, help="typing speed")
    parser.add_argument("--reviews", type=int, default=len(REVIEWS), help=f"how many (1-{len(REVIEWS)})")
    parser.add_argument("--runs", type=int, default=1, help="times each review is typed")
    parser.add_argument("--pause-ms", type=float, default=1500.0, help="pause after each sentence")
    parser.add_argument(
        "--pause-at",
        choices=("sentences", "words"),
        default="sentences",
        help="where the typist pauses: after each sentence, or mid-sentence every --words-per-pause words",
    )
    parser.add_argument("--words-per-pause", type=int, default=4, help="with --pause-at words")
    parser.add_argument("--paced-rounds", type=int, default=60, help="server-side timings (0: none)")
    parser.add_argument("--web-url", help="measure this running web page instead of starting servers")
    parser.add_argument("--api-url", help="with --web-url: its API, for the /metrics cross-check")
    args = parser.parse_args(argv)
    setup_logging()
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise SystemExit(f"Chromium and chromedriver are needed ({CHROMIUM}, {CHROMEDRIVER})")
    reviews = REVIEWS[: max(1, min(args.reviews, len(REVIEWS)))]
    logger.info(
        "%d review(s) x %d run(s) of %d-%d characters at %g characters/s, %g ms pause after each sentence",
        len(reviews),
        args.runs,
        min(map(len, reviews)),
        max(map(len, reviews)),
        args.chars_per_second,
        args.pause_ms,
    )
    logger.info("before: %s", load_text())
    with ExitStack() as stack:
        if args.web_url:
            api_url, web_url = args.api_url, args.web_url.rstrip("/")
        else:
            api_url, web_url = stack.enter_context(servers(args.src))
            logger.info("serving %s: API %s, web %s", args.src or "this checkout", api_url, web_url)
        driver = stack.enter_context(chromium())
        figures: dict[str, list[float]] = {}
        open_page(driver, web_url)  # a warm-up review, not counted
        type_review(driver, reviews[0][:60], args.chars_per_second, args.pause_ms)
        predicts_before, body = predict_count(api_url), None
        for run in range(args.runs):
            for index, text in enumerate(reviews):
                open_page(driver, web_url)
                log = type_review(
                    driver, text, args.chars_per_second, args.pause_ms, args.pause_at, args.words_per_pause
                )
                body = body or driver.execute_script("return window.__bpScoreBody || null;")
                for name, values in review_figures(log, args.pause_ms).items():
                    figures.setdefault(name, []).extend(values)
                logger.info("run %d review %d (%d chars); %s", run + 1, index + 1, len(text), load_text())
        after = predict_count(api_url)
        predicts = after - predicts_before if after is not None and predicts_before is not None else None
        figures.update(paced_timings(api_url, web_url, body, args.paced_rounds))
    result = report(figures, predicts, args)
    logger.info("after: %s", load_text())
    result.update(label=args.label or str(args.src or "this checkout"), load_after=os.getloadavg())
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
