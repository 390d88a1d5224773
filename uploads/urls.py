from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("users/<int:pk>/dashboard/", views.user_dashboard, name="user_dashboard"),
    path("teams/<slug:slug>/", views.team_dashboard, name="team_dashboard"),
    path("submissions/", views.submission_list, name="submission_list"),
    path("submissions/export.csv", views.submission_export, name="submission_export"),
    path("submissions/status/", views.submission_statuses, name="submission_statuses"),
    path("submissions/new/", views.submission_new, name="submission_new"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
    path("sending/resume/", views.sending_resume, name="sending_resume"),
    path("callbacks/memories/<str:token>/", views.memories_callback, name="memories_callback"),
    path("healthz", views.healthz, name="healthz"),
]
