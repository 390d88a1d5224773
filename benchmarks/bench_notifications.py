"""Notifications: 1,000 final statuses fanned out to 3 webhook endpoints and to people.

In one process on benchmarks/settings.py and a fresh SQLite file, twice: with 5 people
and with 50. Each round makes a team with 3 endpoints (local receivers on loopback that
answer 204; loopback is let through for this benchmark only) and 1,000 processing
submissions spread over its people (half get "done" at once by email, half in the
digest), moves each to Done through `Submission.transition` (each in its own
transaction, as callbacks do), then sends the outbox as the notifications worker does
(`delivery.deliver_due`, webhooks over real HTTP through the URL checker, emails to
Django's in-memory mailer).

Figures per round: status changes per second and the outbox's queries per change;
notifications sent per second and queries per notification. Goal: queries per
notification do not grow with the number of people (50 people ÷ 5 people ≤ 1.10).

Then a hanging endpoint (it takes the connection and never answers): 1,000 notices to it,
written first, and 100 emails to 10 people after them, sent by `deliver_due` as the worker
sends them (its threads, WEBHOOK_DEADLINE 10 s); and side by side the same 100 emails
without the hanging endpoint, three times each, interleaved (a run lasts about a second,
and the machine is shared). Figures: each email's delivery time from the start of its run
(median, slowest). Goal: the slowest email with the hanging endpoint within 1.5× of the
slowest without it, each side's median run.

    .venv/bin/python benchmarks/bench_notifications.py
        (BENCH_NOTIFY_STATUSES, BENCH_HANGING_NOTICES, BENCH_HANGING_EMAILS)
"""

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from machine import machine

STATUSES = int(os.environ.get("BENCH_NOTIFY_STATUSES", 1_000))
ENDPOINTS = 3
RATIO_GOAL = 1.10
HANGING_NOTICES = int(os.environ.get("BENCH_HANGING_NOTICES", 1_000))
HANGING_EMAILS = int(os.environ.get("BENCH_HANGING_EMAILS", 100))
HANGING_GOAL = 1.5


class Answer204(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Hang(BaseHTTPRequestHandler):
    """Takes the request and never answers (until the benchmark ends)."""

    release = threading.Event()

    def do_POST(self):
        self.release.wait(600)

    def log_message(self, *args):
        pass


class QueryCounter:
    """Counts every query, and those of the outbox (notices, endpoints, people's settings),
    from whichever thread runs it."""

    def __init__(self):
        self.all = self.outbox = 0
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self.lock:
            self.all += 1
            if any(table in sql for table in ("notice", "webhook", "personsettings")):
                self.outbox += 1
        return execute(sql, params, many, context)


def counting_deliveries(counter):
    """Counts the queries of the delivery threads too (each has its own connection)."""
    from django.db import connection

    from uploads.notifications import delivery

    plain = delivery._deliver_in_thread

    def counted(notice):
        with connection.execute_wrapper(counter):
            plain(notice)

    delivery._deliver_in_thread = counted
    return lambda: setattr(delivery, "_deliver_in_thread", plain)


def receivers():
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Answer204) for _ in range(ENDPOINTS)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def setup():
    os.environ.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        DATABASE_URL=harness.fresh_sqlite("bench_notifications.sqlite3"),
        ENV_FILE="/nonexistent",
        URL_PROBE_ALLOW_PRIVATE="1",
        URL_PROBE_ALLOWED_PORTS=",".join(str(p) for p in range(1024, 65536)),
        PUBLIC_BASE_URL="https://portal.example.com",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    call_command("migrate", verbosity=0)


def round_with(people_count, servers):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from uploads.models import (
        Event,
        Membership,
        Notice,
        PersonSettings,
        Status,
        Submission,
        Team,
        Topic,
        WebhookEndpoint,
    )
    from uploads.notifications import delivery

    team = Team.objects.create(name=f"Bench {people_count}")
    people = []
    for i in range(people_count):
        person = get_user_model().objects.create_user(
            f"p{people_count}-{i}", email=f"p{people_count}-{i}@example.com"
        )
        Membership.objects.create(team=team, user=person)
        done = PersonSettings.Done.AT_ONCE if i % 2 else PersonSettings.Done.DIGEST
        PersonSettings.objects.create(user=person, email_done=done)
        people.append(person)
    for server in servers:
        WebhookEndpoint.objects.create(
            team=team, url=f"http://127.0.0.1:{server.server_address[1]}/", topics=[Topic.DONE]
        )
    Submission.objects.bulk_create(
        Submission(
            team=team,
            submitter=people[i % people_count],
            url=f"https://videos.example.com/{people_count}/{i}.mp4",
            status=Status.PROCESSING,
        )
        for i in range(STATUSES)
    )
    submissions = list(Submission.objects.filter(team=team))

    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for submission in submissions:
            submission.transition(Status.PARSED, kind=Event.Kind.CALLBACK, message="PARSE")
    change_seconds = time.perf_counter() - started
    outbox_queries = counter.outbox

    counter = QueryCounter()
    started = time.perf_counter()
    restore = counting_deliveries(counter)
    with connection.execute_wrapper(counter):
        sent = 0
        while handled := delivery.deliver_due(time_budget=60):
            sent += handled
    restore()
    send_seconds = time.perf_counter() - started
    assert not Notice.objects.filter(state=Notice.State.PENDING).exists(), "some were not sent"
    failed = Notice.objects.filter(state=Notice.State.FAILED).count()
    per_notification = counter.all / sent
    print(
        f"  {people_count} people: {STATUSES} status changes at "
        f"{STATUSES / change_seconds:.0f}/s, {outbox_queries / STATUSES:.2f} outbox queries "
        f"each; {sent} notifications ({ENDPOINTS * STATUSES} webhooks, "
        f"{sent - ENDPOINTS * STATUSES} emails, {failed} failed) sent at "
        f"{sent / send_seconds:.0f}/s, {1000 * send_seconds / sent:.2f} ms and "
        f"{per_notification:.2f} queries per notification",
        flush=True,
    )
    return per_notification


def emails_beside(hanging_url, label):
    """100 emails (after 1,000 notices to `hanging_url`, if given), sent as the worker sends
    them; returns each email's delivery time in seconds from the start, in order."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from uploads.models import Notice, Team, Topic, WebhookEndpoint
    from uploads.notifications import delivery

    team = Team.objects.create(name=f"Hanging {label}")
    if hanging_url:
        endpoint = WebhookEndpoint.objects.create(team=team, url=hanging_url, topics=[])
        Notice.objects.bulk_create(
            Notice(topic=Topic.DONE, channel=Notice.Channel.WEBHOOK, endpoint=endpoint,
                   facts={"submission": i, "status_label": "Done", "url": "u"})
            for i in range(HANGING_NOTICES)
        )  # fmt: skip
    people = [
        get_user_model().objects.create_user(f"{label}-{i}", email=f"{label}-{i}@example.com")
        for i in range(10)
    ]
    at = timezone.now().isoformat()
    emails = Notice.objects.bulk_create(
        Notice(topic=Topic.FAILED, channel=Notice.Channel.EMAIL, recipient=people[i % 10],
               facts={"submission": i, "status_label": "Failed", "url": "u", "at": at})
        for i in range(HANGING_EMAILS)
    )  # fmt: skip
    ids = [email.pk for email in emails]
    started = timezone.now()
    worker = threading.Thread(target=delivery.deliver_due, kwargs={"time_budget": 60})
    worker.start()
    sent = Notice.objects.filter(pk__in=ids, state=Notice.State.SENT)
    while sent.count() < len(ids) and worker.is_alive():
        time.sleep(0.05)
    times = sorted((at - started).total_seconds() for at in sent.values_list("sent_at", flat=True))
    Notice.objects.filter(state=Notice.State.PENDING).update(state=Notice.State.DROPPED)
    worker.join()  # its budget runs out; the hanging deliveries end at their deadline
    assert len(times) == len(ids), f"{len(ids) - len(times)} emails were not sent"
    hanging = Notice.objects.filter(channel=Notice.Channel.WEBHOOK, endpoint__team=team)
    tried = hanging.exclude(attempts=0).count()
    print(
        f"  {label}: {len(ids)} emails, median {times[len(times) // 2]:.2f} s, slowest "
        f"{times[-1]:.2f} s"
        + (f"; the hanging endpoint was tried {tried} times" if hanging_url else ""),
        flush=True,
    )
    return times


def hanging_round():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"a hanging endpoint: {HANGING_NOTICES} notices, then {HANGING_EMAILS} emails")
    alone, beside = [], []
    for run in range(3):
        alone.append(emails_beside(None, f"without-{run}")[-1])
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        beside.append(emails_beside(url, f"with-{run}")[-1])
    Hang.release.set()
    server.shutdown()
    ratio = sorted(beside)[1] / sorted(alone)[1]
    ok = ratio <= HANGING_GOAL
    print(
        f"slowest email (median run), with the hanging endpoint ÷ without: ratio {ratio:.3f} "
        f"(goal ≤ {HANGING_GOAL}){'' if ok else ' MISSED'}"
    )
    return ok


def main():
    print(f"notifications: {machine()}")
    setup()
    servers = receivers()
    few = round_with(5, servers)
    many = round_with(50, servers)
    ratio = many / few
    ok = ratio <= RATIO_GOAL
    print(
        f"queries per notification, 50 people ÷ 5 people: ratio {ratio:.3f} "
        f"(goal ≤ {RATIO_GOAL}){'' if ok else ' MISSED'}"
    )
    for server in servers:
        server.shutdown()
    return 0 if ok and hanging_round() else 1


if __name__ == "__main__":
    sys.exit(main())
