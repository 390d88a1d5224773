"""gunicorn's settings, from the environment:

    gunicorn -c gunicorn.conf.py memories_portal.wsgi

| variable | default |
| --- | --- |
| GUNICORN_BIND | 0.0.0.0:$PORT when PORT is set, else 127.0.0.1:8000 |
| GUNICORN_WORKERS | 2 × CPUs + 1 |
| GUNICORN_THREADS | 16 (threads per worker: gthread) |
| GUNICORN_TIMEOUT | 30 (seconds a request may take before its worker is restarted) |
| GUNICORN_KEEPALIVE | 75 (seconds an idle keep-alive connection is kept open) |
| FORWARDED_ALLOW_IPS | 127.0.0.1,::1 (proxies whose X-Forwarded-Proto gunicorn believes) |
| GUNICORN_ACCESS_LOG | - (stdout; a file name, or "off") |
| GUNICORN_ACCESS_LOG_FORMAT | the combined format, with the time taken in ms |
| GUNICORN_CONTROL_SOCKET | none: gunicorn's control socket is off |
| PROMETHEUS_MULTIPROC_DIR | where every process writes its counters for /metrics |
"""

import multiprocessing
import os
import sys

from gunicorn.glogging import Logger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from memories_portal.logging import MaskCallbackTokens, mask_tokens  # noqa: E402


def _int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


if os.environ.get("GUNICORN_BIND"):
    bind = os.environ["GUNICORN_BIND"].split(",")
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
# Threaded workers: a request whose client is slow holds one thread, not a whole worker,
# and for REQUEST_BODY_TIMEOUT at most while its body arrives (memories_portal/
# slow_clients.py). Enough threads that a handful of slow clients cannot take them all
# (benchmarks/bench_slow_clients.py); each thread may hold a database connection for
# CONN_MAX_AGE, so workers × threads must fit in PostgreSQL's max_connections.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 16)
timeout = _int("GUNICORN_TIMEOUT", 30)
# Longer than its clients keep an idle connection to it (nginx's upstream keepalive_timeout,
# 60 s, deploy/nginx/): a connection closed here just as its client reuses it fails that
# request, a POST included, with no answer at all (the client's ConnectionError, nginx's
# 502). gthread keeps an idle connection in its poller, not in a thread.
keepalive = _int("GUNICORN_KEEPALIVE", 75)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
if accesslog.lower() in ("", "off", "none"):
    accesslog = None
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms',
)
errorlog = "-"

# gunicorn's runtime control socket (for gunicornc) has one fixed path per
# user: several gunicorns on a machine would contend for it, and it is one more
# way in. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


class TokenMaskingLogger(Logger):
    """gunicorn's logger, with callback tokens masked in access and error lines.

    A callback token in a log file would let its reader report a status for
    someone else's video.
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            name: mask_tokens(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(MaskCallbackTokens())


logger_class = TokenMaskingLogger


def child_exit(server, worker):
    """A worker that exits leaves its files in PROMETHEUS_MULTIPROC_DIR: its counts still
    add up (a counter must not go back), its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
