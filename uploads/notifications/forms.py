"""A team's webhook endpoint, as a manager gives it."""

from urllib.parse import urlsplit

from django import forms

from ..urlcheck import addresses, policy
from .records import WEBHOOK_TOPICS, Topic, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        max_length=addresses.MAX_URL_LENGTH,
        help_text="Where each event is POSTed. Internal addresses are refused unless an "
        "administrator allowed the host (WEBHOOK_ALLOWED_HOSTS).",
    )
    topics = forms.MultipleChoiceField(
        label="Events",
        choices=[(t.value, t.label) for t in WEBHOOK_TOPICS],
        widget=forms.CheckboxSelectMultiple,
        initial=[Topic.FAILED, Topic.PARSE_ERROR, Topic.NEEDS_REVIEW, Topic.BATCH_FINISHED],
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "format", "topics"]
        widgets = {"format": forms.RadioSelect}

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise forms.ValidationError("This is not a valid web address.") from None
        if parts.scheme in ("http", "https") and policy.webhook_host_allowed(host):
            return url
        try:
            return addresses.check_url(url, **policy.address_options())
        except addresses.UnsafeURL as error:
            raise forms.ValidationError(error.message) from None
