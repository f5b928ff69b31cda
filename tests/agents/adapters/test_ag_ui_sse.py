"""The SSE parser: literal bytes in, events out (WHATWG event-stream rules and the byte caps)."""

from __future__ import annotations

import pytest

from agentsocket.agents.adapters.ag_ui import (
    EventTooLargeError,
    ServerSentEvent,
    SSEParser,
    UpstreamProtocolError,
)

BIG = 1 << 20


def _parse(*chunks: bytes, max_event: int = BIG, max_stream: int = BIG) -> list[ServerSentEvent]:
    parser = SSEParser(max_event_bytes=max_event, max_stream_bytes=max_stream)
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test__data_lines__joined_with_newlines_and_one_leading_space_dropped() -> None:
    events = _parse(b"data: first\ndata:second\ndata:  third\n\n")

    assert events == [ServerSentEvent("first\nsecond\n third")]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test__any_line_end__same_events(end: bytes) -> None:
    stream = b"data: a" + end + b"data: b" + end + end + b"data: c" + end + end

    assert [e.data for e in _parse(stream)] == ["a\nb", "c"]


def test__split_anywhere__same_events_as_whole() -> None:
    stream = (
        b': hi\r\nevent: tick\r\nid: 7\r\ndata: {"x": 1}\r\n\r\ndata: \xc3\xa9t\xc3\xa9\r\n\r\n'
    )
    whole = _parse(stream)

    for cut in range(1, len(stream)):
        assert _parse(stream[:cut], stream[cut:]) == whole, cut
    assert _parse(*(stream[i : i + 1] for i in range(len(stream)))) == whole
    assert whole == [ServerSentEvent('{"x": 1}', "tick", "7"), ServerSentEvent("été", id="7")]


def test__crlf_split_between_reads__one_line_end() -> None:
    assert [e.data for e in _parse(b"data: a\r", b"\ndata: b\r\n\r\n")] == ["a\nb"]


def test__comments_empty_events_and_unknown_fields__ignored() -> None:
    events = _parse(b": keep-alive\n\nevent: ping\n\nfoo: bar\ndata\n\nretry: x\nretry: 150\n\n")

    assert events == [ServerSentEvent("")]


def test__retry_and_id__kept_id_with_nul_refused() -> None:
    parser = SSEParser(max_event_bytes=BIG, max_stream_bytes=BIG)

    [event] = parser.feed(b"retry: 150\nid: 1\ndata: x\n\nid: a\x00b\n\n")

    assert (event.retry, event.id, parser.last_event_id) == (150, "1", "1")


def test__bom_at_the_start__dropped() -> None:
    assert _parse(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent("x")]


def test__empty_read__nothing() -> None:
    assert _parse(b"data: a\r", b"", b"\ndata: b\n\n") == [ServerSentEvent("a\nb")]


def test__event_over_the_cap__event_too_large() -> None:
    with pytest.raises(EventTooLargeError) as caught:
        _parse(b"data: " + b"x" * 100 + b"\n\n", max_event=64)

    assert (caught.value.limit, caught.value.scope) == (64, "event")


def test__line_without_end_over_the_cap__event_too_large_before_it_ends() -> None:
    parser = SSEParser(max_event_bytes=64, max_stream_bytes=BIG)
    parser.feed(b"data: " + b"x" * 50)

    with pytest.raises(EventTooLargeError):
        parser.feed(b"x" * 20)


def test__events_under_the_cap__each_counted_alone() -> None:
    events = _parse(*[b"data: " + b"x" * 40 + b"\n\n"] * 10, max_event=64)

    assert len(events) == 10


def test__stream_over_its_cap__event_too_large() -> None:
    with pytest.raises(EventTooLargeError) as caught:
        _parse(*[b"data: x\n\n"] * 10, max_stream=50)

    assert caught.value.scope == "stream"


def test__not_utf8__protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="UTF-8"):
        _parse(b"data: \xff\n\n")


def test__caps_not_positive__value_error() -> None:
    with pytest.raises(ValueError, match="positive"):
        SSEParser(max_event_bytes=0, max_stream_bytes=10)
