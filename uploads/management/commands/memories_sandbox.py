"""Run the memories.ai sandbox (uploads/memories/sandbox/) until Ctrl-C or SIGTERM."""

import argparse
import os
import signal
import threading

from django.core.management.base import BaseCommand

from uploads.memories.sandbox import Sandbox


def account_option(text):
    """NAME:KEY[:PER_MINUTE] of --account."""
    name, _, rest = text.partition(":")
    key, _, per_minute = rest.partition(":")
    if not name or not key or (per_minute and not per_minute.isdigit()):
        raise argparse.ArgumentTypeError("give NAME:KEY or NAME:KEY:PER_MINUTE")
    return name, key, int(per_minute) if per_minute else None


class Command(BaseCommand):
    help = "Serve a strict local imitation of the memories.ai API for demos and tests."
    # The sandbox stands apart from the portal: it runs even while the portal's
    # URLs or models do not pass Django's checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        env = os.environ.get
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--api-key", default=env("SANDBOX_API_KEY", "sk-mavi-sandbox"))
        parser.add_argument(
            "--uploads-per-minute",
            type=int,
            default=int(env("SANDBOX_UPLOADS_PER_MINUTE", "1")),
            help="upload rate limit, as the real API's 1 per minute",
        )
        parser.add_argument(
            "--callback-delay",
            type=float,
            default=float(env("SANDBOX_CALLBACK_DELAY", "3")),
            help="seconds from upload to the UNPARSE callback",
        )
        parser.add_argument(
            "--parse-delay",
            type=float,
            default=float(env("SANDBOX_PARSE_DELAY", "5")),
            help="seconds from the UNPARSE callback to status PARSE",
        )
        parser.add_argument(
            "--no-callbacks",
            action="store_true",
            help="never POST callbacks (as when the portal is not reachable from outside)",
        )
        parser.add_argument("--code-style", choices=["string", "int"], default="string")
        parser.add_argument(
            "--account",
            action="append",
            default=[],
            type=account_option,
            metavar="NAME:KEY[:PER_MINUTE]",
            help="another account at the same address, with its own key, limit and videos "
            "(may be given several times)",
        )

    def handle(self, *args, **options):
        sandbox = Sandbox(
            host=options["host"],
            port=options["port"],
            api_key=options["api_key"],
            uploads_per_interval=options["uploads_per_minute"],
            rate_interval=60.0,
            callback_delay=options["callback_delay"],
            parse_delay=options["parse_delay"],
            callbacks_enabled=not options["no_callbacks"],
            code_style=options["code_style"],
        )
        for name, key, per_minute in options["account"]:
            sandbox.add_account(
                key, name, uploads_per_interval=per_minute or options["uploads_per_minute"]
            )
        stopping = threading.Event()
        # SIGTERM (a process manager, a test) stops like Ctrl-C. SIGINT gets a
        # handler too: a shell starts background jobs with SIGINT ignored.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        sandbox.start()
        self.stdout.write(
            f"memories.ai sandbox listening on {sandbox.url} "
            f"(uploads: {options['uploads_per_minute']}/min, code style: {options['code_style']}"
            f"{'; more accounts: ' if options['account'] else ''}"
            f"{', '.join(name for name, _, _ in options['account'])})"
        )
        self.stdout.flush()
        try:
            stopping.wait()
        finally:
            sandbox.stop()
