from django.urls import path

from .views import batches, bulk, callbacks, notifications, operations, pages, tokens

urlpatterns = [
    path("", pages.home, name="home"),
    path("users/<int:pk>/dashboard/", pages.user_dashboard, name="user_dashboard"),
    path("teams/<slug:slug>/", pages.team_dashboard, name="team_dashboard"),
    path("submissions/", pages.submission_list, name="submission_list"),
    path("submissions/export.csv", pages.submission_export, name="submission_export"),
    path("submissions/status/", pages.submission_statuses, name="submission_statuses"),
    path("submissions/bulk/", bulk.submission_bulk, name="submission_bulk"),
    path("submissions/new/", pages.submission_new, name="submission_new"),
    path("submissions/<int:pk>/", pages.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/cancel/", pages.submission_cancel, name="submission_cancel"),
    path("submissions/<int:pk>/resend/", pages.submission_resend, name="submission_resend"),
    path(
        "submissions/<int:pk>/mark-failed/",
        pages.submission_mark_failed,
        name="submission_mark_failed",
    ),
    path("batches/new/", batches.batch_new, name="batch_new"),
    path("batches/template.csv", batches.batch_template, name="batch_template"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", batches.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/queue/", batches.batch_confirm, name="batch_confirm"),
    path("batches/<int:pk>/cancel/", batches.batch_cancel, name="batch_cancel"),
    path("batches/<int:pk>/front/", batches.batch_move_to_front, name="batch_move_to_front"),
    path("batches/<int:pk>/to-fix.csv", batches.batch_rows_to_fix, name="batch_rows_to_fix"),
    path(
        "submissions/<int:pk>/front/",
        pages.submission_move_to_front,
        name="submission_move_to_front",
    ),
    path("settings/", pages.person_settings, name="person_settings"),
    path("unsubscribe/<str:token>/", notifications.unsubscribe, name="unsubscribe"),
    path("teams/<slug:slug>/webhooks/", notifications.webhook_list, name="webhook_list"),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/", notifications.webhook_detail, name="webhook_detail"
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/edit/", notifications.webhook_edit, name="webhook_edit"
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/deliveries/<int:notice_pk>/",
        notifications.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/deliveries/<int:notice_pk>/redeliver/",
        notifications.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/test/",
        notifications.webhook_test,
        name="webhook_test",
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/enable/",
        notifications.webhook_enable,
        name="webhook_enable",
    ),
    path(
        "teams/<slug:slug>/webhooks/<int:pk>/delete/",
        notifications.webhook_delete,
        name="webhook_delete",
    ),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("sending/resume/", operations.sending_resume, name="sending_resume"),
    path("callbacks/memories/<str:token>/", callbacks.memories_callback, name="memories_callback"),
    path("healthz", operations.healthz, name="healthz"),
    path("healthz/workers", operations.healthz_workers, name="healthz_workers"),
    path("metrics", operations.metrics_text, name="metrics"),
]
