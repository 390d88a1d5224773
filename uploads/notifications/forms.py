"""A team's webhook endpoint, as a manager gives it."""

from urllib.parse import urlsplit

from django import forms

from ..models import WEBHOOK_TOPICS, Topic, WebhookEndpoint
from ..urlcheck import addresses, policy


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        max_length=addresses.MAX_URL_LENGTH,
        help_text="Where each event is POSTed: an address on the public internet (an "
        "administrator can allow a host inside our network).",
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
            raise forms.ValidationError(for_a_webhook(error.message)) from None


# The address checks speak of videos sent to memories.ai; here the portal itself is the
# sender, and the person a manager, who can ask an administrator (not set a setting).
NOT_FOR_MEMORIES = (
    ("; memories.ai cannot reach it.",
     "; webhooks go only to the public internet. If this endpoint is inside our network "
     "on purpose, an administrator can allow its host."),
    ("can be sent to memories.ai.", "can receive webhooks."),
)  # fmt: skip


def for_a_webhook(message):
    for video_words, webhook_words in NOT_FOR_MEMORIES:
        message = message.replace(video_words, webhook_words)
    return message
