"""The submission form. Each clean_<field> returns the normalised value."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils import timezone

from .models import Team
from .sending import admission
from .urlcheck import addresses, probe
from .urlcheck import policy as url_policy
from .urlcheck.findings import UrlCheck

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_DECIMALS = 7


class SubmissionForm(forms.Form):
    team = forms.ModelChoiceField(
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
    datetime_taken = forms.DateTimeField(
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

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # The checkbox is offered once the link could not be reached (or was ticked).
        self.offer_confirm_public = bool(self.data.get("confirm_public"))
        self.fields["team"].queryset = Team.objects.filter(
            memberships__user=user, is_active=True
        ).order_by("name")

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
        team = cleaned.get("team")
        if team:
            # Before the URL is fetched: a person at their cap, or a team past its quota,
            # learns it at once. (The submission itself decides again, under locks.)
            problem = admission.why_not(team, self.user)
            if problem:
                self.add_error(None, problem)
                return cleaned
        if cleaned.get("url") and team and "url" not in self.errors:
            cleaned["url_check"] = self._check_url(cleaned["url"], team)
        return cleaned

    def _check_url(self, url, team):
        """Fetch what is needed of the URL to catch what memories.ai would refuse.

        Returns what was found (a UrlCheck), or None with the error added.
        """
        try:
            result = probe.probe_url(url, **url_policy.probe_options(team))
        except probe.ProbeRefused as exc:
            self.add_error("url", exc.message)
        except probe.ProbeUnreachable as exc:
            if self.cleaned_data.get("confirm_public"):
                return UrlCheck(checked_at=timezone.now(), problem=exc.message)
            self.offer_confirm_public = True
            self.add_error(
                "url",
                f"{exc.message} If the link does work from the internet, tick "
                "“I confirm this URL is publicly reachable” below and submit again.",
            )
        else:
            return UrlCheck(checked_at=timezone.now(), result=result)
        return None


def _degrees(value, limit, name):
    value = value.strip()
    if not value:
        return None
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
