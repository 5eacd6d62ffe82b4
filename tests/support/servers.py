"""Servers that tests and benchmarks start and stop: the API under gunicorn, a private PostgreSQL.

- `ApiServer`: `gunicorn -c python:brandpulse.api.gunicorn_conf brandpulse.api.wsgi:app`, as
  deployed, on a free loopback port, with the settings given as environment variables; it waits
  for `/readyz`, and knows its master's and workers' process ids (for signals, memory and open
  descriptors, read from /proc).
- `PrivatePostgres`: a throw-away PostgreSQL cluster of its own (`initdb` + `pg_ctl` from
  /usr/lib/postgresql/*/bin, run as the `postgres` OS user), on a free port, that a test may stop
  and start at will without touching the machine's shared server.
- `prepare_database`: the schema, the bundled brands and the first champion, as `db upgrade` and
  `db seed-brands` leave them.

Nothing here is a pytest fixture: tests wrap them in fixtures, benchmarks use them directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import requests

START_TIMEOUT = 90.0  # seconds for gunicorn to answer /readyz (torch import and model load included)
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
NO_RATE_LIMITS = {  # `off` switches a limit off; an empty value would mean the default
    "RATE_LIMIT_PREDICT": "off",
    "RATE_LIMIT_PREDICT_BATCH": "off",
    "RATE_LIMIT_REVIEW": "off",
    "RATE_LIMIT_DEFAULT": "off",
}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> Any:
    """Wait until `condition()` is truthy (exceptions count as false) and return its value."""
    pause = threading.Event()  # never set: its wait() is the pause between two checks
    end = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except AssertionError:
            raise
        except Exception:  # a server that is starting fails in many ways; try again
            value = None
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(message)
        pause.wait(interval)


# ---------------------------------------------------------------- processes, from /proc


def stop_process(process: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 40.0) -> int:
    """Send `signum` to a running process, wait `timeout` s for it to exit, then kill it; its exit status."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def predictions_answered(api_url: str) -> int:
    """How many `POST /api/predict` requests the API at `api_url` has answered (from its /metrics)."""
    text = requests.get(api_url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("brandpulse_http_requests_total{") and 'endpoint="/api/predict"' in line:
            if 'method="POST"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return int(total)


def child_pids(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rpartition(")")[2].split()[:2]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(parent) == pid and state != "Z":
            children.append(int(entry.name))
    return sorted(children)


def is_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def resident_bytes(pid: int) -> int:
    """The resident memory (VmRSS) of process `pid`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")


def open_descriptors(pid: int) -> dict[str, int]:
    """The file descriptors process `pid` holds open, by kind: socket, pipe, file, other."""
    kinds = {"socket": 0, "pipe": 0, "file": 0, "other": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        kind = target.split(":", 1)[0] if ":[" in target else ("file" if target.startswith("/") else "")
        kinds[kind if kind in kinds else "other"] += 1
    return kinds


# ---------------------------------------------------------------- the API


def api_settings(database_url: str, model_path: Path, data_dir: Path, **settings: str) -> dict[str, str]:
    """The API's environment for a test server: this database and model, its files under
    `data_dir`, no rate limits (unless `settings` give some), then `settings`."""
    return {
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(model_path),
        "DATA_DIR": str(data_dir),
        "MODEL_DIR": str(Path(data_dir) / "models"),
        **NO_RATE_LIMITS,
        **settings,
    }


def prepare_database(url: str, model_path: Path, data_dir: Path | None = None) -> None:
    """Create the schema of a new database, seed the bundled brands and, as `db upgrade` does,
    record the model as the registry's first champion (in `<data_dir>/models`, as `api_settings`)."""
    from brandpulse.api import create_app
    from brandpulse.api.serving.inference import get_model
    from brandpulse.api.storage.db import dispose, get_database
    from brandpulse.api.storage.migrations import upgrade
    from brandpulse.api.storage.registry import register_first_champion
    from brandpulse.api.storage.seeding import seed_brands

    config: dict[str, Any] = {"DATABASE_URL": url, "MODEL_PATH": model_path, "LOG_LEVEL": "WARNING"}
    if data_dir is not None:
        config.update(DATA_DIR=Path(data_dir), MODEL_DIR=Path(data_dir) / "models")
    app = create_app(config)
    try:
        with app.app_context(), get_database().connection_context():
            upgrade()
            seed_brands()
            register_first_champion(model_path, app.extensions["brandpulse.settings"].model_dir)
    finally:
        get_model(app).close()
        dispose(app)


@contextmanager
def serve_in_thread(app: Any, name: str = "api") -> Iterator[str]:
    """Serve a Flask app from a thread of this process (werkzeug); yields its base URL."""
    from werkzeug.serving import make_server

    from brandpulse.api.storage.db import dispose

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        dispose(app)


class ApiServer:
    """The API under gunicorn with its own configuration, in a subprocess on a free loopback port.

    `settings` are environment variables on top of this process's environment (API_HOST and
    API_PORT are set here; LOG_LEVEL defaults to WARNING so that heavy traffic writes no log line
    per request). The server's output goes to `<logs>/<name>.log`.
    """

    def __init__(self, settings: Mapping[str, str], logs: Path, name: str = "api") -> None:
        self.port = free_port()
        self.env = {**os.environ, "LOG_LEVEL": "WARNING", **settings}
        self.env.update(API_HOST="127.0.0.1", API_PORT=str(self.port))
        if "PROMETHEUS_MULTIPROC_DIR" not in settings:
            self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn_conf makes one per start
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:brandpulse.api.gunicorn_conf",
            "brandpulse.api.wsgi:app",
        ]
        self.name = name
        self.log_path = Path(logs) / f"{name}.log"
        self.cwd = Path(logs)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def workers(self) -> int:
        """How many workers the server runs (WEB_CONCURRENCY, else one per CPU)."""
        from brandpulse.api.settings import Settings

        return Settings.from_env(self.env).workers

    @property
    def pid(self) -> int:
        """The gunicorn master's process id."""
        assert self.process is not None, f"{self.name} is not started"
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The master's live worker processes."""
        return child_pids(self.pid)

    def log_tail(self, characters: int = 3000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def start(self, timeout: float = START_TIMEOUT) -> ApiServer:
        """Start gunicorn and wait until /readyz answers 200 (database and model ready)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            return requests.get(self.url + "/readyz", timeout=5).status_code == 200

        def all_workers() -> bool:
            return len(self.worker_pids()) == self.workers

        try:
            wait_until(ready, timeout, f"{self.name} did not become ready:\n{self.log_tail()}", interval=0.2)
            wait_until(all_workers, timeout, f"{self.name} has not {self.workers} workers", interval=0.05)
        except AssertionError:
            self.stop(graceful=False)
            raise
        return self

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the master."""
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        """Wait for the master to exit; its exit status."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, graceful: bool = True, timeout: float = 40.0) -> int | None:
        """Stop the server: SIGTERM (graceful, as `docker stop` does) or SIGINT (quick); kill it
        after `timeout` s. Its exit status (None when it was not running)."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        return stop_process(process, signal.SIGTERM if graceful else signal.SIGINT, timeout)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---------------------------------------------------------------- a private PostgreSQL


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries directory on this machine (with initdb and pg_ctl)."""
    candidates = sorted(
        (path for path in Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/"))),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    usable = [path for path in candidates if (path / "initdb").is_file() and (path / "pg_ctl").is_file()]
    return usable[-1] if usable else None


def private_postgres_unavailable() -> str | None:
    """Why `PrivatePostgres` cannot run here, or None when it can."""
    if postgres_bin() is None:
        return f"no initdb/pg_ctl under {POSTGRES_BIN_GLOB}"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` OS user to run a private PostgreSQL cluster"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "a private PostgreSQL cluster needs root (runuser) or the postgres user"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing"
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust authentication, user `postgres`) on 127.0.0.1.

    Its data directory is a new temporary directory owned by the `postgres` OS user; `close()`
    stops the server and removes it. `stop()` and `start()` are a server restart as an operator
    does one (`pg_ctl stop -m fast`: clients are disconnected, open transactions rolled back).
    """

    def __init__(self) -> None:
        reason = private_postgres_unavailable()
        if reason:
            raise RuntimeError(reason)
        self.bin = postgres_bin()
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="brandpulse-pg-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "server.log"
        user = pwd.getpwnam("postgres")
        os.chown(self.directory, user.pw_uid, user.pw_gid)

    def _run(self, *command: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}\n{self.log_tail()}"
            raise RuntimeError(f"{' '.join(command)} failed:\n{output}")

    def log_tail(self, characters: int = 2000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """A libpq DSN of the cluster's superuser."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=3"

    def url(self, dbname: str) -> str:
        """The DATABASE_URL of database `dbname` on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> PrivatePostgres:
        """initdb, then start the server."""
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",  # only the initial files: the server itself syncs its commits as usual
        )
        return self.start()

    def start(self) -> PrivatePostgres:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
        log = str(self.log_path)
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: disconnect clients and shut down cleanly; `immediate`: crash-like)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        """Whether the server accepts connections."""
        try:
            psycopg2.connect(self.admin_dsn()).close()
        except psycopg2.OperationalError:
            return False
        return True

    def create_database(self, name: str) -> str:
        """Create database `name`; its DATABASE_URL."""
        connection = psycopg2.connect(self.admin_dsn())
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def close(self) -> None:
        """Stop the server (if running) and remove its files."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.init()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()
