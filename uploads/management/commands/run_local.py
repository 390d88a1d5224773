"""`make run`: the whole portal on one machine, wired together, stopped by Ctrl-C.

A process that exits is restarted, with a growing pause between restarts.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from uploads.models import Membership, Team

DEMO_LOGIN_FILE = Path(settings.BASE_DIR) / ".demo-login"


def gunicorn_env(port, env):
    """`env` with what `make run` gives gunicorn besides gunicorn.conf.py's own defaults:
    two workers of 32 threads each, more than the slow clients of
    benchmarks/bench_slow_clients.py could hold even all in one worker."""
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    env.setdefault("GUNICORN_WORKERS", "2")
    env.setdefault("GUNICORN_THREADS", "32")
    return env


class Command(BaseCommand):
    help = (
        "Migrate, create a demo login, and run web server, workers (sending, batch checks, "
        "notifications), "
        "periodic work and (without a key) the sandbox."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument(
            "--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8765))
        )

    def handle(self, port, sandbox_port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        username, password = self.demo_login()
        env = os.environ.copy()
        env.setdefault("DEBUG", "1")
        env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
        gunicorn_env(port, env)
        env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir(env)
        commands = {
            # gunicorn.conf.py reads the rest (workers, timeout, access log) from env.
            "web": [
                sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "memories_portal.wsgi",
            ],
            "worker": [sys.executable, "manage.py", "db_worker", "--no-reload"],
            # Checks of "Submit many" batches, on their own queue: the sender never waits.
            "batches": [
                sys.executable, "manage.py", "db_worker", "--no-reload", "--queue-name", "batches",
            ],
            # Emails and webhooks, on their own queue: a slow receiver never delays sending.
            "notifications": [
                sys.executable, "manage.py", "db_worker", "--no-reload",
                "--queue-name", "notifications",
            ],
            "periodic": [sys.executable, "manage.py", "run_periodic"],
        }  # fmt: skip
        if not settings.MEMORIES_API_KEY:
            env["MEMORIES_SANDBOX"] = "1"
            env["MEMORIES_API_BASE_URL"] = f"http://127.0.0.1:{sandbox_port}"
            commands["sandbox"] = [
                sys.executable, "manage.py", "memories_sandbox", "--port", str(sandbox_port),
            ]  # fmt: skip
        self.stdout.write(
            f"\nMemories Portal on http://127.0.0.1:{port}/  —  log in as {username} / {password}\n"
            + (
                "Sending to the local sandbox (no MEMORIES_API_KEY set).\n"
                if "sandbox" in commands
                else f"Sending to {settings.MEMORIES_API_BASE_URL}.\n"
            )
            + "A process that stops is restarted; Ctrl-C stops everything.\n"
        )
        self.supervise(commands, env)

    def metrics_dir(self, env):
        """Where every process writes its counters for /metrics. Ours (.metrics) is emptied
        at each start: the counts of an earlier run's processes would add to this one's."""
        if env.get("PROMETHEUS_MULTIPROC_DIR"):
            return env["PROMETHEUS_MULTIPROC_DIR"]  # the operator's own, left as it is
        path = Path(settings.BASE_DIR) / ".metrics"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return str(path)

    def demo_login(self):
        """A demo team and user, created once; the password is kept in .demo-login."""
        users = get_user_model().objects
        if DEMO_LOGIN_FILE.exists():
            username, password = DEMO_LOGIN_FILE.read_text().split(":", 1)
            if users.filter(username=username).exists():
                return username, password.strip()
        username, password = "demo", secrets.token_urlsafe(9)
        user = users.filter(username=username).first() or users.create_user(username)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        DEMO_LOGIN_FILE.write_text(f"{username}:{password}\n")
        DEMO_LOGIN_FILE.chmod(0o600)
        team, _ = Team.objects.get_or_create(name="Demo team")
        Membership.objects.get_or_create(
            team=team, user=user, defaults={"role": Membership.Role.MANAGER}
        )
        return username, password

    def supervise(self, commands, env, *, first_delay=1.0, max_delay=30.0, stable_after=60.0):
        """Run every command; restart one that exits; Ctrl-C (or SIGTERM) stops them all.

        A process that exits is started again after `first_delay` seconds, twice
        as long each time it exits again, at most `max_delay`; once it has stayed
        up `stable_after` seconds its next restart waits `first_delay` again.
        """
        running = {}  # name: (process, when it started)
        restart_at = {}  # name: when to start it again
        delays = dict.fromkeys(commands, first_delay)

        def start(name):
            try:
                process = subprocess.Popen(commands[name], env=env, cwd=settings.BASE_DIR)
            except OSError as exc:
                self.stderr.write(f"{name} could not start ({exc}).")
                stopped(name, time.monotonic(), None)
            else:
                running[name] = process, time.monotonic()

        def stopped(name, started, code):
            if time.monotonic() - started >= stable_after:
                delays[name] = first_delay
            delay = delays[name]
            delays[name] = min(delay * 2, max_delay)
            restart_at[name] = time.monotonic() + delay
            if code is not None:
                how = f"signal {-code}" if code < 0 else f"exit {code}"
                self.stderr.write(f"{name} stopped ({how}); restarting it in {delay:g} s.")

        def stop(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            for name in commands:
                start(name)
            while True:
                for name, (process, started) in list(running.items()):
                    if process.poll() is not None:
                        del running[name]
                        stopped(name, started, process.returncode)
                for name, when in list(restart_at.items()):
                    if time.monotonic() >= when:
                        del restart_at[name]
                        self.stderr.write(f"Restarting {name}.")
                        start(name)
                time.sleep(min(0.5, first_delay / 4))
        except KeyboardInterrupt:
            pass
        finally:
            processes = [process for process, _ in running.values()]
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes:
                try:
                    process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.stdout.write("Stopped.")
