"""The user's own traffic and success measure (issue 13), as pure pieces the scenarios and driver call.

    spec.py       [workload] and [task] of a profile, strictly read into dataclasses
    items.py      a JSONL file of prompts (text or ids) with expected answers, drawn in a seeded order
    tokenizer.py  the tokenizer.json beside a model (the `tokenizers` library) and the model's EOS ids
    lengths.py    input/output lengths from fixed, uniform, normal or log-normal distributions, bounded
    trace.py      a trace of real requests: lengths, and arrivals replayed as recorded or scaled
    scorers.py    exact, contains, regex and last-number scorers on text or token ids
    task.py       one request's output graded against its item
    success.py    success rate with its Wilson interval, j_per_correct and correct_per_s per domain

Everything here but tokenizer.py (which loads `tokenizers` when used) needs only numpy and the stdlib.
"""
