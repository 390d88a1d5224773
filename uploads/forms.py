"""The submission form: every rule for the shape of a URL and its metadata, in one place.

A person's form, a batch's rows (`uploads.batches`) and any later caller validate
through `SubmissionForm`, which needs no request: `SubmissionForm(data, user=...)`.
Each clean_<field> returns the normalised value. What a submission asks of the world
(room under the cap and quota, no earlier submission of the URL, the URL check) is
`uploads.submitting.ready_to_submit`, which adds its refusals to the form.
"""

import zoneinfo
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.forms.fields import BaseTemporalField
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import dates
from .models import PersonSettings, Submission, Team
from .selectors import teams_of
from .urlcheck import addresses
from .urlcheck import policy as url_policy

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_DECIMALS = 7


class TeamField(forms.ModelChoiceField):
    """One of the person's teams. With `known` ({pk: team}) set, a value is looked up there
    rather than with a query: a batch validates thousands of rows for the same person."""

    known = None

    def to_python(self, value):
        if self.known is None or value in self.empty_values:
            return super().to_python(value)
        team = self.known.get(str(value).strip())
        if team is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return team


class MomentField(forms.DateTimeField):
    """A date and time, refused (beside the field) outside the portal's range of dates
    (uploads/dates.py) as written, before it is placed in the person's zone: year 1 east of
    UTC, or year 9999 west of it, has no UTC time at all."""

    def to_python(self, value):
        given = value
        if isinstance(value, str) and value.strip():
            try:
                given = parse_datetime(value.strip()) or self.strptime_any(value.strip())
            except ValueError:
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid"
                ) from None
        if isinstance(given, date) and not dates.in_range(given):
            raise forms.ValidationError(dates.OUT_OF_RANGE, code="out_of_range")
        return super().to_python(value)

    def strptime_any(self, value):
        """The text read with the field's formats, as Django's own fields try them."""
        return BaseTemporalField.to_python(self, value)


class SubmissionForm(forms.Form):
    team = TeamField(
        queryset=Team.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of your own teams."},
    )
    url = forms.CharField(
        label="Video URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/video.mp4"}),
        help_text="A direct link to the video file or an m3u8 playlist, reachable from the "
        "internet without logging in.",
        error_messages={
            "required": "Enter the video's URL.",
            "max_length": "This URL is %(show_value)d characters long; "
            "at most %(limit_value)d are allowed.",
        },
    )
    datetime_taken = MomentField(
        label="Taken at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        error_messages={"invalid": "Enter a date and time, like 2025-10-20 11:00:00."},
    )
    camera_model = forms.CharField(
        required=False,
        max_length=128,
        error_messages={"max_length": "At most %(limit_value)d characters."},
    )
    latitude = forms.CharField(
        required=False, help_text="Decimal degrees, −90 to 90.", max_length=32
    )
    longitude = forms.CharField(
        required=False, help_text="Decimal degrees, −180 to 180.", max_length=32
    )
    tags = forms.CharField(
        required=False,
        max_length=MAX_TAGS * (MAX_TAG_LENGTH + 2),
        help_text=f"Comma-separated, at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters.",
    )
    confirm_public = forms.BooleanField(
        required=False,
        label="I confirm this URL is publicly reachable",
        help_text="Only when the portal could not reach the link from inside our network, "
        "but memories.ai can reach it from the internet.",
    )
    send_again = forms.BooleanField(
        required=False,
        label="Send it again",
        help_text="This URL was submitted to the team before: sending it again costs "
        "another upload.",
    )
    retain_original_video = forms.BooleanField(
        required=False, label="Keep the original video file at memories.ai"
    )
    video_transcription_prompt = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Transcription prompt",
        error_messages={
            "max_length": "At most %(limit_value)d characters (it has %(show_value)d)."
        },
    )

    def __init__(self, *args, user, teams=None, **kwargs):
        """`teams`: the user's teams (teams_of), when the caller has them already."""
        super().__init__(*args, **kwargs)
        self.user = user
        # Each checkbox is offered once its question arises (or when it was ticked): the
        # questions are asked by uploads.submitting.ready_to_submit.
        self.offer_confirm_public = bool(self.data.get("confirm_public"))
        self.offer_send_again = bool(self.data.get("send_again"))
        # Typed in the person's own zone (activated for the request), and said so.
        zone = timezone.get_current_timezone_name()
        self.fields["datetime_taken"].help_text = f"In your time zone, {zone}."
        if teams is None:
            self.fields["team"].queryset = teams_of(user)
        else:
            self.fields["team"].known = {str(team.pk): team for team in teams}

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            addresses.check_url(url, **url_policy.address_options())
        except addresses.UnsafeURL as exc:
            raise forms.ValidationError(str(exc), code="unsafe_url") from exc
        return url

    def clean_datetime_taken(self):
        taken = self.cleaned_data["datetime_taken"]
        if taken and taken > timezone.now():
            raise forms.ValidationError("The date taken cannot be in the future.")
        return taken

    def clean_latitude(self):
        return _degrees(self.cleaned_data["latitude"], 90, "Latitude")

    def clean_longitude(self):
        return _degrees(self.cleaned_data["longitude"], 180, "Longitude")

    def clean_tags(self):
        tags = []
        for raw in self.cleaned_data["tags"].split(","):
            tag = raw.strip()
            if not tag or tag in tags:
                continue
            if len(tag) > MAX_TAG_LENGTH:
                raise forms.ValidationError(
                    f"The tag “{tag[:20]}…” is {len(tag)} characters long; "
                    f"at most {MAX_TAG_LENGTH} are allowed."
                )
            tags.append(tag)
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"{len(tags)} tags given; at most {MAX_TAGS} are allowed.")
        return tags

    def clean(self):
        cleaned = super().clean()
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        lat_given = lat is not None or bool(self.data.get("latitude", "").strip())
        lon_given = lon is not None or bool(self.data.get("longitude", "").strip())
        if lat_given != lon_given:
            missing = "longitude" if lat_given else "latitude"
            self.add_error(missing, "Give both latitude and longitude, or neither.")
        return cleaned


def _degrees(value, limit, name):
    value = value.strip()
    if not value:
        return None
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")  # a decimal comma, as spreadsheets write it
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise forms.ValidationError(f"{name} must be a number in decimal degrees.") from None
    if not number.is_finite():
        raise forms.ValidationError(f"{name} must be a number in decimal degrees.")
    if not -limit <= number <= limit:
        raise forms.ValidationError(f"{name} must be between −{limit} and {limit}.")
    if -number.as_tuple().exponent > MAX_DECIMALS:
        raise forms.ValidationError(f"{name} can have at most {MAX_DECIMALS} decimals.")
    return number


# The regions of the tz database's real zones: "Factory", "localtime", "posixrules" and the
# old aliases ("US/Eastern", "EST5EDT", "Etc/GMT+5") are left out of the list.
ZONE_REGIONS = frozenset(
    [
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    ]
)


def listed_zone(name):
    return name == "UTC" or name.split("/", 1)[0] in ZONE_REGIONS and "/" in name


def utc_offset(name, at):
    """ "UTC+05:30" for the zone's offset at `at` (today's, daylight saving included)."""
    minutes = round(at.astimezone(zoneinfo.ZoneInfo(name)).utcoffset().total_seconds() / 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def time_zone_choices(current=""):
    """The real zones, west to east, each labelled with its offset now; `current` (a name
    kept from before, outside the list) is offered too, so saving keeps it."""
    default = f"The portal's time zone ({settings.TIME_ZONE})"
    now = timezone.now()
    names = {name for name in zoneinfo.available_timezones() if listed_zone(name)}
    if current:
        names.add(current)
    offsets = {name: now.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() for name in names}
    ordered = sorted(names, key=lambda name: (offsets[name], name))
    return [("", default), *((name, f"{utc_offset(name, now)} {name}") for name in ordered)]


def submission_form_initial(submission):
    """The form's values for submitting `submission` again (its team and what was asked)."""
    initial = {name: getattr(submission, name) for name in Submission.ASKED}
    initial["team"] = submission.team_id
    initial["tags"] = ", ".join(submission.tags or ())
    for name in ("latitude", "longitude"):
        if initial[name] is not None:
            initial[name] = f"{initial[name].normalize():f}"
    if submission.datetime_taken:
        initial["datetime_taken"] = timezone.localtime(submission.datetime_taken).replace(
            tzinfo=None
        )
    return initial


class PersonSettingsForm(forms.ModelForm):
    """One person's own settings: their time zone and the emails they get."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        choices=time_zone_choices,
        help_text="Times on the pages, in the CSV and in emails are shown in this zone.",
    )

    class Meta:
        model = PersonSettings
        fields = ["time_zone", "email_problems", "email_done", "email_alerts"]
        widgets = {"email_done": forms.RadioSelect}

    EMAIL_CHOICES = ("email_problems", "email_done", "email_alerts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.time_zone
        if current and not listed_zone(current) and current in zoneinfo.available_timezones():
            self.fields["time_zone"].choices = time_zone_choices(current)

    def save(self, commit=True):
        # New choices revoke the unsubscribe links of earlier emails: a person who chose
        # emails again is not unsubscribed by an old email (one forwarded on, say).
        if set(self.EMAIL_CHOICES) & set(self.changed_data):
            self.instance.unsubscribe_version += 1
        return super().save(commit)
