"""What a person asks memories.ai to do with one video, shared by a submission and a
batch's row."""

from django.db import models

from ..urlcheck import identity


class VideoRequest(models.Model):
    """What a person asks memories.ai to do with one video: the form's fields, as stored.

    A submission has them, and so has a batch's row before it becomes one.
    """

    # Field names equal the API's parameter names.
    url = models.URLField(max_length=2048)
    # The URL's key for duplicate warnings (uploads.urlcheck.identity), set on save.
    url_key = models.CharField(max_length=64, blank=True, editable=False)
    datetime_taken = models.DateTimeField(null=True, blank=True)
    camera_model = models.CharField(max_length=128, blank=True)
    latitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    longitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    retain_original_video = models.BooleanField(default=False)
    video_transcription_prompt = models.TextField(max_length=2000, blank=True)
    confirm_public = models.BooleanField(
        default=False, help_text="The submitter confirmed the URL is publicly reachable."
    )
    url_check = models.JSONField(
        default=dict, blank=True, help_text="What the URL check learned about the URL."
    )

    # The fields a person fills in (the form's, but the team), in the form's order.
    ASKED = (
        "url",
        "datetime_taken",
        "camera_model",
        "latitude",
        "longitude",
        "tags",
        "retain_original_video",
        "video_transcription_prompt",
    )
    # Everything above, to copy from one VideoRequest to another.
    REQUEST_FIELDS = (*ASKED, "url_key", "confirm_public", "url_check")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.url_key = identity.url_key(self.url) if self.url else ""
        super().save(*args, **kwargs)

    def request_values(self):
        """The fields above as a dict, to make another VideoRequest of them."""
        return {name: getattr(self, name) for name in self.REQUEST_FIELDS}
