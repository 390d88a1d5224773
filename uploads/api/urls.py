"""/api/v1/: the endpoints, the OpenAPI schema and its docs page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

# schema: the token scheme, for the OpenAPI schema. Imported here, where the API is
# served, not when the app loads: workers and commands do without its 0.3 s of imports.
from . import docs, schema, views  # noqa: F401

app_name = "api"

urlpatterns = [
    path("me", views.Me.as_view(), name="me"),
    path("teams", views.Teams.as_view(), name="teams"),
    path("submissions", views.Submissions.as_view(), name="submissions"),
    path("submissions/<int:pk>", views.SubmissionDetail.as_view(), name="submission"),
    path("submissions/<int:pk>/cancel", views.SubmissionCancel.as_view(), name="submission_cancel"),
    path("batches", views.Batches.as_view(), name="batches"),
    path("batches/<int:pk>", views.BatchDetail.as_view(), name="batch"),
    path("batches/<int:pk>/confirm", views.BatchConfirm.as_view(), name="batch_confirm"),
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(
            authentication_classes=[], permission_classes=[], throttle_classes=[]
        ),
        name="schema",
    ),
    path("docs/", docs.api_docs, name="docs"),
    re_path(r"^(?P<rest>.*)$", views.NotFound.as_view(), name="not_found"),
]
