"""The API's docs page: Swagger UI from the vendored sidecar files, started by a script
file of ours (no inline script or style, so the Content Security Policy holds)."""

from django.shortcuts import render
from django.urls import reverse


def api_docs(request):
    return render(request, "api/docs.html", {"schema_url": reverse("api:schema")})
