"""What the sending benchmarks share: a fresh portal with waiting submissions, and its processes.

bench_dispatch.py and bench_chaos.py run the portal's own processes (`db_worker`,
`run_periodic`, gunicorn for callbacks) against the sandbox on a fresh SQLite
database, and read that database from the benchmark's own process too
(`start_django`). bench_callbacks.py starts gunicorn the same way.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the portal's packages (uploads, memories_portal)


def fresh_sqlite(name):
    """A database URL for a new SQLite file in a new temporary folder."""
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='portal-bench-')) / name}"


def fresh_postgres(url):
    """Drop and create again the PostgreSQL database that `url` names; returns `url`."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = sql.Identifier(parts.path.lstrip("/"))
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        db.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return url


def portal_env(database_url, sandbox=None, per_minute=1, **settings):
    """The environment of every portal process in a benchmark, pointed at `sandbox` (none:
    a benchmark that sends nothing)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "memories_portal.settings",
        "ENV_FILE": "/nonexistent",  # a developer's .env must not change the figures
        "SECRET_KEY": "bench-only",
        "FIELD_ENCRYPTION_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "MEMORIES_UPLOADS_PER_MINUTE": f"{per_minute:g}",
        "PUBLIC_BASE_URL": "",
    }
    if sandbox is None:
        env["MEMORIES_SANDBOX"] = "1"
    else:
        env.update(MEMORIES_API_BASE_URL=sandbox.url, MEMORIES_API_KEY=sandbox.api_key)
    env.update({name: str(value) for name, value in settings.items()})
    return env


def start_django(env):
    """Set up Django in this process with `env`, and migrate the (fresh) database."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(count, teams=3):
    """`count` waiting submissions, each with its own URL, spread over `teams` teams."""
    from django.contrib.auth import get_user_model

    from uploads.models import Submission, Team

    user = get_user_model().objects.create_user("bench")
    team_rows = [Team.objects.create(name=f"Bench {i}") for i in range(teams)]
    Submission.objects.bulk_create(
        Submission(
            team=team_rows[i % teams], submitter=user, url=f"https://videos.example.com/{i}.mp4"
        )
        for i in range(count)
    )


def manage(env, *args, log=None):
    """Start `manage.py <args>` as a process; its stderr goes to the file `log` (or nowhere)."""
    stderr = subprocess.DEVNULL if log is None else open(log, "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
        )  # fmt: skip
    finally:
        if log is not None:
            stderr.close()  # the child has its own copy


def start_workers(env, count, interval, log_dir=None):
    """`count` db_worker processes polling every `interval` s, with worker ids "worker-<i>"
    (the ids their task runs carry); logs in log_dir/worker-<i>.log."""
    args = ["db_worker", "--no-reload", "--no-startup-delay", "--interval", str(interval)]
    return [
        manage(
            env,
            *args,
            "--worker-id",
            f"worker-{i}",
            log=None if log_dir is None else Path(log_dir) / f"worker-{i}.log",
        )  # fmt: skip
        for i in range(count)
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env, stderr=subprocess.PIPE):
    """gunicorn with gunicorn.conf.py at env["GUNICORN_BIND"]; returns (process, base URL)
    once it answers."""
    server = launch_gunicorn(env, stderr)
    return server, wait_for_gunicorn(server, env)


def launch_gunicorn(env, stderr=subprocess.PIPE):
    """Start gunicorn without waiting for it (see wait_for_gunicorn)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "memories_portal.wsgi"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
    )  # fmt: skip


def wait_for_gunicorn(server, env):
    """Its base URL, once it answers; exits when it stops or is silent for 60 s."""
    base = f"http://{env['GUNICORN_BIND']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/healthz", timeout=10)
            return base  # any answer: it serves (503 only says no worker beat yet)
        except requests.RequestException:
            pass
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped:\n{server.stderr.read() if server.stderr else ''}")
        time.sleep(0.1)
    stop_gunicorn(server)
    sys.exit("gunicorn did not answer in 60 s")


def stop_gunicorn(server):
    """Stop gunicorn gracefully (killed after 30 s); returns its stderr when it was piped."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return server.stderr.read() if server.stderr else ""


def kill(processes):
    """Kill and reap processes, stopped (SIGSTOP) ones too."""
    for process in processes:
        if process.poll() is None:
            process.kill()  # SIGKILL ends a stopped process as well
    for process in processes:
        process.wait()


def refused_too_soon(sandbox, interval):
    """(0429 record, seconds since the previous accepted upload) for every 0429 the sandbox
    gave while an accepted upload was still inside its rate window."""
    accepted = [r.received_at for r in sandbox.accepted]
    found = []
    for record in sandbox.uploads:
        before = [t for t in accepted if record.received_at - interval < t < record.received_at]
        if record.code == "0429" and before:
            found.append((record, record.received_at - max(before)))
    return found


@contextmanager
def slow_video_server(delay):
    """A local server whose every answer is a video, sent after `delay` seconds (a number, or
    a function that gives it); yields its base URL. (The portal refuses loopback addresses:
    a benchmark that checks links here sets URL_PROBE_ALLOW_PRIVATE and
    URL_PROBE_ALLOWED_PORTS for its own processes only: `probe_loopback`.)"""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self):
            # The server's slowness, which the benchmark measures against.
            time.sleep(delay() if callable(delay) else delay)
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", "1000000")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def probe_loopback(port):
    """The settings that let the portal's URL check reach the benchmark's own server."""
    return {"URL_PROBE_ALLOW_PRIVATE": "1", "URL_PROBE_ALLOWED_PORTS": f"80,443,{port}"}


def create_batch(user, team, urls):
    """A batch of `urls`, as the Submit many page makes one; its check is queued."""
    from uploads.batches import service

    rows = [(line, {"url": url}) for line, url in enumerate(urls, start=1)]
    return service.create(user, rows=rows, source="benchmark", shared={"team": team.slug})


def timed_answers(threads, ask, items):
    """Call `ask(item)` for every item from `threads` threads; (seconds, {answer: count}),
    an answer being what `ask` returned or the name of the requests error it raised."""
    counts, lock = {}, threading.Lock()

    def send(item):
        try:
            answer = ask(item)
        except requests.RequestException as exc:
            answer = f"error: {type(exc).__name__}"
        with lock:
            counts[answer] = counts.get(answer, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, items))
    return time.perf_counter() - started, counts
