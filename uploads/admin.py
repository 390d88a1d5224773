from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html

from . import services, submitting, tasks
from .models import (
    ApiToken,
    Batch,
    BatchRow,
    Event,
    GroupMapping,
    Membership,
    MemoriesAccount,
    Notice,
    PersonSettings,
    Status,
    Submission,
    Team,
    TransitionError,
    UploadGate,
    WebhookEndpoint,
)
from .sending import admission
from .urlcheck import addresses
from .urlcheck import policy as url_policy


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    readonly_fields = ["source"]


class GroupMappingInline(admin.TabularInline):
    model = GroupMapping
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "unique_id",
        "large_files_allowed",
        "monthly_quota",
        "used_this_month",
        "max_waiting_per_person",
        "account",
        "is_active",
        "created_at",
    ]
    list_filter = ["is_active", "large_files_allowed", "account"]
    search_fields = ["name", "slug", "unique_id"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, GroupMappingInline]
    readonly_fields = ["used_this_month"]

    def get_changeform_initial_data(self, request):
        # A new team sends through the default account unless the superuser picks another.
        return {
            "account": MemoriesAccount.default().pk,
            **super().get_changeform_initial_data(request),
        }

    @admin.display(description="uploads this month")
    def used_this_month(self, obj):
        if obj.pk is None:
            return "—"
        quota = admission.quota(obj)
        if quota.limit is None:
            return f"{quota.used} (no quota)"
        return f"{quota.used} of {quota.limit}, {quota.left} left"

    def has_delete_permission(self, request, obj=None):
        # Teams with submissions are protected; deactivate them instead.
        if obj is not None and obj.submissions.exists():
            return False
        return super().has_delete_permission(request, obj)


def key_field(label, help_text):
    """A key's field: never sent to the browser, not even to the superuser who set it;
    left empty, the key stays as it is."""
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
    return forms.CharField(label=label, required=False, widget=widget, help_text=help_text)


class MemoriesAccountForm(forms.ModelForm):
    api_key = key_field(
        "API key",
        "Leave empty to keep the current key. Empty on an account that never had one: "
        "MEMORIES_API_KEY (or the sandbox).",
    )
    second_api_key = key_field(
        "second API key",
        "For rotation without downtime: when memories.ai refuses the first key (0401), the "
        "account moves to this one and goes on sending. Leave empty to keep it.",
    )
    forget_second_key = forms.BooleanField(required=False, label="Forget the second key")

    class Meta:
        model = MemoriesAccount
        fields = ["name", "api_base_url", "api_key", "second_api_key", "uploads_per_minute"]

    def _clean_key(self, name):
        key = self.cleaned_data[name].strip()
        if key and (not key.isascii() or not key.isprintable() or " " in key):
            raise forms.ValidationError(
                "A key holds only printable ASCII characters, without spaces inside."
            )
        return key or getattr(self.instance, name) or None

    def clean_api_key(self):
        return self._clean_key("api_key")

    def clean_second_api_key(self):
        if self.cleaned_data.get("forget_second_key"):
            return None
        return self._clean_key("second_api_key")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("forget_second_key"):
            cleaned["second_api_key"] = None
        return cleaned


@admin.register(MemoriesAccount)
class MemoriesAccountAdmin(admin.ModelAdmin):
    """Superusers only (the whole admin is). Keys are shown by their last four characters."""

    form = MemoriesAccountForm
    list_display = [
        "name",
        "address",
        "key_hint",
        "second_key_hint",
        "pace",
        "state",
        "reason",
        "teams_count",
        "connection",
    ]
    readonly_fields = ["key_hint", "second_key_hint", "state", "reason", "connection"]
    fields = [
        "name",
        "api_base_url",
        "key_hint",
        "api_key",
        "second_key_hint",
        "second_api_key",
        "forget_second_key",
        "uploads_per_minute",
        "state",
        "reason",
        "connection",
    ]
    actions = ["test_connection", "resume_sending"]

    @admin.display(description="API address")
    def address(self, obj):
        return obj.base_url()

    @admin.display(description="key")
    def key_hint(self, obj):
        return obj.key_hint

    @admin.display(description="second key")
    def second_key_hint(self, obj):
        return obj.second_key_hint

    @admin.display(description="uploads a minute")
    def pace(self, obj):
        return f"{obj.per_minute():g}"

    @admin.display(description="state")
    def state(self, obj):
        return "Paused" if obj.pk and UploadGate.get(obj).paused else "Running"

    @admin.display(description="paused because")
    def reason(self, obj):
        return UploadGate.get(obj).paused_reason if obj.pk else ""

    @admin.display(description="teams")
    def teams_count(self, obj):
        return obj.teams.count()

    def has_delete_permission(self, request, obj=None):
        # Teams send through it: move them first (the database refuses otherwise).
        if obj is not None and obj.teams.exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="connection")
    def connection(self, obj):
        check = tasks.connection_check(obj.pk) if obj.pk else None
        if check is None:
            return "Not checked in the last week (the Test connection action checks it)."
        state, at, said = check
        at = formats.localize(timezone.localtime(at))
        if state == "checking":
            return f"Checking… (asked at {at}; reload the page for the result)"
        if state == "lost":
            return f"The check asked at {at} never finished: is the notifications worker running?"
        return f"{'OK' if state == 'ok' else 'Failed'}, checked at {at}: {said}"

    @admin.action(description="Test connection (a list_videos request, never an upload)")
    def test_connection(self, request, queryset):
        # In the background (the notifications worker): memories.ai may take its time.
        for account in queryset:
            tasks.start_connection_check(account.pk)
        names = ", ".join(f"“{a}”" for a in queryset)
        self.message_user(
            request,
            f"Checking the connection of {names}: the result shows in the connection column.",
        )

    @admin.action(description="Resume sending")
    def resume_sending(self, request, queryset):
        for account in queryset:
            services.resume_sending(account)
        names = ", ".join(str(a) for a in queryset)
        self.message_user(request, f"Sending resumed through: {names}.")


@admin.register(PersonSettings)
class PersonSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone", "email_problems", "email_done", "updated_at"]
    list_filter = ["email_problems", "email_done"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "source"]
    list_filter = ["role", "source", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]
    readonly_fields = ["source"]


@admin.register(GroupMapping)
class GroupMappingAdmin(admin.ModelAdmin):
    """A group of the identity provider → a role in a team, applied at each sign-in
    (uploads/signin/groups.py; docs/sign-in.md)."""

    list_display = ["group", "team", "role"]
    list_filter = ["role", "team"]
    search_fields = ["group", "team__name"]
    autocomplete_fields = ["team"]


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "from_status", "to_status", "message", "actor", "repeat_count"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


API_FIELDS = [
    "status",
    "api_status",
    "video_no",
    "unique_id",
    "error_code",
    "error_message",
    "attempts",
    "not_before",
    "lease_expires_at",
    "request_started_at",
    "url_check",
    "created_at",
    "updated_at",
    "sent_at",
    "finished_at",
    "batch",
    "batch_row",
]


class SubmissionAdminForm(forms.ModelForm):
    """Tags as the form takes them (comma-separated words), not as JSON text."""

    tags = forms.CharField(
        required=False, help_text="Comma-separated.", widget=forms.TextInput(attrs={"size": 60})
    )

    class Meta:
        model = Submission
        # Everything the admin shows: the admin reads its fields from this form.
        exclude = ["callback_token_hash"]  # noqa: DJ006

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "tags" in self.fields:
            self.initial["tags"] = ", ".join(self.instance.tags or ())

    def clean_tags(self):
        words = (word.strip() for word in self.cleaned_data["tags"].split(","))
        return list(dict.fromkeys(word for word in words if word))

    def clean_url(self):
        """A new URL for a waiting submission passes the checks of every other door."""
        url = self.cleaned_data["url"].strip()
        if url == self.instance.url:
            return url
        try:
            addresses.check_url(url, **url_policy.address_options())
            found = submitting.check_link(
                url, self.instance.team, confirm_public=self.cleaned_data.get("confirm_public")
            )
        except addresses.UnsafeURL as exc:
            raise forms.ValidationError(str(exc), code="unsafe_url") from exc
        except submitting.LinkProblem as problem:
            raise forms.ValidationError(problem.message, code="link") from None
        self.instance.url_check = found.to_json()
        return url


class SentSubmissionForm(forms.ModelForm):
    class Meta:
        model = Submission
        exclude = ["callback_token_hash", "tags"]  # noqa: DJ006 (the admin reads its fields here)


# What was asked of memories.ai: fixed once the submission left the queue (the video at
# memories.ai was made from these; changing them here would make the record lie).
SENT_AS = ["url", "team", "submitter", *Submission.ASKED[1:], "confirm_public"]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    # The status comes second and the URL is short: at 1280 px, beside the filters, the
    # status column stays in view.
    list_display = ["id", "status", "short_url", "team", "submitter", "video_no", "created_at"]
    form = SubmissionAdminForm
    list_filter = ["status", "team", "created_at"]
    search_fields = ["url", "video_no", "tags", "camera_model"]
    date_hierarchy = "created_at"
    list_select_related = ["team", "submitter"]
    readonly_fields = API_FIELDS
    raw_id_fields = ["submitter"]
    inlines = [EventInline]
    actions = ["resend", "mark_failed", "move_to_front"]

    @admin.display(description="URL")
    def short_url(self, obj):
        return obj.url if len(obj.url) <= 40 else obj.url[:37] + "…"

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(obj.tags or ()) or "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is None or obj.status == Status.QUEUED:
            # Its place, the person's cap and the team's quota were taken for this team and
            # person: moving it elsewhere would leave them counted in the wrong place.
            return [*API_FIELDS, "team", "submitter"]
        sent_as = [name if name != "tags" else "tag_list" for name in SENT_AS]
        return [*API_FIELDS, *sent_as]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None and obj.status != Status.QUEUED:
            # Sent: tags are shown as words (tag_list), not as an input.
            kwargs["form"] = SentSubmissionForm
        return super().get_form(request, obj, **kwargs)

    def get_exclude(self, request, obj=None):
        if obj is not None and obj.status != Status.QUEUED:
            return SentSubmissionForm._meta.exclude
        return SubmissionAdminForm._meta.exclude

    def has_delete_permission(self, request, obj=None):
        # The timeline is the audit trail: submissions are never deleted here.
        return False

    def add_view(self, request, form_url="", extra_context=None):
        # One door for new submissions: the portal's own form and services.submit (the URL
        # check, the cap, the quota, the "created" event, the admin as submitter). A model
        # form saved here would skip every one of them.
        return redirect("submission_new")

    @admin.action(description="Send again (failed or needs review)")
    def resend(self, request, queryset):
        moved = self._each(
            request, queryset.filter(status__in=services.RESENDABLE), services.resend
        )
        self.message_user(request, f"{moved} submission(s) queued to be sent again.")

    @admin.action(description="Mark as failed (needs review)")
    def mark_failed(self, request, queryset):
        markable = queryset.filter(status__in=services.MARKABLE_FAILED)
        moved = self._each(request, markable, services.mark_failed)
        self.message_user(request, f"{moved} submission(s) marked failed.")

    @admin.action(description="Move to the front of their team's line (waiting ones)")
    def move_to_front(self, request, queryset):
        moved = services.move_to_front(request.user, queryset.filter(status=Status.QUEUED))
        self.message_user(
            request, f"{len(moved)} submission(s) moved to the front of their team's line."
        )

    def _each(self, request, queryset, act):
        moved = 0
        for submission in queryset:
            try:
                act(request.user, submission)
                moved += 1
            except TransitionError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        return moved


@admin.register(UploadGate)
class UploadGateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "sending", "paused_reason", "next_allowed_at"]
    readonly_fields = [
        "next_allowed_at",
        "rate_limited_streak",
        "sending",
        "paused_reason",
        "paused_at",
    ]
    actions = ["resume_sending"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="sending")
    def sending(self, obj):
        # Words, not the boolean icons: a red ✕ for "not paused" read as an alarm.
        return "Paused" if obj.paused else "Running"

    @admin.action(description="Resume sending")
    def resume_sending(self, request, queryset):
        for gate in queryset.select_related("account"):
            services.resume_sending(gate.account)
        self.message_user(request, "Sending resumed.")


class ReadOnlyAdmin(admin.ModelAdmin):
    """For the record: seen here, changed only by the portal itself."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefusedRowInline(admin.TabularInline):
    """A batch's rows that need attention; every row is in the rows list (linked above)."""

    model = BatchRow
    verbose_name_plural = "rows refused or not reached"
    fields = ["line", "url", "team", "state", "problem"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def get_queryset(self, request):
        states = [BatchRow.State.REFUSED, BatchRow.State.UNREACHABLE]
        return super().get_queryset(request).filter(state__in=states).select_related("team")

    @admin.display(description="URL")
    def url(self, obj):
        return obj.given.get("url", "")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "created_by", "state", "row_count", "queued_count",
                    "created_at"]  # fmt: skip
    list_filter = ["state", "created_at"]
    search_fields = ["source", "created_by__username"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    readonly_fields = ["all_rows"]
    inlines = [RefusedRowInline]

    @admin.display(description="Rows")
    def all_rows(self, obj):
        url = reverse("admin:uploads_batchrow_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">All {} rows of this batch</a>', url, obj.row_count)


@admin.register(BatchRow)
class BatchRowAdmin(ReadOnlyAdmin):
    list_display = ["id", "batch", "line", "short_url", "team", "state", "problem", "submission"]
    list_filter = ["state"]
    search_fields = ["url", "given", "problem"]
    list_select_related = ["batch", "team", "submission"]
    raw_id_fields = ["batch", "earlier"]

    @admin.display(description="URL")
    def short_url(self, obj):
        url = obj.given.get("url", "")
        return url if len(url) <= 60 else url[:57] + "…"


class DeliveryInline(admin.TabularInline):
    """An endpoint's last deliveries, read-only."""

    model = Notice
    fields = ["created_at", "topic", "state", "status_code", "duration_ms", "attempts"]
    readonly_fields = fields
    ordering = ["-created_at"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        # Bounded: the page must not grow with the log.
        recent = Notice.objects.filter(pk__in=super().get_queryset(request).values("pk")[:100])
        return recent.order_by("-created_at")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "team", "format", "is_active", "created_at"]
    list_filter = ["is_active", "format"]
    search_fields = ["url", "team__name"]
    fields = ["team", "url", "format", "topics", "is_active", "disabled_reason", "created_by"]
    readonly_fields = ["created_by"]
    inlines = [DeliveryInline]


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "topic", "channel", "recipient", "endpoint", "state", "attempts"]
    list_filter = ["state", "channel", "topic"]
    list_select_related = ["recipient", "endpoint"]
    search_fields = ["uid"]
    raw_id_fields = ["submission", "batch", "digest"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Every API token, to see and revoke (tokens are made by their owners, on the Tokens
    page; only their hash is stored, so there is nothing here to copy)."""

    list_display = ["name", "user", "prefix", "scopes", "created_at", "expires_at",
                    "last_used_at", "revoked_at"]  # fmt: skip
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = sum(token.revoke() for token in queryset)
        self.message_user(request, f"Revoked {revoked} tokens.", messages.SUCCESS)
