"""The OpenAPI schema's shared parts: the token scheme, and the problem+json answers
every operation may give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

# Answers any operation may give, besides its own (the endpoints name theirs).
PROBLEMS = {
    "400": "The request has errors (field messages in `errors`), or its body cannot be read.",
    "401": "No token, or one that is unknown, revoked or expired, or whose user is deactivated.",
    "403": "The token lacks the scope, or the person may not do this.",
    "404": "No such object in your teams (or no such endpoint).",
    "405": "Another method is expected.",
    "406": "Answers are JSON.",
    "409": "The object is not in a state that allows this.",
    "413": "The body is larger than API_MAX_BODY_BYTES.",
    "415": "The body is neither JSON nor (for a batch) CSV.",
    "422": "An Idempotency-Key used before with another request.",
    "429": "Over the token's requests a minute; Retry-After says when to try again.",
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Messages by field; `__all__` for the request as a whole.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "uploads.api.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token from the Tokens page.",
        }


def add_problem_responses(result, generator, request, public):
    """Every operation may answer these, as application/problem+json."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    reference = {"$ref": "#/components/schemas/Problem"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in PROBLEMS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/problem+json": {"schema": reference}},
                    },
                )
    return result


# What a client does next with what it created: OpenAPI links, which Schemathesis follows
# to read and cancel (or confirm) what it has just made (tests/fast/test_api_schema.py).
LINKS = {
    ("submissions_create", "201"): {
        "GetSubmission": "submissions_retrieve",
        "CancelSubmission": "submissions_cancel_create",
    },
    ("batches_create", "202"): {
        "GetBatch": "batches_retrieve",
        "ConfirmBatch": "batches_confirm_create",
    },
}


def add_links(result, generator, request, public):
    """Each creating operation's answer links to the operations on what it created (by the
    `id` in its body)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                links = LINKS.get((operation.get("operationId"), status))
                if links:
                    response["links"] = {
                        name: {"operationId": target, "parameters": {"id": "$response.body#/id"}}
                        for name, target in links.items()
                    }
    return result
