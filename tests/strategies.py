"""Hypothesis strategies for what a person or a script can send through each door: the
submission form's fields, the API's JSON, a batch's CSV rows and the list's filters.

Each field is usually a near miss or an edge (dates at years 1 and 9999 in the farthest
zones, huge, negative, NaN and non-ASCII values, very long strings), sometimes anything
at all, of any JSON type. URLs are only ever the local video server's or ones the rules
refuse before any connection: no test reaches beyond this machine.
"""

import json
import os

from hypothesis import strategies as st

# The farthest zones either side of UTC, and UTC (Etc/ names have their signs reversed).
ZONES = ["Etc/GMT-14", "Etc/GMT+12", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC", ""]
OFFSETS = ["+14:00", "-12:00", "Z", "+00:00", ""]

# Examples per property: bounded in CI; a longer run with FUZZ_EXAMPLES (make bench).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 60))


# The calendar's ends, as written and at the farthest offsets: no UTC time in some zones.
CALENDAR_ENDS = [
    "0001-01-01T00:00", "0001-01-01T00:00:00+14:00", "0001-01-01 00:00:00",
    "9999-12-31T23:59:59", "9999-12-31T23:59:59-12:00", "9999-12-31 23:59",
]  # fmt: skip


def edge_datetimes():
    """Dates and times at and near the calendar's ends and the portal's range, as text."""
    years = st.sampled_from([1, 2, 1899, 1900, 1901, 1970, 2025, 2999, 3000, 9998, 9999])
    written = st.builds(
        lambda y, mo, d, h, mi, sep, off: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{off}",
        years, st.integers(1, 12), st.integers(1, 31), st.integers(0, 23), st.integers(0, 59),
        st.sampled_from(["T", " "]), st.sampled_from(OFFSETS),
    )  # fmt: skip
    anywhen = st.datetimes().map(lambda moment: moment.isoformat())
    odd = st.sampled_from(["0001-01-01", "9999-12-31T23:59:59.999999", "2024-02-30 10:00",
                           "now", "", " "])  # fmt: skip
    return st.one_of(st.sampled_from(CALENDAR_ENDS), written, anywhen, odd)


def edge_numbers():
    """Numbers a coordinate or a size may be given as, as text."""
    return st.one_of(
        st.sampled_from(["NaN", "-nan", "Infinity", "-Infinity", "1e309", "-0", "90.00000001",
                         "-180", "180.0000000", "1,5", "1.2.3", "٣", "１２", "0x10", "1_000",
                         "9" * 400, "-" + "9" * 5000]),
        st.integers(-(10**30), 10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
    )  # fmt: skip


def long_or_strange_text():
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
        st.sampled_from(["", " ", "\x00", "\ud800x".encode("utf-8", "surrogatepass").decode(
            "utf-8", "replace"), "é" * 3000, "x" * 70_000, "=cmd|' /C calc'!A0", "<!channel>"]),
    )  # fmt: skip


def urls(video_server):
    """Links: the local server's (each kind it has), and ones refused before any connection."""
    local = [video_server.url + path for path in ("/clip.mp4", "/ok.m3u8", "/missing.mp4",
                                                  "/page.html", "/clip.mp4?é=1")]  # fmt: skip
    refused = ["ftp://videos.example.com/a.mp4", "https://10.0.0.1/a.mp4", "javascript:alert(1)",
               "https://" + "a" * 2100, "http:///a", "https://user:pw@127.0.0.1/a.mp4",
               "file:///etc/passwd", "https://[::1]:99999/a", "https://127.0.0.1:0/a",
               " "]  # fmt: skip
    no_scheme = st.text(max_size=60).filter(lambda text: ":" not in text)
    return st.one_of(st.sampled_from(local), st.sampled_from(refused), no_scheme)


def valid_fields(video_server, mine):
    """A submission the form takes (a link on the local server, `mine`: one's own team), its
    optional fields valid."""
    links = st.builds(
        "{}{}?n={}".format,
        st.just(video_server.url),
        st.sampled_from(["/clip.mp4", "/ok.m3u8"]),
        st.integers(0, 10**6),
    )
    return st.fixed_dictionaries(
        # Sent again: a team's earlier submission of the same link is no refusal here.
        {"team": st.just(mine), "url": links, "send_again": st.just("on")},
        optional={
            "datetime_taken": st.sampled_from(["2025-10-20 11:00:00", "1900-01-01T00:00"]),
            "camera_model": st.text(max_size=20),
            "tags": st.sampled_from(["beach, dawn", ""]),
            "retain_original_video": st.sampled_from(["on", ""]),
            "confirm_public": st.just("on"),
            "video_transcription_prompt": st.text(max_size=20),
        },
    )  # fmt: skip


def edge_fields(video_server, teams):
    """Each of the form's fields, as an edge or anything."""
    flag = st.sampled_from(["on", "true", "false", "", "0", "yes", "maybe", "\x00"])
    tags = st.one_of(
        long_or_strange_text(), st.lists(st.text(max_size=70), max_size=25).map(",".join)
    )
    return {
        "team": st.sampled_from(teams),
        "url": urls(video_server),
        "datetime_taken": edge_datetimes(),
        "camera_model": long_or_strange_text(),
        "latitude": edge_numbers(),
        "longitude": edge_numbers(),
        "tags": tags,
        "retain_original_video": flag,
        "confirm_public": flag,
        "send_again": flag,
        "video_transcription_prompt": long_or_strange_text(),
    }


DROP = object()


def form_fields(video_server, mine, teams):
    """The submission form's fields as a page posts them (text): a valid submission with one
    to three fields changed to an edge (or left out), so that the edges reach every rule,
    the save included, and not only the first that refuses."""
    edges = edge_fields(video_server, teams)
    # The date taken, the field with the most edges, is changed more often than the others.
    names = [*sorted(edges), "datetime_taken", "datetime_taken"]
    changes = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda names: st.fixed_dictionaries(
            {name: st.one_of(edges[name], st.just(DROP)) for name in names}
        )
    )
    return st.builds(
        lambda valid, changed: {k: v for k, v in {**valid, **changed}.items() if v is not DROP},
        valid_fields(video_server, mine),
        changes,
    )


def any_json():
    """Any JSON value at all, nested a little."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(-(10**20), 10**20),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    )  # fmt: skip
    return st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.text(max_size=8), inner, max_size=3), max_leaves=6,
    )  # fmt: skip


def as_json(text_values):
    """A field's JSON: usually its text, or the JSON type it should be, or any other."""

    def typed(value):
        if value in ("on", "true", "yes"):
            return st.sampled_from([True, value])
        if value in ("false", "0", ""):
            return st.sampled_from([False, value, None])
        return st.one_of(st.just(value), st.just([value]), any_json())

    return text_values.flatmap(
        lambda fields: st.fixed_dictionaries(
            {name: st.one_of(st.just(value), typed(value)) for name, value in fields.items()}
        )
    )


def api_bodies(video_server, mine, teams):
    """Request bodies for POST /api/v1/submissions: JSON bytes, or not quite JSON."""
    objects = as_json(form_fields(video_server, mine, teams))
    unknown = st.dictionaries(st.sampled_from(["colour", "URL", "tags "]), any_json(), max_size=1)
    dicts = st.builds(lambda body, extra: {**body, **extra}, objects, unknown)
    return st.one_of(
        dicts.map(lambda body: json.dumps(body).encode()),
        any_json().map(lambda value: json.dumps(value).encode()),
        st.sampled_from([b"", b"{", b'{"url": NaN}', b'{"team": 1e999}', b"[" * 3000,
                         b'{"url": "\\ud800"}', b"\xff\xfe", b'{"a": ' + b"9" * 5000 + b"}"]),
    )  # fmt: skip


# A batch's columns (uploads/batches/reading.py), and cells for each.
def csv_cells(video_server):
    return {
        "url": urls(video_server),
        "team": st.sampled_from(["", "alpha", "Team A", "beta", "nobody", "1", "ALPHA"]),
        "datetime_taken": edge_datetimes(),
        "camera_model": long_or_strange_text(),
        "latitude": edge_numbers(),
        "longitude": edge_numbers(),
        "tags": long_or_strange_text(),
        "retain_original_video": st.sampled_from(["yes", "no", "", "maybe", "X", "1"]),
        "video_transcription_prompt": long_or_strange_text(),
    }


def csv_files(video_server):
    """CSV text: a header of some columns (url among them) and a few rows, each a valid row
    with one or two cells at an edge."""
    cells = csv_cells(video_server)
    others = [name for name in cells if name != "url"]
    valid = {"url": video_server.url + "/clip.mp4", "team": "alpha",
             "datetime_taken": "2020-05-01 10:00", "latitude": "48.85", "longitude": "2.35",
             "retain_original_video": "yes"}  # fmt: skip

    def row(columns):
        edged = st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True)
        return edged.flatmap(
            lambda names: st.tuples(*(
                cells[name] if name in names else st.just(valid.get(name, "")) for name in columns
            ))
        )  # fmt: skip

    def rows_for(columns):
        return st.lists(row(columns), min_size=1, max_size=4).map(lambda rows: (columns, rows))

    columns = st.lists(st.sampled_from(others), unique=True, max_size=4).map(
        lambda chosen: ["url", *chosen]
    )
    return columns.flatmap(rows_for)


def filter_queries():
    """The list's filters (the pages' and the API's), each usually an edge."""
    day = st.one_of(
        st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31", "1900-01-01", "2999-12-31",
                         "3000-01-01", "2025-02-30", "", "today"]),
        st.dates().map(str),
    )  # fmt: skip
    return st.fixed_dictionaries(
        {},
        optional={
            "q": long_or_strange_text(),
            "status": st.sampled_from(["", "queued", "attention", "parsed", "DONE", "\x00"]),
            "team": st.sampled_from(["", "alpha", "beta", "nobody"]),
            "submitter": st.sampled_from(["", "me", "any", "0", "-1", "999999", "x"]),
            "tag": long_or_strange_text(),
            "date_from": day,
            "date_to": day,
            "sort": st.sampled_from(["", "-date", "date", "status", "-status", "random"]),
            "page_size": edge_numbers(),
            "cursor": st.one_of(st.text(max_size=40), st.binary(max_size=60).map(_b64)),
            "page": edge_numbers(),
        },
    )  # fmt: skip


def _b64(raw):
    import base64

    return base64.urlsafe_b64encode(raw).decode()
