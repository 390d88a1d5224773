"""Slow clients: 20 of them sending request bodies a byte a second cannot stop the portal.

gunicorn as `make run` starts it (gunicorn.conf.py, two threaded workers, the threads
`make run` gives them) on a fresh SQLite database. Normal clients (BENCH_SLOW_NORMAL
threads, a new connection for each request) load pages as a logged-in person (their dashboard and
the submission list) and post callbacks for submissions being processed, one after
another, for BENCH_SLOW_SECONDS; first without slow clients, then with BENCH_SLOW_CLIENTS
sockets each sending a callback's headers and then its body at one byte a second (one
that is cut off by REQUEST_BODY_TIMEOUT connects again at once), then without them again.
The two quiet phases, before and after, are the baseline.

Goals (exit status 1 when one is missed):
- the normal clients' median time with the slow clients is within 2x of the baseline's;
- no normal request waits more than 2 s while the slow clients are there.

    .venv/bin/python benchmarks/bench_slow_clients.py
    (BENCH_SLOW_SECONDS=30 per phase, BENCH_SLOW_CLIENTS=20, BENCH_SLOW_NORMAL=4,
    REQUEST_BODY_TIMEOUT as the portal's own setting, 20 s by default)
"""

import os
import socket
import statistics
import sys
import threading
import time

import requests
from harness import (
    free_port,
    fresh_sqlite,
    launch_gunicorn,
    portal_env,
    start_django,
    stop_gunicorn,
    wait_for_gunicorn,
)
from machine import machine

SECONDS = float(os.environ.get("BENCH_SLOW_SECONDS", 30))
SLOW_CLIENTS = int(os.environ.get("BENCH_SLOW_CLIENTS", 20))
NORMAL_CLIENTS = int(os.environ.get("BENCH_SLOW_NORMAL", 4))
RATIO_GOAL, WAIT_GOAL = 2.0, 2.0
BODY = b'{"status": "UNPARSE", "videoNo": "VISLOW000001", "pad": "' + b"x" * 200 + b'"}'
PROCESSING = 40  # submissions being processed: the callbacks' targets


def make_run_env(env, port):
    """`env` with what `make run` gives gunicorn (run_local.py)."""
    from uploads.management.commands.run_local import gunicorn_env

    return gunicorn_env(port, env)


def seed():
    """A person with a session, and submissions being processed with their callback tokens."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from uploads.models import Membership, Status, Submission, Team, hash_token, new_callback_token

    person = get_user_model().objects.create_user("bench", password="not-used-here")
    team = Team.objects.create(name="Bench")
    Membership.objects.create(team=team, user=person)
    tokens = []
    for n in range(PROCESSING):
        token = new_callback_token()
        Submission.objects.create(
            team=team, submitter=person, url=f"https://videos.example.com/{n}.mp4",
            status=Status.PROCESSING, video_no=f"VIBENCH{n:06d}",
            callback_token_hash=hash_token(token),
        )  # fmt: skip
        tokens.append((token, f"VIBENCH{n:06d}"))
    session = SessionStore()
    session[SESSION_KEY] = str(person.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = person.get_session_auth_hash()
    session.create()
    return {settings.SESSION_COOKIE_NAME: session.session_key}, tokens


class NormalClient(threading.Thread):
    """Pages and callbacks, one after another; each request's seconds, by phase."""

    def __init__(self, base, cookies, tokens, index):
        super().__init__(daemon=True)
        self.base, self.cookies, self.tokens, self.index = base, cookies, tokens, index
        self.phase, self.times, self.failures = None, {}, []
        self.stopping = threading.Event()

    def requests_in_turn(self):
        n = self.index
        while True:
            n += 1
            token, video_no = self.tokens[n % len(self.tokens)]
            yield "GET", "/", None
            yield "GET", "/submissions/?submitter=any", None
            body = f'{{"status": "UNPARSE", "videoNo": "{video_no}"}}'
            yield "POST", f"/callbacks/memories/{token}/", body

    def run(self):
        for method, path, body in self.requests_in_turn():
            if self.stopping.is_set():
                return
            phase, started = self.phase, time.monotonic()
            # A new connection each time, as a new visitor's: it may land on any worker,
            # the one the slow clients crowd included.
            headers = {"Content-Type": "application/json", "Connection": "close"}
            try:
                answer = requests.request(method, self.base + path, data=body, timeout=60,
                                          headers=headers, cookies=self.cookies)  # fmt: skip
                ok = answer.status_code == 200
            except requests.RequestException as exc:
                ok, answer = False, exc
            seconds = time.monotonic() - started
            if phase is not None:  # counted in the phase it began in, however long it took
                self.times.setdefault(phase, []).append(seconds)
                if not ok:
                    self.failures.append(f"{method} {path}: {answer}")


class SlowClient(threading.Thread):
    """A callback whose body comes a byte a second; connects again when it is cut off."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.sending = threading.Event()  # headers sent: it holds a thread
        self.stopping = threading.Event()
        self.answers = {}

    def run(self):
        head = (
            f"POST /callbacks/memories/{'s' * 43}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
        ).encode()
        while not self.stopping.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                    sock.sendall(head)
                    self.sending.set()
                    self.trickle(sock)
                    status = sock.recv(64).split(b" ")[1:2]
                    key = status[0].decode() if status else "closed"
            except OSError:
                key = "reset"
            self.answers[key] = self.answers.get(key, 0) + 1

    def trickle(self, sock):
        for byte in BODY:
            if self.stopping.wait(1.0):  # one byte a second: the slow client's own pace
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return  # the portal stopped listening: read its answer


def run_phase(name, clients):
    for client in clients:
        client.phase = name
    time.sleep(SECONDS)  # the phase's length: what is measured happens meanwhile
    for client in clients:
        client.phase = None


def summary(times):
    times = sorted(times)
    return {
        "count": len(times),
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "max": times[-1],
    }


def main():
    port = free_port()
    env = portal_env(
        fresh_sqlite("slow.sqlite3"),
        DEBUG=1,  # as `make run` (static files served as they are, no collectstatic)
        GUNICORN_ACCESS_LOG="off",
        CALLBACK_CALLS_PER_TOKEN_PER_HOUR=10**6,  # the normal clients call back again and again
    )
    start_django(env)
    env = make_run_env(env, port)
    cookies, tokens = seed()
    print(f"machine: {machine()}")
    print(f"gunicorn: workers {env['GUNICORN_WORKERS']}, threads {env['GUNICORN_THREADS']}, "
          f"body deadline {env.get('REQUEST_BODY_TIMEOUT', '20 (default)')} s")  # fmt: skip
    server = launch_gunicorn(env)
    try:
        base = wait_for_gunicorn(server, env)
        normal = [NormalClient(base, cookies, tokens, i) for i in range(NORMAL_CLIENTS)]
        for client in normal:
            client.start()
        run_phase("quiet", normal)
        slow = [SlowClient(port) for _ in range(SLOW_CLIENTS)]
        for client in slow:
            client.start()
        if not all(client.sending.wait(30) for client in slow):
            sys.exit("the slow clients could not all connect in 30 s")
        run_phase("slow", normal)
        for client in slow:
            client.stopping.set()
        for client in slow:
            client.join(timeout=30)
        run_phase("quiet", normal)
        for client in normal:
            client.stopping.set()
        for client in normal:
            client.join(timeout=60)
    finally:
        stop_gunicorn(server)
    return report(normal, slow)


def report(normal, slow):
    phases = {
        name: [t for c in normal for t in c.times.get(name, [])] for name in ("quiet", "slow")
    }
    failures = [f for c in normal for f in c.failures]
    answers = {}
    for client in slow:
        for key, count in client.answers.items():
            answers[key] = answers.get(key, 0) + count
    print(f"{SLOW_CLIENTS} slow clients, {NORMAL_CLIENTS} normal ones, {SECONDS:g} s a phase")
    print("| phase | requests | median ms | p95 ms | max ms |")
    print("| --- | --- | --- | --- | --- |")
    figures = {}
    for name, times in phases.items():
        if not times:
            sys.exit(f"no requests were answered in the {name} phase")
        figures[name] = summary(times)
        f = figures[name]
        print(f"| {name} | {f['count']} | {f['median'] * 1000:.1f} | {f['p95'] * 1000:.1f} | "
              f"{f['max'] * 1000:.1f} |")  # fmt: skip
    ratio = figures["slow"]["median"] / figures["quiet"]["median"]
    longest = figures["slow"]["max"]
    print(f"slow clients' answers: {answers}")
    print(f"normal requests refused or failed: {len(failures)} {failures[:3]}")
    print(f"ratio slow/quiet median = {ratio:.2f} (goal <= {RATIO_GOAL:g})")
    print(f"longest wait with slow clients = {longest:.2f} s (goal <= {WAIT_GOAL:g} s)")
    missed = ratio > RATIO_GOAL or longest > WAIT_GOAL or failures
    print("goal missed" if missed else "goals met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
