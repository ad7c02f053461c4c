"""The simplified TLV of card content v5.4 §6.1 (``shared/belpic.md`` §3.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.card.errors import CardDataError, TlvError
from bridge.card.tlv import encode_length, encode_tlv, iter_tlv, parse_tlv


def test_parses_elements_in_file_order() -> None:
    data = bytes.fromhex("01 03 414243  02 00  07 02 C3A9")
    assert parse_tlv(data) == [(0x01, b"ABC"), (0x02, b""), (0x07, "é".encode())]


def test_empty_file_has_no_elements() -> None:
    assert parse_tlv(b"") == []


def test_trailing_zero_padding_is_ignored() -> None:
    data = bytes.fromhex("01 01 41  03 02 4243") + bytes(40)
    assert parse_tlv(data) == [(0x01, b"A"), (0x03, b"BC")]


def test_tag_00_is_an_element_when_first() -> None:
    # Tag 00 = file structure version (IDA5 §1), only ever the first element.
    data = bytes.fromhex("00 02 0002  01 01 41") + bytes(5)
    assert parse_tlv(data) == [(0x00, b"\x00\x02"), (0x01, b"A")]


def test_all_zero_file_is_an_empty_version_element_then_padding() -> None:
    assert parse_tlv(bytes(117)) == [(0x00, b"")]


def test_zero_value_bytes_inside_an_element_are_data_not_padding() -> None:
    data = bytes.fromhex("02 04 00000000") + bytes(3)
    assert parse_tlv(data) == [(0x02, bytes(4))]


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (254, "FE"),
        (255, "FF00"),
        (256, "FF01"),
        (300, "FF2D"),
        (509, "FFFE"),
        (510, "FFFF00"),
        (765, "FFFFFF00"),
        (800, "FFFFFF23"),
    ],
)
def test_length_uses_ff_continuation(length: int, encoded: str) -> None:
    # §6.1: "FF x - 255", "FF FF x - 510", "FF FF FF x - 765".
    assert encode_length(length) == bytes.fromhex(encoded)
    data = b"\x07" + bytes.fromhex(encoded) + b"x" * length
    assert parse_tlv(data) == [(0x07, b"x" * length)]


def test_value_of_300_bytes_with_following_element() -> None:
    value = bytes(range(256)) + bytes(range(44))
    data = b"\x07\xff\x2d" + value + b"\x08\x01Z" + bytes(10)
    assert parse_tlv(data) == [(0x07, value), (0x08, b"Z")]


def test_bit_7_is_not_a_length_continuation() -> None:
    # commons-eid's 7-bit rule would read 0x81 as "continue"; §6.1 reads 129 bytes.
    value = b"v" * 0x81
    assert parse_tlv(b"\x05\x81" + value) == [(0x05, value)]


def test_truncated_value_reports_the_element_offset() -> None:
    data = bytes.fromhex("01 01 41  05 06 4142")
    with pytest.raises(TlvError) as info:
        parse_tlv(data)
    assert info.value.offset == 3
    assert "truncated" in str(info.value)


def test_missing_length_byte() -> None:
    with pytest.raises(TlvError) as info:
        parse_tlv(bytes.fromhex("01 01 41  05"))
    assert info.value.offset == 4


def test_truncated_continuation_length() -> None:
    with pytest.raises(TlvError) as info:
        parse_tlv(bytes.fromhex("07 FF FF"))
    assert info.value.offset == 3


def test_single_zero_byte_is_a_truncated_version_element() -> None:
    with pytest.raises(TlvError) as info:
        parse_tlv(b"\x00")
    assert info.value.offset == 1


def test_descending_tag_is_rejected_with_its_offset() -> None:
    data = bytes.fromhex("01 01 41  06 01 42  05 01 43")
    with pytest.raises(TlvError) as info:
        parse_tlv(data)
    assert info.value.offset == 6
    assert "ascending" in str(info.value)


def test_repeated_tag_is_rejected() -> None:
    with pytest.raises(TlvError) as info:
        parse_tlv(bytes.fromhex("01 01 41  01 01 42"))
    assert info.value.offset == 3


def test_tag_00_after_first_element_with_data_behind_is_rejected() -> None:
    data = bytes.fromhex("01 01 41  00 01 42")
    with pytest.raises(TlvError) as info:
        parse_tlv(data)
    assert info.value.offset == 3


def test_elements_before_an_error_are_still_yielded_by_the_iterator() -> None:
    iterator = iter_tlv(bytes.fromhex("01 01 41  01 01 42"))
    assert next(iterator) == (0x01, b"A")
    with pytest.raises(TlvError):
        next(iterator)


def test_tlv_error_is_a_card_data_error_and_value_error() -> None:
    with pytest.raises(TlvError) as info:
        parse_tlv(b"\x01\x05")
    assert isinstance(info.value, CardDataError)
    assert isinstance(info.value, ValueError)


def test_encode_builds_card_bytes() -> None:
    encoded = encode_tlv([(0x00, b"\x00\x02"), (0x01, b"AB"), (0x07, b"x" * 300)])
    assert encoded == bytes.fromhex("00 02 0002  01 02 4142  07 FF 2D") + b"x" * 300


def test_encode_accepts_bytearray_and_memoryview() -> None:
    assert encode_tlv([(1, bytearray(b"A")), (2, memoryview(b"B"))]) == b"\x01\x01A\x02\x01B"


@pytest.mark.parametrize(
    "items",
    [
        [(0x02, b""), (0x01, b"")],  # descending
        [(0x01, b""), (0x01, b"")],  # repeated
        [(0x01, b""), (0x00, b"")],  # tag 00 not first
        [(0x100, b"")],  # tag wider than a byte
        [(-1, b"")],
    ],
)
def test_encode_refuses_what_parse_would_refuse(items: list[tuple[int, bytes]]) -> None:
    with pytest.raises(ValueError, match="tag"):
        encode_tlv(items)


def test_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        encode_length(-1)


# --- properties -------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_parse_raises_nothing_but_tlv_error(data: bytes) -> None:
    error: TlvError | None = None
    elements: list[tuple[int, bytes]] = []
    try:
        elements = parse_tlv(data)
    except TlvError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.offset <= len(data)
    tags = [tag for tag, _ in elements]
    assert tags == sorted(set(tags))


@st.composite
def tlv_items(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    tags = draw(st.sets(st.integers(1, 255), max_size=12))
    with_version = draw(st.booleans())
    ordered = ([0] if with_version else []) + sorted(tags)
    # Mix short values with ones that need the FF continuation.
    values = st.one_of(st.binary(max_size=10), st.binary(min_size=250, max_size=800))
    return [(tag, draw(values)) for tag in ordered]


@settings(max_examples=200)
@given(tlv_items(), st.integers(0, 300))
def test_encode_then_parse_round_trips_with_any_padding(
    items: list[tuple[int, bytes]], padding: int
) -> None:
    encoded = encode_tlv(items)
    assert parse_tlv(encoded) == items
    if items:
        assert parse_tlv(encoded + bytes(padding)) == items


@given(st.integers(0, 5000))
def test_length_round_trip(length: int) -> None:
    encoded = encode_length(length)
    assert all(b == 0xFF for b in encoded[:-1])
    assert encoded[-1] < 0xFF
    assert parse_tlv(b"\x01" + encoded + bytes(length)) == [(1, bytes(length))]
