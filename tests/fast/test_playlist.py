"""The m3u8 checker: absolute URIs everywhere, what it gathers, and robustness."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploads.urlcheck.playlist import PlaylistError, PlaylistInfo, check_playlist

CDN = "https://cdn.example.com/v"

MEDIA = f"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:7
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:6.006,
{CDN}/seg0.ts
#EXTINF:6.006,
{CDN}/seg1.ts
#EXTINF:3.5,last one
{CDN}/seg2.ts
#EXT-X-ENDLIST
"""

MASTER = f"""#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",DEFAULT=YES,URI="{CDN}/audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aud"
{CDN}/360p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,AVERAGE-BANDWIDTH=4000000,RESOLUTION=1920x1080
{CDN}/1080p.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="{CDN}/iframes.m3u8"
"""


def test_it_reads_a_media_playlist():
    info = check_playlist(MEDIA)
    assert info.kind == "media"
    assert info.segment_count == 3
    assert info.segment_uris == [f"{CDN}/seg0.ts", f"{CDN}/seg1.ts", f"{CDN}/seg2.ts"]
    assert info.duration == pytest.approx(15.512)
    assert info.byte_total is None
    assert info.ended
    assert info.variants == []


def test_it_reads_a_master_playlist_with_variants_and_renditions():
    info = check_playlist(MASTER)
    assert info.kind == "master"
    assert info.variants == [(f"{CDN}/360p.m3u8", 800000), (f"{CDN}/1080p.m3u8", 5000000)]
    assert info.renditions == [f"{CDN}/audio.m3u8"]
    assert info.other_uris == [f"{CDN}/iframes.m3u8"]
    assert info.segment_count == 0


def test_it_refuses_text_that_is_not_a_playlist():
    for text in ["", "\n\n", "<!doctype html><html></html>", "seg1.ts\n#EXTM3U\n"]:
        with pytest.raises(PlaylistError, match="not an m3u8 playlist"):
            check_playlist(text)


def test_it_refuses_relative_segment_uris_naming_the_line():
    text = MEDIA.replace(f"{CDN}/seg1.ts", "seg1.ts")
    with pytest.raises(PlaylistError) as caught:
        check_playlist(text)
    error = caught.value
    assert error.line_no == 8
    assert error.line == "seg1.ts"
    assert error.message == (
        "Line 8 uses a relative path (seg1.ts); memories.ai only accepts playlists whose "
        "every path is a full https:// URL."
    )


@pytest.mark.parametrize(
    "uri", ["/v/seg1.ts", "../seg1.ts", "//cdn.example.com/seg1.ts", "seg 1.ts", "./seg1.ts"]
)
def test_it_refuses_every_kind_of_relative_path(uri):
    with pytest.raises(PlaylistError, match="relative path"):
        check_playlist(MEDIA.replace(f"{CDN}/seg1.ts", uri))


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("ftp://cdn.example.com/seg1.ts", "not an http"),
        ("file:///var/seg1.ts", "not an http"),
        ("https:///seg1.ts", "without a host"),
        ("https://", "without a host"),
        ("http://?x=1", "without a host"),
    ],
)
def test_it_refuses_uris_that_are_not_web_addresses(uri, fragment):
    with pytest.raises(PlaylistError, match=fragment) as caught:
        check_playlist(MEDIA.replace(f"{CDN}/seg1.ts", uri))
    assert caught.value.line_no == 8


def test_it_refuses_a_missing_host_on_the_last_segment():
    with pytest.raises(PlaylistError, match="without a host") as caught:
        check_playlist(MEDIA.replace(f"{CDN}/seg2.ts", "https://"))
    assert caught.value.line_no == 10


def test_it_refuses_a_master_playlist_with_one_relative_variant():
    text = MASTER.replace(f"{CDN}/1080p.m3u8", "1080p.m3u8")
    with pytest.raises(PlaylistError, match=r"^Line 7 uses a relative path \(1080p\.m3u8\)"):
        check_playlist(text)


@pytest.mark.parametrize(
    "tag",
    [
        '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1',
        '#EXT-X-MAP:URI="init.mp4"',
        '#EXT-X-PART:DURATION=1.0,URI="part1.mp4"',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part2.mp4"',
        '#EXT-X-RENDITION-REPORT:URI="../low.m3u8",LAST-MSN=3',
    ],
)
def test_it_refuses_relative_uri_attributes_in_media_tags(tag):
    text = MEDIA.replace("#EXT-X-MEDIA-SEQUENCE:0", tag)
    with pytest.raises(PlaylistError, match="relative path") as caught:
        check_playlist(text)
    assert caught.value.line_no == 4
    assert caught.value.line == tag


@pytest.mark.parametrize(
    "tag",
    [
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/en.m3u8"',
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="iframe.m3u8"',
        '#EXT-X-SESSION-KEY:METHOD=AES-128,URI="key.bin"',
        '#EXT-X-SESSION-DATA:DATA-ID="com.example",URI="data.json"',
    ],
)
def test_it_refuses_relative_uri_attributes_in_master_tags(tag):
    text = MASTER.replace("#EXT-X-INDEPENDENT-SEGMENTS", tag)
    with pytest.raises(PlaylistError, match="relative path") as caught:
        check_playlist(text)
    assert caught.value.line_no == 2


def test_it_accepts_absolute_uri_attributes_and_keys_without_uri():
    text = MEDIA.replace(
        "#EXT-X-MEDIA-SEQUENCE:0",
        f'#EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP:URI="{CDN}/init.mp4",BYTERANGE="720@0"\n'
        f'#EXT-X-KEY:METHOD=AES-128,URI="{CDN}/key?id=1,2",IV=0x00',
    )
    info = check_playlist(text)
    assert info.other_uris == [f"{CDN}/init.mp4", f"{CDN}/key?id=1,2"]


def test_it_sums_byte_ranges_when_every_segment_has_one():
    text = f"""#EXTM3U
#EXT-X-TARGETDURATION:10
#EXTINF:10,
#EXT-X-BYTERANGE:1000@0
{CDN}/all.ts
#EXTINF:10,
#EXT-X-BYTERANGE:2500
{CDN}/all.ts
#EXT-X-ENDLIST
"""
    info = check_playlist(text)
    assert info.byte_total == 3500
    assert info.segment_count == 2


def test_it_gives_no_byte_total_when_a_segment_lacks_a_range():
    text = f"""#EXTM3U
#EXTINF:10,
#EXT-X-BYTERANGE:1000@0
{CDN}/all.ts
#EXTINF:10,
{CDN}/other.ts
"""
    assert check_playlist(text).byte_total is None


def test_it_tolerates_crlf_bom_blank_lines_and_stray_whitespace():
    text = "\ufeff\r\n  #EXTM3U  \r\n\r\n#EXT-X-TARGETDURATION:7\r\n \t\r\n"
    text += f"  #EXTINF:6.0,\r\n  {CDN}/seg0.ts  \r\n#EXTINF: 4 ,\r\n{CDN}/seg1.ts\t\r\n"
    info = check_playlist(text)
    assert info.segment_uris == [f"{CDN}/seg0.ts", f"{CDN}/seg1.ts"]
    assert info.duration == 10.0


def test_it_tolerates_junk_in_tags_and_comments():
    text = MEDIA.replace(
        "#EXT-X-MEDIA-SEQUENCE:0",
        '#EXT-X-UNKNOWN:!!"\n# a comment with seg.ts\n#EXT-X-KEY:URI="\n#EXT-X-BYTERANGE:junk\n'
        '#EXT-X-STREAM-INF-NOT:x\n#EXTINF-LIKE\n#EXT-X-DATERANGE:ID=",,,=\n#EXT-X-MAP:URI',
    )
    with pytest.raises(PlaylistError):
        check_playlist(text)  # the KEY's empty URI is refused, nothing crashes
    text = text.replace('#EXT-X-KEY:URI="\n', "").replace("#EXT-X-MAP:URI", "")
    assert check_playlist(text).segment_count == 3


def test_it_accepts_upper_case_schemes():
    info = check_playlist(MEDIA.replace(f"{CDN}/seg1.ts", "HTTPS://CDN.EXAMPLE.COM/v/seg1.ts"))
    assert info.segment_count == 3


def test_it_refuses_a_variant_tag_without_its_uri():
    text = MASTER.replace(f"{CDN}/1080p.m3u8\n", "")
    with pytest.raises(PlaylistError, match="not followed by") as caught:
        check_playlist(text)
    assert caught.value.line_no == 6


def test_it_refuses_a_playlist_that_mixes_master_and_media_tags():
    text = MASTER + f"#EXTINF:6,\n{CDN}/seg0.ts\n"
    with pytest.raises(PlaylistError, match="one or the other") as caught:
        check_playlist(text)
    assert caught.value.line_no == 9


def test_it_refuses_empty_playlists():
    with pytest.raises(PlaylistError, match="no video segments"):
        check_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-ENDLIST\n")
    with pytest.raises(PlaylistError, match="no variant streams"):
        check_playlist(f'#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI="{CDN}/a.m3u8"\n')


@pytest.mark.parametrize("duration", ["abc", "nan", "inf", "-1", "1e400", ""])
def test_it_refuses_segment_durations_that_are_not_numbers_of_seconds(duration):
    with pytest.raises(PlaylistError, match="duration") as caught:
        check_playlist(
            MEDIA.replace(
                "#EXTINF:6.006,\n" + f"{CDN}/seg1.ts", f"#EXTINF:{duration},\n{CDN}/seg1.ts"
            )
        )
    assert caught.value.line_no == 7


def test_it_finds_the_faulty_duration_among_many_repeated_ones():
    lines = ["#EXTM3U"]
    for number in range(100):
        lines += ["#EXTINF:6.006,", f"{CDN}/seg{number}.ts"]
    lines[151] = "#EXTINF:oops,"
    with pytest.raises(PlaylistError) as caught:
        check_playlist("\n".join(lines))
    assert caught.value.line_no == 152


def test_it_counts_line_numbers_past_tags_and_blank_lines():
    text = f"#EXTM3U\n\n#EXT-X-VERSION:3\n# note\n#EXTINF:5,\n{CDN}/a.ts\n\n#EXTINF:5,\nb.ts\n"
    with pytest.raises(PlaylistError) as caught:
        check_playlist(text)
    assert caught.value.line_no == 9


def test_it_accepts_bytes_decoding_them_as_utf8():
    assert check_playlist(MEDIA.encode()).segment_count == 3


def test_it_checks_a_large_playlist():
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:7"]
    for number in range(20_000):
        lines += [f"#EXTINF:{5 + number % 3}.5,", f"{CDN}/seg{number}.ts"]
    info = check_playlist("\n".join(lines))
    assert info.segment_count == 20_000
    assert info.duration == pytest.approx(sum(5 + n % 3 + 0.5 for n in range(20_000)))


# --- any input gives PlaylistInfo or PlaylistError --------------------------------------


def _outcome(text):
    try:
        return check_playlist(text)
    except PlaylistError as error:
        assert isinstance(error.message, str) and error.message
        assert error.line_no is None or error.line_no >= 1
        return error


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_gives_a_playlist_or_a_playlist_error(text):
    assert isinstance(_outcome(text), PlaylistInfo | PlaylistError)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_after_the_header_gives_a_playlist_or_a_playlist_error(text):
    assert isinstance(_outcome("#EXTM3U\n" + text), PlaylistInfo | PlaylistError)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_any_bytes_give_a_playlist_or_a_playlist_error(data):
    text = (b"#EXTM3U\n" + data).decode("utf-8", errors="replace")
    assert isinstance(_outcome(text), PlaylistInfo | PlaylistError)
    assert isinstance(
        _outcome(data.decode("utf-8", errors="replace")), PlaylistInfo | PlaylistError
    )


_TAG_NAMES = [
    "EXTINF",
    "EXT-X-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-KEY",
    "EXT-X-SESSION-KEY",
    "EXT-X-MAP",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-SESSION-DATA",
    "EXT-X-BYTERANGE",
    "EXT-X-ENDLIST",
    "EXT-X-TARGETDURATION",
    "EXT-X-CONTENT-STEERING",
]
_ATTRIBUTE_VALUES = st.one_of(
    st.just(f'"{CDN}/x.m3u8"'),
    st.just('"rel.ts"'),
    st.just('"'),
    st.text(alphabet='0123456789.,@=" abcxURI-', max_size=12),
    st.from_regex(r"-?[0-9]{0,6}(\.[0-9]{0,4})?(e[0-9]{1,3})?", fullmatch=True),
)
_TAG_LINES = st.builds(
    lambda name, attrs, sep: f"#{name}{sep}" + ",".join(f"{k}={v}" for k, v in attrs),
    st.sampled_from(_TAG_NAMES),
    st.lists(
        st.tuples(
            st.sampled_from(["URI", "BANDWIDTH", "METHOD", "SERVER-URI", "X"]), _ATTRIBUTE_VALUES
        ),
        max_size=3,
    ),
    st.sampled_from([":", "", ": "]),
)
_EXTINF_LINES = st.builds(
    lambda value, title: f"#EXTINF:{value},{title}",
    st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6)),
    st.text(max_size=6),
)
_URI_LINES = st.one_of(
    st.builds(lambda n: f"{CDN}/seg{n}.ts", st.integers(0, 10**6)),
    st.sampled_from(["seg.ts", "https://", "http:///x", "ftp://a/b", "  ", "", "#", "# c"]),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_TAG_LINES, _EXTINF_LINES, _URI_LINES), max_size=40),
    st.sampled_from(["\n", "\r\n"]),
)
def test_structured_random_playlists_give_a_playlist_or_a_playlist_error(lines, newline):
    outcome = _outcome(newline.join(["#EXTM3U", *lines]))
    assert isinstance(outcome, PlaylistInfo | PlaylistError)
    if isinstance(outcome, PlaylistInfo):
        every_uri = [u for u, _ in outcome.variants] + outcome.segment_uris
        every_uri += outcome.renditions + outcome.other_uris
        assert all(uri.lower().startswith(("http://", "https://")) for uri in every_uri)
        assert outcome.kind in ("master", "media")
