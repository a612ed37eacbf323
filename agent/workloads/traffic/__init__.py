"""The user's own traffic and success measure (issue 13): the pieces, and source.py, which the scenarios,
the driver and the agent call.

    spec.py       [workload] and [task] of a profile, strictly read into dataclasses
    items.py      a JSONL file of prompts (text or ids) with expected answers, drawn in a seeded order
    tokenizer.py  the tokenizer.json beside a model (the `tokenizers` library) and the model's EOS ids
    lengths.py    input/output lengths from fixed, uniform, normal or log-normal distributions, bounded
    trace.py      a trace of real requests: lengths, and arrivals replayed as recorded or scaled
    scorers.py    exact, contains, regex and last-number scorers on text or token ids
    task.py       one request's output graded against its item
    success.py    success rate with its Wilson interval, j_per_correct and correct_per_s per domain
    source.py     a profile's [workload]/[task] as a PromptSource for the scenarios: what query n sends, how
                  its answer is graded, every file checked while the run is preparing

Everything here but tokenizer.py (which loads `tokenizers` when used) and source.py (the profile and the
open runner) needs only numpy, the stdlib and the core model.
"""
