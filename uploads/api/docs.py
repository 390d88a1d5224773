"""The API's docs page: the served OpenAPI schema, rendered by the portal's own templates.

A page of plain HTML in the portal's style, with no script: it reads on a phone and with a
screen reader, and the Content Security Policy has nothing to refuse. The schema itself is
at /api/v1/openapi.json for tools that generate clients."""

import functools
import json
import re

from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
# What a request example fills in, by field name; other fields by their type.
SAMPLES = {
    "team": "field-ops",
    "url": "https://videos.example.com/clip.mp4",
    "rows": [
        {"url": "https://videos.example.com/a.mp4"},
        {"url": "https://videos.example.com/b.mp4"},
    ],
    "confirm_public": False,
    "status": "failed",
}
BY_TYPE = {"string": "…", "boolean": True, "integer": 1, "number": 1, "array": [], "object": {}}


@functools.cache
def reference():
    """The schema as the page lists it: operations by tag, and the shapes they name."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    shapes = schema["components"]["schemas"]
    sections = {}
    for path, operations in schema["paths"].items():
        for method in METHODS:
            if method in operations:
                operation = _operation(path, method, operations[method])
                operation["example"] = _example(path, method, operations[method], shapes)
                sections.setdefault(operation["tag"], []).append(operation)
    shapes = [
        _shape(name, shape)
        for name, shape in schema["components"]["schemas"].items()
        if "properties" in shape
    ]
    info = {**schema["info"], "description": prose(schema["info"].get("description", ""))}
    return info, list(sections.items()), shapes


# --- the descriptions' markdown, the little of it they use -------------------------

LIST_ITEM = re.compile(r"^\s*[*-] (.*)$")
# drf-spectacular lists an enum as "`value` - Label": read as "value: Label".
ENUM_ITEM = re.compile(r"^`([^`]+)` - (.*)$")


def prose(text):
    """HTML for a description's paragraphs, "* " lists, `code` and **strong**, everything
    else escaped: the schema's words are ours, but nothing in them can become markup."""
    html, paragraph, items = [], [], []

    def flush():
        if paragraph:
            html.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            html.append('<ul class="api-list">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.strip().splitlines():
        item = LIST_ITEM.match(line)
        if item:
            if paragraph:
                flush()
            items.append(_item(item.group(1)))
        elif line.strip():
            if items:
                flush()
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    # Every piece of text was escaped above; only the tags written here are markup.
    return mark_safe("".join(html))  # noqa: S308


def inline(text):
    """prose() for a line: `code` and **strong**, no paragraph."""
    return mark_safe(_inline(" ".join(text.split())))  # noqa: S308 (escaped in _inline)


def _item(text):
    enum = ENUM_ITEM.match(text)
    if not enum:
        return _inline(text)
    value, label = enum.groups()
    shown = f"<code>{escape(value)}</code>"
    return shown if label.lstrip("-") == value.lstrip("-") else f"{shown}: {_inline(label)}"


def _inline(text):
    out = []
    for part in re.split(r"(`[^`]+`)", text):
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{escape(part[1:-1])}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(part))))
    return "".join(out)


# --- a request per operation, as a script sends it ----------------------------------


def _example(path, method, operation, shapes):
    """The lines of a curl command for the operation ("{base}" stands for the portal)."""
    target = re.sub(r"\{id\}", "123", path)
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    if method == "get" and "status" in query:
        target += f"?status={SAMPLES['status']}"
    lines = [f'curl -X {method.upper()} "{{base}}{target}"', '-H "Authorization: Bearer $TOKEN"']
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        lines.append('-H "Content-Type: application/json"')
        lines.append(f"-d '{json.dumps(_sample(body['schema'], shapes))}'")
    return " \\\n  ".join(lines)


def _sample(schema, shapes):
    """A body with the shape's required fields (or its first one, if none is required)."""
    shape = shapes[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema
    properties = {k: v for k, v in shape.get("properties", {}).items() if not v.get("readOnly")}
    names = [n for n in properties if n in shape.get("required", [])] or list(properties)[:1]
    return {n: SAMPLES.get(n, BY_TYPE.get(properties[n].get("type"), "…")) for n in names}


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
        "description": prose(operation.get("description", "")),
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": p.get("required", False),
                "type": _type(p.get("schema", {})),
                "description": prose(p.get("description", "")),
            }
            for p in operation.get("parameters", [])
        ],
        "body": [(kind, _type(content.get("schema", {}))) for kind, content in body.items()],
        "responses": [
            (
                code,
                inline(answer.get("description", "")),
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
        "description": prose(shape.get("description", "")),
        "fields": [
            {
                "name": field,
                "type": _type(schema),
                "required": field in required,
                "read_only": schema.get("readOnly", False),
                "description": prose(schema.get("description", "")),
            }
            for field, schema in shape["properties"].items()
        ],
    }


def api_docs(request):
    info, sections, shapes = reference()
    # The examples name this very portal (the reference itself is cached for every host).
    base = request.build_absolute_uri("/").rstrip("/")
    sections = [
        (tag, [{**op, "example": op["example"].replace("{base}", base)} for op in operations])
        for tag, operations in sections
    ]
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
