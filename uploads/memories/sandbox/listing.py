"""The sandbox's reading endpoints: list_videos (with its own rate limit), get_metadata
and list_unique_ids."""

from __future__ import annotations

import time

from .accounts import Account
from .checks import list_item, matches, read_json, single_query, validate_list_query
from .wire import ApiError, Request, param_error


class ListingEndpoints(Account):
    """What an account lets its videos be read by: list_videos, get_metadata,
    list_unique_ids."""

    def _note_list_request(self) -> None:
        with self._lock:
            self._list_times.append(time.monotonic())

    def _list_videos(self, request: Request) -> dict:
        query = validate_list_query(read_json(request))
        with self._lock:
            now = time.monotonic()
            recent = sum(1 for t in self._list_served if t > now - 1.0)
            if recent >= self.list_rate_per_second:
                raise ApiError("0429")
            self._list_served.append(now)
            videos = [v for v in self._videos.values() if matches(v, query)]
        videos.sort(key=lambda v: v["video_no"], reverse=True)  # newest first
        page, size = query["page"], query["size"]
        return {
            "current_page": page,
            "page_size": size,
            "total_count": len(videos),
            "videos": [list_item(v) for v in videos[(page - 1) * size : page * size]],
        }

    def _get_metadata(self, request: Request) -> dict:
        video_no = single_query(request, "video_no")
        unique_id = single_query(request, "unique_id", "default")
        if not video_no:
            raise param_error("video_no is required")
        with self._lock:
            video = self._videos.get(video_no)
            if video is None or video["unique_id"] != unique_id:
                raise param_error(f"video_no {video_no} not found in unique_id {unique_id}")
            return {**list_item(video), "unique_id": unique_id, "url": video["url"]}

    def _list_unique_ids(self, request: Request) -> list[str]:
        with self._lock:
            return sorted({v["unique_id"] for v in self._videos.values()})
