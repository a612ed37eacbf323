"""The full JSON record in chunks (GetRunRecord): any size reaches any client."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wattfleet.core.wire.enums import (
    ENCODING_NAMES,
    ENCODINGS,
    RECORD_CHUNK_BYTES,
)
from wattfleet.v1 import agent_pb2 as Pb

# --- the full JSON record in chunks (GetRunRecord) -------------------------------------------------


def encode_record(record_json: str, encoding: str) -> bytes:
    data = record_json.encode("utf-8")
    return gzip.compress(data, 6) if encoding == "json-gzip" else data


def record_chunks(record_json: str, encoding: str = "json", chunk_bytes: int = RECORD_CHUNK_BYTES) -> Iterator[Any]:
    """RecordChunk messages of a JSON record, `encoding` "json" or "json-gzip"."""
    data = encode_record(record_json, encoding)
    total = len(data)
    code = ENCODINGS.get(encoding, Pb.RECORD_ENCODING_JSON)
    offset = 0
    while True:
        piece = data[offset : offset + chunk_bytes]
        last = offset + len(piece) >= total
        yield Pb.RecordChunk(data=piece, encoding=code, offset=offset, total_bytes=total, last=last)
        offset += len(piece)
        if last:
            return


@dataclass
class RecordAssembler:
    """Joins RecordChunk messages back into the JSON text; `add` returns True at the last chunk."""

    parts: list[bytes] = field(default_factory=list)
    encoding: str = "json"
    total_bytes: int = 0
    received: int = 0
    done: bool = False

    def add(self, msg: Any) -> bool:
        if msg.offset != self.received:
            raise ValueError(f"record chunk at offset {msg.offset}, expected {self.received}")
        self.encoding = ENCODING_NAMES.get(msg.encoding, "json")
        self.total_bytes = msg.total_bytes
        self.parts.append(bytes(msg.data))
        self.received += len(msg.data)
        self.done = bool(msg.last)
        return self.done

    def text(self) -> str:
        if not self.done or self.received != self.total_bytes:
            raise ValueError(f"record incomplete: {self.received} of {self.total_bytes} bytes")
        data = b"".join(self.parts)
        return (gzip.decompress(data) if self.encoding == "json-gzip" else data).decode("utf-8")


def get_run_record_request(run_id: str, encoding: str = "json") -> Any:
    return Pb.GetRunRecordRequest(run_id=run_id, encoding=ENCODINGS.get(encoding, Pb.RECORD_ENCODING_JSON))


@dataclass(frozen=True)
class RecordRequest:
    run_id: str
    encoding: str

    @classmethod
    def from_proto(cls, msg: Any) -> RecordRequest:
        return cls(str(msg.run_id), ENCODING_NAMES.get(msg.encoding, "json"))


