"""Schemathesis against the served OpenAPI schema: whatever it sends to each operation,
no server error, and every answer (status, content type, body) is one the schema states.

Bounded for CI: EXAMPLES per operation, derandomized, and a short URL-check deadline
(the generated URLs that pass the form's rules point nowhere)."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
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
