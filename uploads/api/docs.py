"""The API's docs page: the served OpenAPI schema, rendered by the portal's own templates.

A page of plain HTML in the portal's style, with no script: it reads on a phone and with a
screen reader, and the Content Security Policy has nothing to refuse. The schema itself is
at /api/v1/openapi.json for tools that generate clients."""

import functools

from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def reference():
    """The schema as the page lists it: operations by tag, and the shapes they name."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    sections = {}
    for path, operations in schema["paths"].items():
        for method in METHODS:
            if method in operations:
                operation = _operation(path, method, operations[method])
                sections.setdefault(operation["tag"], []).append(operation)
    shapes = [
        _shape(name, shape)
        for name, shape in schema["components"]["schemas"].items()
        if "properties" in shape
    ]
    return schema["info"], list(sections.items()), shapes


def _type(schema):
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema or "oneOf" in schema or "anyOf" in schema:
        options = schema.get("allOf") or schema.get("oneOf") or schema.get("anyOf")
        return " or ".join(_type(option) for option in options)
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"] if v not in ("", None))
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _operation(path, method, operation):
    body = operation.get("requestBody", {}).get("content", {})
    return {
        "id": operation["operationId"],
        "method": method.upper(),
        "path": path,
        "tag": (operation.get("tags") or ["other"])[0],
        "summary": operation.get("summary", ""),
        "description": operation.get("description", ""),
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": p.get("required", False),
                "type": _type(p.get("schema", {})),
                "description": p.get("description", ""),
            }
            for p in operation.get("parameters", [])
        ],
        "body": [(kind, _type(content.get("schema", {}))) for kind, content in body.items()],
        "responses": [
            (
                code,
                answer.get("description", ""),
                ", ".join(
                    f"{_type(content.get('schema', {}))} ({kind})"
                    for kind, content in answer.get("content", {}).items()
                ),
            )
            for code, answer in sorted(operation.get("responses", {}).items())
        ],
    }


def _shape(name, shape):
    required = set(shape.get("required", []))
    return {
        "name": name,
        "description": shape.get("description", ""),
        "fields": [
            {
                "name": field,
                "type": _type(schema),
                "required": field in required,
                "read_only": schema.get("readOnly", False),
                "description": schema.get("description", ""),
            }
            for field, schema in shape["properties"].items()
        ],
    }


def api_docs(request):
    info, sections, shapes = reference()
    return render(
        request,
        "api/docs.html",
        {
            "info": info,
            "sections": sections,
            "shapes": shapes,
            "schema_url": reverse("api:schema"),
        },
    )
