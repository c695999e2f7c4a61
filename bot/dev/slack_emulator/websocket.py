"""RFC 6455, as much as a server needs: the handshake's accept key, frames read from a client
(masked, as clients must send them) and written to it (unmasked), fragments joined."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedIOBase

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL = (CLOSE, PING, PONG)
OPCODES = (CONTINUATION, TEXT, BINARY, *CONTROL)
MAX_PAYLOAD = 16 * 1024 * 1024  # a bigger frame is refused (1009) rather than buffered
Read = Callable[[int], bytes]  # exactly n bytes, or EOFError


class ProtocolError(Exception):
    """The peer broke the protocol; `code` is the close status to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes = b""
    fin: bool = True


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_key(key: str) -> bool:
    """A Sec-WebSocket-Key is 16 random bytes in base64."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def encode(frame: Frame, mask: bytes = b"") -> bytes:
    """The frame on the wire: unmasked from a server; a client passes a 4-byte `mask`."""
    size = len(frame.payload)
    masked_bit = 0x80 if mask else 0
    head = bytes([(0x80 if frame.fin else 0) | frame.opcode])
    if size < 126:
        head += bytes([masked_bit | size])
    elif size < 1 << 16:
        head += struct.pack("!BH", masked_bit | 126, size)
    else:
        head += struct.pack("!BQ", masked_bit | 127, size)
    return head + mask + xor(frame.payload, mask) if mask else head + frame.payload


def read_frame(read: Read, masked: bool = True) -> Frame:
    """The next frame; `masked` says the peer is a client, whose frames must be masked."""
    first, second = read(2)
    opcode, fin, size = first & 0x0F, bool(first & 0x80), second & 0x7F
    if first & 0x70:
        raise ProtocolError(1002, "reserved bits set without an extension")
    if opcode not in OPCODES:
        raise ProtocolError(1002, f"unknown opcode {opcode:#x}")
    if bool(second & 0x80) != masked:
        raise ProtocolError(1002, "client frames must be masked, server frames not")
    if size == 126:
        (size,) = struct.unpack("!H", read(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", read(8))
    if opcode in CONTROL and (size > 125 or not fin):
        raise ProtocolError(1002, "control frames are short and never fragmented")
    if size > MAX_PAYLOAD:
        raise ProtocolError(1009, "frame too big")
    mask = read(4) if masked else b""
    payload = read(size)
    return Frame(opcode, xor(payload, mask) if mask else payload, fin)


def xor(data: bytes, mask: bytes) -> bytes:
    """Mask or unmask (the same operation) with a 4-byte key."""
    key = (mask * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(len(data), "big")


def close_frame(code: int, reason: str = "") -> Frame:
    return Frame(CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123])


def exact_reader(stream: BufferedIOBase) -> Read:
    def read(size: int) -> bytes:
        data = stream.read(size)
        if len(data) < size:
            raise EOFError("the peer closed the connection")
        return data

    return read


class Reassembly:
    """Joins a fragmented message; control frames may arrive between its fragments."""

    def __init__(self) -> None:
        self._opcode: int | None = None
        self._parts: list[bytes] = []

    def add(self, frame: Frame) -> Frame | None:
        """The whole message once `frame` completes one, else None."""
        if (frame.opcode == CONTINUATION) != (self._opcode is not None):
            raise ProtocolError(1002, "fragments out of order")
        if self._opcode is None:
            self._opcode = frame.opcode
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        whole = Frame(self._opcode, b"".join(self._parts))
        self._opcode, self._parts = None, []
        return whole
