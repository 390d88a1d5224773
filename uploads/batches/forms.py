"""The "Submit many" form: the URLs (pasted or a CSV file) and the values they share.

The shared values are the submission form's own fields, with its own rules; each row
is validated later, in the background, by the submission form itself.
"""

import copy

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from ..forms import SubmissionForm
from ..selectors import teams_of
from . import reading

# The submission form's fields a batch may give once, for every row without its own.
SHARED = ("team", "tags", "camera_model", "video_transcription_prompt", "retain_original_video")


def size_text(size):
    return f"{size / 1024**2:.1f} MB" if size >= 1024**2 else f"{size / 1024:.0f} KB"


class BatchForm(forms.Form):
    urls = forms.CharField(
        label="URLs, one a line",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "https://example.com/video.mp4"}),
    )
    file = forms.FileField(label="Or a CSV file", required=False)

    def __init__(self, *args, user, file_problem=None, records=None, **kwargs):
        """`file_problem`: why the upload's file was not read (too large). `records`: the
        rows as {column: text} records instead of a paste or a file (the API's JSON)."""
        super().__init__(*args, **kwargs)
        self.file_problem = file_problem
        self.records = records
        if records is not None:
            # Where a problem with the records is said, as "urls" or "file" for the page.
            self.fields["rows"] = forms.Field(required=False)
        for name in SHARED:
            self.fields[name] = copy.deepcopy(SubmissionForm.base_fields[name])
        self.fields["team"].queryset = teams_of(user)
        self.fields["team"].help_text = "For every row that names no team of its own."
        self.max_rows = settings.BATCH_MAX_ROWS
        self.fields["urls"].help_text = (
            f"Up to {self.max_rows:,} URLs and {size_text(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}; "
            "a larger list goes in a file."
        )
        self.fields["file"].help_text = (
            f"A header row with the form's field names ({', '.join(reading.COLUMNS)}), "
            f"then up to {self.max_rows:,} rows; UTF-8, commas or semicolons, at most "
            f"{size_text(settings.BATCH_MAX_FILE_BYTES)}."
        )

    # The submission form's own rule for tags.
    clean_tags = SubmissionForm.clean_tags

    def clean(self):
        cleaned = super().clean()
        if self.file_problem:
            self.add_error("file", self.file_problem)
            return cleaned
        pasted, upload = cleaned.get("urls", "").strip(), cleaned.get("file")
        try:
            if self.records is not None:
                cleaned["rows"] = reading.read_records(self.records, self.max_rows)
                cleaned["source"] = "api"
            elif pasted and upload:
                self.add_error("urls", "Paste URLs or upload a file, not both.")
            elif upload:
                cleaned["rows"] = reading.read_csv(upload.file, self.max_rows)
                cleaned["source"] = upload.name
            elif pasted:
                cleaned["rows"] = reading.read_paste(pasted, self.max_rows)
                cleaned["source"] = "pasted"
            elif "file" not in self.errors:
                self.add_error("urls", "Paste URLs, one a line, or upload a CSV file.")
        except reading.BatchInputError as exc:
            where = "rows" if self.records is not None else "file" if upload else "urls"
            self.add_error(where, exc.message)
        return cleaned

    def shared_values(self):
        """The shared values as a row's cells would give them (empty ones left out)."""
        values = {name: self.data.get(name, "").strip() for name in SHARED}
        values["team"] = self.cleaned_data["team"].slug
        values["retain_original_video"] = (
            "yes" if self.cleaned_data["retain_original_video"] else "no"
        )
        return {name: value for name, value in values.items() if value}


class ConfirmForm(forms.Form):
    confirm_public = forms.BooleanField(required=False)
    send_again = forms.BooleanField(required=False)


class LimitedUpload(FileUploadHandler):
    """Skips a file larger than `limit` bytes as it arrives (reading no more of it into
    memory or onto disk) and says so in `too_large`, for a message beside the field."""

    def __init__(self, limit, request=None):
        super().__init__(request)
        self.limit = limit
        self.too_large = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None
