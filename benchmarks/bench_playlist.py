"""How fast is the m3u8 checker compared with a plain line scan of the same text?

Builds a 50,000-segment media playlist in memory (absolute https URLs, about
2.8 MB), then times, in the same run and best of several repeats,
`check_playlist(text)` and a bare `splitlines()` scan that only counts URL lines.
Goal: the checker takes at most twice as long as the scan. Exits 1 if it does not.

    .venv/bin/python benchmarks/bench_playlist.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uploads.urlcheck.playlist import check_playlist  # noqa: E402

SEGMENTS = 50_000
REPEATS = 9
GOAL_RATIO = 2.0


def build_playlist(segments: int = SEGMENTS) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:7",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for number in range(segments):
        lines.append("#EXTINF:6.006,")
        lines.append(f"https://cdn.example.com/v/720p/seg{number:05d}.ts")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def plain_scan(text: str) -> int:
    return sum(
        1
        for ln in text.splitlines()
        if ln and not ln.startswith("#") and ln.startswith(("http://", "https://"))
    )


def best_time(function, text: str) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    text = build_playlist()
    info = check_playlist(text)
    assert info.segment_count == SEGMENTS == plain_scan(text)
    assert abs(info.duration - SEGMENTS * 6.006) < 1e-6
    # Alternate the two so that neither gets a warmer machine.
    checker = scan = float("inf")
    for _ in range(3):
        checker = min(checker, best_time(check_playlist, text))
        scan = min(scan, best_time(plain_scan, text))
    ratio = checker / scan
    print(f"playlist: {SEGMENTS} segments, {len(text) / 1e6:.2f} MB of text")
    print(f"check_playlist: {checker * 1000:.2f} ms (best of {3 * REPEATS})")
    print(f"plain scan:     {scan * 1000:.2f} ms (best of {3 * REPEATS})")
    print(f"ratio checker/scan: {ratio:.2f} (goal <= {GOAL_RATIO})")
    if ratio > GOAL_RATIO:
        print("FAIL: the checker is slower than the goal", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
