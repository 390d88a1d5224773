"""What the URL check found, as it is kept on a submission (`Submission.url_check`, JSON).

The one place that knows the stored shape: the form writes it, the sender's
re-check updates it, the submission page reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from .answers import format_size
from .outcomes import ProbeResult

_RESULT_FIELDS = [f.name for f in fields(ProbeResult)]


@dataclass(frozen=True)
class UrlCheck:
    checked_at: datetime
    # None: the portal could not reach the URL, and the submitter confirmed it
    # is publicly reachable (`problem` says what went wrong from here).
    result: ProbeResult | None = None
    problem: str = ""
    rechecked_at: datetime | None = None

    @property
    def reachable(self) -> bool:
        return self.result is not None

    @property
    def last_checked_at(self) -> datetime:
        return self.rechecked_at or self.checked_at

    def rechecked(self, at: datetime) -> UrlCheck:
        return replace(self, rechecked_at=at)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reachable": self.reachable,
            "checked_at": self.checked_at.isoformat(),
        }
        if self.result is not None:
            data.update(asdict(self.result))
        else:
            data["problem"] = self.problem
        if self.rechecked_at is not None:
            data["rechecked_at"] = self.rechecked_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UrlCheck | None:
        """The stored findings, or None for a submission that was never checked."""
        if not data or "checked_at" not in data:
            return None
        result = None
        if data.get("reachable"):
            stored: dict[str, Any] = {name: data.get(name) for name in _RESULT_FIELDS}
            result = ProbeResult(**stored)
        rechecked = data.get("rechecked_at")
        return cls(
            checked_at=datetime.fromisoformat(data["checked_at"]),
            result=result,
            problem=data.get("problem", ""),
            rechecked_at=datetime.fromisoformat(rechecked) if rechecked else None,
        )

    @classmethod
    def facts_of(cls, data: dict[str, Any]) -> list[tuple[str, str]]:
        """What the check learned, as (label, value) pairs for a page."""
        check = cls.from_json(data)
        if check is None:
            return []
        if check.result is None:
            return [("Reachable", f"Not from here ({check.problem}); confirmed public")]
        found = check.result
        facts = [("Final URL", found.final_url), ("Type", found.content_type)]
        if found.is_playlist:
            facts += [
                ("Playlist", f"{found.variant_count or 0} variant(s), "
                 f"{found.segment_count or 0} segment(s)"),
                ("Duration", f"{found.duration:.0f} s" if found.duration else None),
            ]  # fmt: skip
            if found.estimated_size:
                facts.append(
                    ("Estimated size", f"{format_size(found.estimated_size)} "
                     f"({found.estimate_method})")
                )  # fmt: skip
        elif found.size is not None:
            facts.append(("Size", format_size(found.size)))
        return [(label, value) for label, value in facts if value]
