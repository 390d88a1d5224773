from django.core.management.base import BaseCommand

from uploads.sending.polling import poll_once


class Command(BaseCommand):
    help = "Ask memories.ai once for the status of every processing submission that is due."

    def handle(self, **options):
        changed = poll_once()
        self.stdout.write(f"{changed} submission(s) changed status.")
