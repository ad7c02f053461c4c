"""The "simplified TLV" of the identity and address files (card content v5.4 §6.1).

Layout of one element:

- tag: 1 byte;
- length: 1 byte when the length is below 255, otherwise one ``FF`` per 255 and a final
  byte below ``FF`` (``FF 2D`` = 255 + 45 = 300, ``FF FF 00`` = 510); neither tag nor
  length bytes are counted;
- value: that many bytes, binary or UTF-8 without a NUL terminator.

The data "may be followed by padding bytes ('0'). They have to be ignored" (§6.1), and the
tags come in ascending order (applet manual 1.8 §6.8). This is *not* BER-TLV: commons-eid
reads the length with a 7-bit continuation rule, which agrees below 128 only
(``shared/belpic.md`` §3.1 [CONFLICT]); the card content document is followed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bridge.card.errors import TlvError

__all__ = ["encode_length", "encode_tlv", "iter_tlv", "parse_tlv"]

_LENGTH_STEP = 0xFF
"""Each ``FF`` length byte adds 255 and says another length byte follows (§6.1)."""


def iter_tlv(data: bytes | bytearray | memoryview) -> Iterator[tuple[int, bytes]]:
    """Yield ``(tag, value)`` pairs of ``data`` in file order.

    Stops at the trailing zero padding: a ``00`` tag byte after the first element, when
    every byte from there to the end is zero. Tag ``00`` (file structure version) is an
    element only as the very first one, as in eid-mw ``CTLVBuffer::ParseTLV``; a ``00``
    further on followed by non-zero bytes is an error, not padding.

    Raises :class:`TlvError` (with the offset of the offending byte) for a truncated
    length or value, a tag not above the previous one, or a misplaced tag ``00``. No
    other exception escapes for any byte string.
    """
    buf = bytes(data)
    size = len(buf)
    pos = 0
    previous_tag = -1
    while pos < size:
        tag_offset = pos
        tag = buf[pos]
        if previous_tag >= 0:
            if tag == 0x00:
                # §6.1: zero padding after the data is to be ignored; a zero tag byte
                # with anything non-zero behind it cannot be padding.
                if buf.count(0, pos) == size - pos:
                    return
                raise TlvError("tag 00 after the first element", tag_offset)
            if tag <= previous_tag:
                raise TlvError(
                    f"tag {tag:02X} does not follow tag {previous_tag:02X} in ascending order",
                    tag_offset,
                )
        pos += 1

        length = 0
        while True:
            if pos >= size:
                raise TlvError(f"length of tag {tag:02X} is truncated", pos)
            length_byte = buf[pos]
            pos += 1
            length += length_byte
            if length_byte != _LENGTH_STEP:
                break

        if length > size - pos:
            raise TlvError(
                f"value of tag {tag:02X} is truncated: {length} bytes announced, {size - pos} left",
                tag_offset,
            )
        yield tag, buf[pos : pos + length]
        pos += length
        previous_tag = tag


def parse_tlv(data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
    """All ``(tag, value)`` elements of a simplified-TLV file; see :func:`iter_tlv`."""
    return list(iter_tlv(data))


def encode_length(length: int) -> bytes:
    """The §6.1 length field: ``FF`` per 255 bytes, then the remainder (below 255)."""
    if length < 0:
        raise ValueError(f"negative TLV length {length}")
    steps, rest = divmod(length, _LENGTH_STEP)
    return bytes([_LENGTH_STEP]) * steps + bytes([rest])


def encode_tlv(items: Iterable[tuple[int, bytes | bytearray | memoryview]]) -> bytes:
    """The inverse of :func:`parse_tlv`, for building card files (no padding added).

    Refuses (``ValueError``) what :func:`parse_tlv` would refuse to read back: tags out
    of ``0..255``, tags not strictly ascending, and tag ``00`` anywhere but first.
    """
    out = bytearray()
    previous_tag = -1
    for tag, value in items:
        if not 0 <= tag <= 0xFF:
            raise ValueError(f"TLV tag {tag} does not fit in one byte")
        if previous_tag >= 0 and tag == 0x00:
            raise ValueError("tag 00 is allowed only as the first element")
        if tag <= previous_tag:
            raise ValueError(f"TLV tags must ascend: {tag:02X} after {previous_tag:02X}")
        raw = bytes(value)
        out.append(tag)
        out += encode_length(len(raw))
        out += raw
        previous_tag = tag
    return bytes(out)
