"""Schemathesis against the served OpenAPI schema: whatever it sends to each operation,
no server error, and every answer (status, content type, body) is one the schema states.

Bounded for CI: EXAMPLES per operation, derandomized, and a short URL-check deadline
(the generated URLs that pass the form's rules point nowhere)."""

import collections
import itertools

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import SubmissionFactory, bearer

EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def token_headers(alice, team_a, settings):
    settings.URL_PROBE_DEADLINE = 0.3
    SubmissionFactory(team=team_a, submitter=alice)  # something to list, read and cancel
    # Requests go through the WSGI application itself, which would close the test's
    # database connection as each request ends (Django's test client does the same).
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield {"Authorization": bearer(alice)["HTTP_AUTHORIZATION"]}
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_to_the_schema(case, token_headers):
    case.call_and_validate(headers=token_headers, checks=CHECKS)


# --- stateful: create, then read and cancel (or confirm) what was created ----------------


def test_what_is_created_is_read_and_cancelled_through_the_schemas_links(
    token_headers, team_a, clip_url
):
    made = itertools.count()
    answered = collections.Counter()

    class Client(schema.as_state_machine()):
        def setup(self):
            # Each scenario starts from the same database (a replay must meet what the
            # first run met): what it made is rolled back at its end.
            self.savepoint = transaction.savepoint_create()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            # Most generated bodies are refused by the form's rules; half of the creations
            # are real ones, so that the links have something to lead to.
            if case.operation.label == "POST /api/v1/submissions" and next(made) % 2 == 0:
                case.body = {"team": team_a.slug, "url": f"{clip_url}?n={next(made)}",
                             "send_again": True}  # fmt: skip
            if case.operation.label == "POST /api/v1/batches" and next(made) % 2 == 0:
                case.body = {"team": team_a.slug, "rows": [{"url": f"{clip_url}?b={next(made)}"}]}
                case.media_type = "application/json"

        def get_call_kwargs(self, case):
            return {"headers": token_headers}

        def after_call(self, response, case):
            answered[case.operation.label, response.status_code] += 1

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Client.run(
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=6, deadline=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )  # fmt: skip
    seen = sorted(answered.items())  # what every operation answered, should one fail
    assert answered["POST /api/v1/submissions", 201], seen
    assert answered["GET /api/v1/submissions/{id}", 200], seen
    assert answered["POST /api/v1/submissions/{id}/cancel", 200], seen
    # A batch's links are there to follow too (the test below); whether a bounded,
    # derandomized run also reads a batch it made depends on the rest of the process (it
    # did alone, not in the whole suite), so it is not asserted here.


def test_what_is_created_links_to_reading_it_and_what_can_be_done_to_it(client):
    served = client.get("/api/v1/openapi.json").json()

    def follows(path, status):
        links = served["paths"][path]["post"]["responses"][status]["links"]
        assert {link["parameters"]["id"] for link in links.values()} == {"$response.body#/id"}
        return {link["operationId"] for link in links.values()}

    assert follows("/api/v1/submissions", "201") == {
        "submissions_retrieve",
        "submissions_cancel_create",
    }
    assert follows("/api/v1/batches", "202") == {"batches_retrieve", "batches_confirm_create"}
