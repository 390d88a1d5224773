from django.urls import path

from .views import callbacks, operations, pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("users/<int:pk>/dashboard/", pages.user_dashboard, name="user_dashboard"),
    path("teams/<slug:slug>/", pages.team_dashboard, name="team_dashboard"),
    path("submissions/", pages.submission_list, name="submission_list"),
    path("submissions/export.csv", pages.submission_export, name="submission_export"),
    path("submissions/status/", pages.submission_statuses, name="submission_statuses"),
    path("submissions/new/", pages.submission_new, name="submission_new"),
    path("submissions/<int:pk>/", pages.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/cancel/", pages.submission_cancel, name="submission_cancel"),
    path(
        "submissions/<int:pk>/front/",
        pages.submission_move_to_front,
        name="submission_move_to_front",
    ),
    path("sending/resume/", operations.sending_resume, name="sending_resume"),
    path("callbacks/memories/<str:token>/", callbacks.memories_callback, name="memories_callback"),
    path("healthz", operations.healthz, name="healthz"),
]
