"""A real Celery worker process on the real broker, against the test database, for the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from trackingconsole.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database the tests run on, so that the worker process writes where the tests read."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    """Starts and stops `celery -A trackingconsole worker` on an isolated queue of the configured broker."""

    def __init__(self, queue: str, var_dir: Path) -> None:
        self.queue = queue
        self.var_dir = var_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log = var_dir / f"worker-{queue}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=test_database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            TRACKINGCONSOLE_VAR_DIR=str(self.var_dir),
            INBOX_SWEEP_SECONDS="2",
            CONN_MAX_AGE="0",
        )
        return env

    def start(
        self,
        *,
        beat: bool = True,
        concurrency: int = 1,
        name: str = "w1",
        batch_size: int = 500,
        var_dir: Path | None = None,
    ) -> Worker:
        """`var_dir`: run as a plain `celery worker -B` would, with the schedule where the settings put it (under
        this var directory) instead of a `-s` path made by the test."""
        args = [sys.executable, "-m", "celery", "-A", "trackingconsole", "worker", "-l", "info"]
        args += ["-Q", self.queue, "-c", str(concurrency), "-n", f"{name}-{self.queue}@%h", "--without-gossip"]
        args += ["--without-mingle", "--without-heartbeat"]
        if beat:
            args += ["-B"] if var_dir is not None else ["-B", "-s", str(self.var_dir / f"beat-{name}")]
        env = self.env()
        env["PIPELINE_BATCH_SIZE"] = str(batch_size)
        if var_dir is not None:
            env["TRACKINGCONSOLE_VAR_DIR"] = str(var_dir)
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def worker_factory(transactional_db, live_server) -> Iterator:
    """Points this process's Celery app at a fresh queue and yields a factory of worker processes on it."""
    queue = f"tc-test-{uuid.uuid4().hex[:8]}"
    var_dir = Path(tempfile.mkdtemp(prefix="tc-e2e-"))
    saved = {
        "task_default_queue": celery_app.conf.task_default_queue,
        "broker_transport_options": celery_app.conf.broker_transport_options,
    }
    celery_app.conf.task_default_queue = queue
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = var_dir / "broker" / "out"
        folder.mkdir(parents=True)
        (var_dir / "broker" / "processed").mkdir()
        celery_app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(var_dir / "broker" / "processed"),
            "control_folder": str(var_dir / "broker" / "control"),
            "store_processed": False,
        }
    # Publish through a fresh connection pool that sees the new options.
    celery_app.pool.force_close_all()
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(queue, var_dir).start(**kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    try:  # leave nothing of the test queue in the broker
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception as exc:
        print(f"could not delete the test queue {queue}: {exc}")
    for key, value in saved.items():
        setattr(celery_app.conf, key, value)
    celery_app.pool.force_close_all()
    logs = {w.log for w in workers}
    for log in logs:
        if log.exists():
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
    shutil.rmtree(var_dir, ignore_errors=True)


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def gunicorn_server(var_dir: Path, queue: str, **env_vars: str) -> Iterator[str]:
    """gunicorn as deployed (one worker, two threads) on the test database, publishing on `queue`: a web process of
    its own, with its own caches and broker connections. Yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        TRACKINGCONSOLE_VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        **env_vars,
    )
    cmd = [sys.executable, "-m", "gunicorn", "trackingconsole.wsgi", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--workers", "1", "--worker-class", "gthread", "--threads", "2"]
    log = var_dir / f"gunicorn-{port}.log"
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
