from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("submissions/", views.submission_list, name="submission_list"),
    path("submissions/new/", views.submission_new, name="submission_new"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
    path("callbacks/memories/<str:token>/", views.memories_callback, name="memories_callback"),
    path("healthz", views.healthz, name="healthz"),
]
