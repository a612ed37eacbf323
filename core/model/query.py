"""One query's timestamps: the unit every latency figure is computed from.

A query is one prompt of a batch (generative models) or one batched inference (fixed-shape models). The
scenario records it, the agent streams it (QueryBatch + TokenBatch), the journal keeps it for crash
recovery and the record stores it; all of them use this one type. Times are monotonic ns on the host that
ran it. A query that ran one of the user's items (profile `[workload] items`) also carries the item's id,
whether its answer was correct (None: not scored) and the output token ids it was graded on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Query:
    """token_ns holds the time of every output token (empty for fixed-shape models); done_ns is the
    completion time (the last token's time for generative queries)."""

    query_id: int
    scheduled_ns: int
    issued_ns: int
    done_ns: int
    token_ns: tuple[int, ...] = ()
    warmup: bool = False
    samples: int = 1  # samples in this query (its batch size for fixed-shape inference)
    item_id: str = ""  # the item it ran ("" = generated prompt)
    correct: bool | None = None  # its answer against the item's expected one; None = not scored
    output_ids: tuple[int, ...] = ()  # the tokens it produced, kept only for items

    @property
    def n_out(self) -> int:
        return len(self.token_ns)

    @property
    def first_token_ns(self) -> int:
        return self.token_ns[0] if self.token_ns else 0

    def to_dict(self, base_ns: int = 0) -> dict[str, Any]:
        """JSON form with every time relative to `base_ns` (the record's anchor), so integers stay small."""
        return {
            "query_id": self.query_id,
            "scheduled_ns": self.scheduled_ns - base_ns,
            "issued_ns": self.issued_ns - base_ns,
            "done_ns": self.done_ns - base_ns,
            "token_ns": [t - base_ns for t in self.token_ns],
            "n_out": self.n_out,
            "warmup": self.warmup,
            "samples": self.samples,
            **({"item_id": self.item_id, "correct": self.correct, "output_ids": list(self.output_ids)}
               if self.item_id else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_ns: int = 0) -> Query:
        """Inverse of to_dict; also reads schema-1 records ("request_id", absolute times, base_ns 0)."""
        qid = d["query_id"] if "query_id" in d else d["request_id"]
        return cls(
            query_id=int(qid),
            scheduled_ns=int(d["scheduled_ns"]) + base_ns,
            issued_ns=int(d["issued_ns"]) + base_ns,
            done_ns=int(d["done_ns"]) + base_ns,
            token_ns=tuple(int(t) + base_ns for t in d.get("token_ns", ())),
            warmup=bool(d.get("warmup", False)),
            samples=int(d.get("samples", 1)),
            item_id=str(d.get("item_id", "") or ""),
            correct=None if d.get("correct") is None else bool(d["correct"]),
            output_ids=tuple(int(t) for t in d.get("output_ids", ())),
        )
