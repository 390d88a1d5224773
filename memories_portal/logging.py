"""Log lines: one per record, text or JSON, with callback tokens masked.

Standard library only, so gunicorn.conf.py can import it before Django is set up.
"""

import json
import logging
import re
from datetime import UTC, datetime

# A callback token is the URL's last segment; whoever reads the logs must not
# be able to call back for someone else's video.
CALLBACK_TOKEN = re.compile(r"(/callbacks/memories/)[^/\s?#\"']+")
MASK = "****"

# Fields a record may carry (logging's `extra`) that JSON lines show as their own keys.
EVENT_FIELDS = ("submission", "team", "kind", "from_status", "to_status")


# An API token belongs in the Authorization header, and one sent in a query string
# (`?token=mpt_...`) is refused; it is still written nowhere: the query's value, or the
# token itself wherever it appears.
QUERY_TOKEN = re.compile(r"([?&][^=&\s\"']*token[^=&\s\"']*=)[^&\s#\"']*", re.IGNORECASE)
API_TOKEN = re.compile(r"mpt_[A-Za-z0-9_-]+")


def mask_tokens(text):
    text = CALLBACK_TOKEN.sub(r"\g<1>" + MASK, text)
    text = QUERY_TOKEN.sub(r"\g<1>" + MASK, text)
    return API_TOKEN.sub("mpt_" + MASK, text)


class MaskCallbackTokens(logging.Filter):
    """Rewrites a record's message with callback tokens masked."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class PortalFormatter(logging.Formatter):
    """`time level logger message`, or the same as one JSON object with `json=True`."""

    def __init__(self, json=False, **kwargs):
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        super().__init__(**kwargs)
        self.as_json = json

    def formatTime(self, record, datefmt=None):
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def format(self, record):
        if not self.as_json:
            return super().format(record)
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in EVENT_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
