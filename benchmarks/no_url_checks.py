"""For benchmarks only (benchmarks/settings.py, with BENCH_URL_CHECKS=off): the pages' and
the API's URL check (uploads/submitting.py) is skipped, so a benchmark of submitting
measures the request's own work and not the fetch of a link. Every caller still runs the
form and its other rules."""

from django.apps import AppConfig


class NoUrlChecks(AppConfig):
    name = "benchmarks"
    label = "benchmarks_no_url_checks"

    def ready(self):
        from django.utils import timezone

        from uploads import submitting
        from uploads.urlcheck.findings import UrlCheck

        def not_checked(url, team, *, confirm_public=False):
            return UrlCheck(checked_at=timezone.now(), problem="not checked (benchmark)")

        submitting.check_link = not_checked
