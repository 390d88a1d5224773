"""The submission list's filters: a GET form, so every view of the list is a bookmarkable URL.

The form narrows a queryset that is already limited to what the user may see;
its team and submitter choices are only the user's own teams and teammates.
"""

from datetime import datetime, time, timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from .dates import EARLIEST_DATE, LATEST_DATE, OUT_OF_RANGE
from .models import Status, Tag, Team
from .selectors import visible_people, visible_teams

ME, ANYONE = "me", "any"

# What needs a person: the manager's "Needs attention" list on the team dashboard and the
# list the needs-review banner links to are both this one selection, oldest first.
NEEDS_ATTENTION = "attention"
ATTENTION_STATUSES = (Status.NEEDS_REVIEW, Status.FAILED)


def needs_attention(submissions):
    """The ones that need a person (needs review, failed), oldest first."""
    return submissions.filter(status__in=ATTENTION_STATUSES).order_by("created_at", "id")


# Statuses in the order a submission lives through them, for sorting by status.
LIFECYCLE = (
    Status.QUEUED,
    Status.SENDING,
    Status.PROCESSING,
    Status.NEEDS_REVIEW,
    Status.PARSED,
    Status.PARSE_ERROR,
    Status.FAILED,
    Status.CANCELLED,
)
_STATUS_RANK = Case(*(When(status=s, then=Value(i)) for i, s in enumerate(LIFECYCLE)))

SORTS = {
    "-date": ("Newest first", ("-created_at", "-id")),
    "date": ("Oldest first", ("created_at", "id")),
    "status": ("Status, waiting first", (_STATUS_RANK.asc(), "-created_at", "-id")),
    "-status": ("Status, cancelled first", (_STATUS_RANK.desc(), "-created_at", "-id")),
}
DEFAULT_SORT = "-date"


def date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "min": EARLIEST_DATE.isoformat(), "max": LATEST_DATE.isoformat()}
        ),
        validators=[
            MinValueValidator(EARLIEST_DATE, message=OUT_OF_RANGE),
            MaxValueValidator(LATEST_DATE, message=OUT_OF_RANGE),
        ],
    )


class SubmissionFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "URL, video no., camera"}),
    )
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            (NEEDS_ATTENTION, "Needs attention (needs review or failed)"),
            *Status.choices,
        ],
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        to_field_name="slug",
        empty_label="All my teams",
    )
    # A CharField with a select, not a ChoiceField: the user's own id is valid
    # (it means "me") without being listed twice.
    submitter = forms.CharField(label="Submitted by", required=False, widget=forms.Select)
    tag = forms.CharField(required=False, max_length=64)
    date_from = date_field("From")
    date_to = date_field("To")
    sort = forms.ChoiceField(
        required=False, choices=[(key, label) for key, (label, _) in SORTS.items()]
    )

    def __init__(self, data, *, user):
        super().__init__(data)
        self.user = user
        self.fields["team"].queryset = visible_teams(user)
        people = visible_people(user)
        self.people = {str(pk): name for pk, name in people.values_list("pk", "username")}
        self.fields["submitter"].widget.choices = [
            (ME, "Me"),
            (ANYONE, "Anyone" if user.is_superuser else "Anyone in my teams"),
            *((pk, name) for pk, name in self.people.items() if pk != str(user.pk)),
        ]

    def clean_submitter(self):
        value = self.cleaned_data["submitter"] or ME
        if value == str(self.user.pk):
            return ME
        if value not in (ME, ANYONE) and value not in self.people:
            raise forms.ValidationError("Choose someone in your teams.", code="invalid_choice")
        return value

    def clean_sort(self):
        return self.cleaned_data["sort"] or DEFAULT_SORT

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def names_the_unknown(self):
        """True when the query names a team or person outside the user's teams.

        The views answer 404 then, as for any other team's data: no hint of what exists.
        """
        return self.has_error("team", "invalid_choice") or self.has_error(
            "submitter", "invalid_choice"
        )

    @property
    def values(self):
        """The valid filters; an invalid field (shown with its error) narrows nothing."""
        self.is_valid()
        return self.cleaned_data

    def filter(self, submissions):
        """`submissions` narrowed by every valid filter, in the chosen order."""
        f = self.values
        submitter = f.get("submitter", ME)
        if submitter == ME:
            submissions = submissions.filter(submitter=self.user)
        elif submitter != ANYONE:
            submissions = submissions.filter(submitter_id=int(submitter))
        if f.get("status") == NEEDS_ATTENTION:
            submissions = submissions.filter(status__in=ATTENTION_STATUSES)
        elif f.get("status"):
            submissions = submissions.filter(status=f["status"])
        if f.get("team"):
            submissions = submissions.filter(team=f["team"])
        if f.get("tag"):
            submissions = submissions.filter(has_tag(f["tag"]))
        if f.get("q"):
            q = f["q"].strip()
            submissions = submissions.filter(
                Q(url__icontains=q) | Q(video_no__icontains=q) | Q(camera_model__icontains=q)
            )
        if f.get("date_from"):
            submissions = submissions.filter(created_at__gte=start_of(f["date_from"]))
        if f.get("date_to"):
            submissions = submissions.filter(created_at__lt=start_of(f["date_to"] + timedelta(1)))
        return submissions.order_by(*SORTS[f.get("sort", DEFAULT_SORT)][1])


def has_tag(tag):
    """Whether the submission has `tag` among its tags (whole tags, ignoring case).

    Read from the Tag rows the database keeps from each submission's tags, in
    lower case (uploads/counters.py): one index probe per submission looked at,
    never the JSON text. (The database's lower() both sides: on SQLite it changes
    only ASCII letters, as the JSON matching before it did.)
    """
    return Exists(Tag.objects.filter(submission=OuterRef("pk"), name=Lower(Value(tag.strip()))))


def start_of(day):
    """The first instant of a local date, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))
