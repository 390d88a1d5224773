"""What the API answers (read-only serializers), and the shapes of its requests for the
OpenAPI schema. Requests are validated by the pages' own forms (uploads/forms.py,
uploads/batches/forms.py), never by rules written again here."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..filters import SORTS
from ..models import ApiToken, Batch, BatchRow, Event, Status, Submission, Team


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.CharField(help_text="member or manager")

    class Meta:
        model = Team
        fields = ["slug", "name", "unique_id", "role"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    teams = TeamSerializer(many=True)
    token = serializers.DictField(help_text="The calling token: name, scopes, expires_at.")


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)

    class Meta:
        model = Event
        fields = ["created_at", "kind", "from_status", "to_status", "message", "actor",
                  "repeat_count"]  # fmt: skip


class SubmissionSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    submitter = serializers.CharField(source="submitter.username")
    status_label = serializers.CharField(source="get_status_display")
    latitude = serializers.DecimalField(max_digits=10, decimal_places=7, allow_null=True)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=7, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    queue_place = serializers.IntegerField(
        source="place", allow_null=True, default=None,
        help_text="Its place in the queue while it waits (1: next to be sent).",
    )  # fmt: skip
    estimated_send_at = serializers.DateTimeField(
        source="eta", allow_null=True, default=None,
        help_text="When it should be sent, while it waits (null while sending is paused).",
    )  # fmt: skip

    class Meta:
        model = Submission
        fields = ["id", "url", "team", "submitter", "status", "status_label", "created_at",
                  "datetime_taken", "camera_model", "latitude", "longitude", "tags",
                  "retain_original_video", "video_transcription_prompt", "confirm_public",
                  "video_no", "error_code", "error_message", "batch", "sent_at", "finished_at",
                  "queue_place", "estimated_send_at"]  # fmt: skip


def submission_body(submission):
    """One submission as SubmissionSerializer shows it, by one serializer made once: a
    ModelSerializer works its fields out of the model each time one is made, which was
    most of the cost of a create's answer (benchmarks/bench_api.py). Showing a submission
    keeps no state in the serializer, so threads share it."""
    return _ONE_SUBMISSION.to_representation(submission)


_ONE_SUBMISSION = SubmissionSerializer()


class SubmissionDetailSerializer(SubmissionSerializer):
    events = EventSerializer(many=True, help_text="Its timeline, oldest first.")

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "events"]


class SubmissionPageSerializer(serializers.Serializer):
    results = SubmissionSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")


class BatchRowSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="given.url", default="")
    team = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True,
        help_text="Its team, once the row is checked (null before, or when none fits).",
    )  # fmt: skip
    submission = serializers.IntegerField(source="submission.pk", allow_null=True, default=None)

    class Meta:
        model = BatchRow
        fields = ["line", "url", "team", "state", "problem", "earlier", "submission"]


class BatchSerializer(serializers.ModelSerializer):
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows by state (batches.service.row_counts)."
    )
    submission_counts = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True,
        help_text="Its submissions by status, once queued.",
    )  # fmt: skip
    rows = BatchRowSerializer(
        source="rows_shown", many=True, help_text="A page of its rows, by line."
    )
    rows_next = serializers.URLField(allow_null=True, help_text="The next page of rows.")

    class Meta:
        model = Batch
        fields = ["id", "state", "source", "created_at", "row_count", "checked_at",
                  "confirmed_at", "confirm_when_checked", "confirm_public", "send_again",
                  "queued_count", "counts", "submission_counts", "rows", "rows_next"]  # fmt: skip


class ConfirmedSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    held = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    not_in_team = serializers.IntegerField()


class TokenInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "expires_at"]


# --- request shapes, for the schema (the forms validate) --------------------------------

TEAM_HELP = "One of your teams: its slug (or its number)."


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class TextOrWholeNumber(serializers.CharField):
    """Text, or a JSON integer (a team's number)."""


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class TextOrNumber(serializers.CharField):
    """Text, or a JSON number (degrees: "48,8566" as a spreadsheet writes it, or 48.8566)."""


@extend_schema_field(
    {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}
)
class TagList(serializers.ListField):
    """A list of strings, or the form's own text: one string, comma-separated."""

    child = serializers.CharField()


class SubmissionRequest(serializers.Serializer):
    team = TextOrWholeNumber(help_text=TEAM_HELP)
    url = serializers.CharField(max_length=2048)
    datetime_taken = serializers.DateTimeField(required=False, allow_null=True)
    camera_model = serializers.CharField(required=False, allow_blank=True, max_length=128)
    latitude = TextOrNumber(
        required=False, allow_blank=True, allow_null=True, help_text="Decimal degrees, −90 to 90."
    )
    longitude = TextOrNumber(
        required=False, allow_blank=True, allow_null=True, help_text="Decimal degrees, −180 to 180."
    )
    tags = TagList(required=False)
    retain_original_video = serializers.BooleanField(required=False)
    video_transcription_prompt = serializers.CharField(required=False, allow_blank=True)
    confirm_public = serializers.BooleanField(
        required=False,
        help_text="The URL is publicly reachable although the portal could not reach it.",
    )
    send_again = serializers.BooleanField(
        required=False, help_text="Send a URL the team already has again."
    )


class BatchRowRequest(serializers.Serializer):
    url = serializers.CharField()
    team = TextOrWholeNumber(required=False, help_text="Its team's slug, name or scope.")
    datetime_taken = serializers.CharField(required=False)
    camera_model = serializers.CharField(required=False)
    latitude = TextOrNumber(required=False)
    longitude = TextOrNumber(required=False)
    tags = TagList(required=False, help_text="A list, or one comma-separated string.")
    retain_original_video = serializers.BooleanField(required=False)
    video_transcription_prompt = serializers.CharField(required=False)


class BatchRequest(serializers.Serializer):
    rows = BatchRowRequest(many=True, help_text="At most BATCH_MAX_ROWS (10,000) rows.")
    team = TextOrWholeNumber(help_text=TEAM_HELP + " For every row without its own.")
    tags = TagList(required=False)
    camera_model = serializers.CharField(required=False, allow_blank=True)
    video_transcription_prompt = serializers.CharField(required=False, allow_blank=True)
    retain_original_video = serializers.BooleanField(required=False)
    confirm = serializers.BooleanField(
        required=False, help_text="Queue the ready rows as soon as they are checked."
    )
    confirm_public = serializers.BooleanField(required=False)
    send_again = serializers.BooleanField(required=False)


class ConfirmRequest(serializers.Serializer):
    confirm_public = serializers.BooleanField(required=False)
    send_again = serializers.BooleanField(required=False)


class SubmissionQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    team = serializers.CharField(required=False, help_text="A team's slug.")
    submitter = serializers.CharField(
        required=False, help_text="me (the default), any, or a teammate's id."
    )
    tag = serializers.CharField(required=False)
    q = serializers.CharField(required=False, help_text="Search URL, video number, camera.")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    sort = serializers.ChoiceField(choices=["-date", "date"], required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


DATE_SORTS = {key: SORTS[key][1] for key in ("-date", "date")}


# --- the JSON types of a request: checked before the forms read it as text ------------


def type_errors(shape, data, where=""):
    """{field: [message]} for each value of `data` (a dict) whose JSON type is not the one
    its field in `shape` (a request serializer) takes: a boolean is `true` or `false`, a
    list a list, text a string. What a valid value is stays the forms' to say."""
    fields = shape().fields
    errors = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None:
            continue  # unknown fields are refused by name elsewhere
        wanted = _wanted(field, value)
        if wanted:
            errors[f"{where}{name}"] = [f"Give {wanted}, not {_json_kind(value)}."]
    return errors


def _wanted(field, value):
    """What the field takes, in words, when `value` is not it; None when it is (or when the
    field is a nested shape, checked by its own caller: a batch's rows)."""
    kind = next((kind for kind in _TAKES if isinstance(field, kind)), None)
    if kind is None or (value is None and field.allow_null):
        return None
    takes, accepts = _TAKES[kind]
    return None if value is not None and accepts(value) else takes


def _is_text(value):
    return isinstance(value, str)


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


_TAKES = {  # the most specific field classes first
    serializers.BooleanField: ("true or false", lambda v: isinstance(v, bool)),
    TagList: (
        "a list of strings (or one comma-separated string)",
        lambda v: _is_text(v) or (isinstance(v, list) and all(map(_is_text, v))),
    ),
    TextOrWholeNumber: (
        "a string (or a whole number)",
        lambda v: _is_text(v) or (_is_number(v) and isinstance(v, int)),
    ),
    TextOrNumber: ("a number or a string", lambda v: _is_text(v) or _is_number(v)),
    serializers.DateTimeField: ("a date and time as a string", _is_text),
    serializers.CharField: ("a string", _is_text),
}


def _json_kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string"
