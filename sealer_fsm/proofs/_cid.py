"""Piece and sealed CIDs: the multiformats wrappers lotus and FRC-0069 put around a 32-byte commitment.

v1 piece CID  = cidv1 | fil-commitment-unsealed | sha2-256-trunc254-padded | 32 | comm   ("baga6ea4seaq...")
v2 piece CID  = cidv1 | raw | fr32-sha256-trunc254-padbintree | len | uvarint(padding) | height | comm
                                                                                         ("bafkzcib...")
sealed CID    = cidv1 | fil-commitment-sealed | poseidon-bls12_381-a2-fc1 | 32 | comm    ("bagboea4b5abc...")
All are written in multibase base32 lower case ("b" prefix).
"""

from __future__ import annotations

import base64
import binascii
import re

from sealer_fsm.proofs._sizes import check_piece_size, unpadded_size

_CID_V1 = 0x01
_RAW = 0x55
_UNSEALED = 0xF101
_SEALED = 0xF102
_SHA256_TRUNC254_PADDED = 0x1012
_POSEIDON_BLS12_381_A2_FC1 = 0xB401
_FR32_SHA256_TRUNC254_PADBINTREE = 0x1011
_COMM_SIZE = 32
_NODE_SIZE = 32
_MAX_HEIGHT = 50  # the tree code's limit (32 PiB)
_BASE32_LOWER = re.compile(r"b[a-z2-7]+")


def piece_cid_v1(comm: bytes) -> str:
    """The lotus piece CID of a CommP or CommD ("baga6ea4seaq...")."""
    return _encode(_UNSEALED, _SHA256_TRUNC254_PADDED, _check_comm(comm))


def piece_cid_v2(comm: bytes, payload_size: int, piece_size: int) -> str:
    """The FRC-0069 piece CID ("bafkzcib..."), which also records the payload size and the tree height."""
    check_piece_size(piece_size)
    padding = unpadded_size(piece_size) - payload_size
    if padding < 0 or payload_size < 0:
        raise ValueError(f"a payload of {payload_size} bytes does not fit a piece of {piece_size} bytes")
    height = piece_size.bit_length() - 1 - 5
    digest = _uvarint(padding) + bytes((height,)) + _check_comm(comm)
    return _encode(_RAW, _FR32_SHA256_TRUNC254_PADBINTREE, digest)


def sealed_cid(comm_r: bytes) -> str:
    """The sealed-sector CID of a CommR ("bagboea4b5abc...")."""
    return _encode(_SEALED, _POSEIDON_BLS12_381_A2_FC1, _check_comm(comm_r))


def parse_piece_cid(cid: str) -> bytes:
    """The 32-byte commitment inside a v1 or v2 piece CID; ValueError naming the CID otherwise."""
    return _parse_piece_cid(cid)[0]


def piece_cid_size(cid: str) -> int | None:
    """The padded piece size a v2 piece CID records (from its tree height); None for a v1 CID, which has none.
    ValueError naming the CID if it is not a piece CID."""
    return _parse_piece_cid(cid)[1]


def _parse_piece_cid(cid: str) -> tuple[bytes, int | None]:
    codec, hash_code, digest = _decode(cid)
    if (codec, hash_code) == (_UNSEALED, _SHA256_TRUNC254_PADDED) and len(digest) == _COMM_SIZE:
        return digest, None
    if (codec, hash_code) == (_RAW, _FR32_SHA256_TRUNC254_PADBINTREE):
        padding, rest = _read_uvarint(digest, cid)
        if len(rest) == 1 + _COMM_SIZE and 2 <= rest[0] <= _MAX_HEIGHT:
            piece_size = _NODE_SIZE << rest[0]
            if padding <= unpadded_size(piece_size):
                return rest[1:], piece_size
    raise ValueError(f"not a piece CID: {cid!r}")


def parse_sealed_cid(cid: str) -> bytes:
    """The 32-byte CommR inside a sealed CID; ValueError naming the CID otherwise."""
    codec, hash_code, digest = _decode(cid)
    if (codec, hash_code) != (_SEALED, _POSEIDON_BLS12_381_A2_FC1) or len(digest) != _COMM_SIZE:
        raise ValueError(f"not a sealed CID: {cid!r}")
    return digest


def _encode(codec: int, hash_code: int, digest: bytes) -> str:
    raw = _uvarint(_CID_V1) + _uvarint(codec) + _uvarint(hash_code) + _uvarint(len(digest)) + digest
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def _decode(cid: str) -> tuple[int, int, bytes]:
    """(codec, multihash code, digest) of a base32 CIDv1; ValueError naming the CID if it is not one."""
    if not isinstance(cid, str) or not _BASE32_LOWER.fullmatch(cid):
        raise _malformed(cid, "expected 'b' then lower-case base32")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        raise _malformed(cid, "invalid base32") from None
    version, rest = _read_uvarint(raw, cid)
    codec, rest = _read_uvarint(rest, cid)
    hash_code, rest = _read_uvarint(rest, cid)
    length, digest = _read_uvarint(rest, cid)
    if version != _CID_V1 or length != len(digest):
        raise _malformed(cid, "not a CIDv1 with a complete digest")
    return codec, hash_code, digest


def _malformed(cid: str, reason: str) -> ValueError:
    return ValueError(f"not a CID ({reason}): {cid!r}")


def _check_comm(comm: bytes) -> bytes:
    if not isinstance(comm, bytes | bytearray) or len(comm) != _COMM_SIZE:
        raise ValueError(f"a commitment is {_COMM_SIZE} bytes, got {comm!r}")
    return bytes(comm)


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_uvarint(data: bytes, cid: str) -> tuple[int, bytes]:
    value = 0
    for index, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, data[index + 1 :]
    raise _malformed(cid, "truncated varint")
