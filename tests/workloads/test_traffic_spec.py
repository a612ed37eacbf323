"""Profile tables [workload] and [task]: read strictly, errors naming file and key, round trip."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wattfleet.agent.workloads.profile import profile_from_dict
from wattfleet.agent.workloads.traffic.spec import traffic_from_dict, traffic_to_dict, without_traffic
from wattfleet.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The built-in profile of synthetic chat-like traffic.
CHAT_SYNTHETIC = (Path(__file__).parents[2] / "profiles" / "chat-synthetic.toml").read_text(encoding="utf-8")


def _parse(text: str) -> object:
    return traffic_from_dict(tomllib.loads(text), "p.toml")


def test_chat_synthetic_profile_reads_in_both_halves() -> None:
    from wattfleet.agent.workloads.profile import find_profile

    data = tomllib.loads(CHAT_SYNTHETIC)
    profile = profile_from_dict(without_traffic(data), "profiles/chat-synthetic.toml")
    traffic = traffic_from_dict(data, "profiles/chat-synthetic.toml")
    assert "SYNTHETIC" in profile.description
    assert find_profile("chat-synthetic")[0].traffic == traffic  # a built-in profile, [workload] read
    out = traffic.workload.output_lengths
    assert out is not None and (out.dist, out.median, out.upper) == ("lognormal", 48.0, 256)
    inp = traffic.workload.input_lengths
    assert inp is not None and inp.upper + out.upper <= 512  # decoder-small's context
    assert not traffic.task.scorer


def test_items_and_task_round_trip() -> None:
    text = """
[load]
output_tokens = 24
[workload]
items = "gsm.jsonl"
order = "file"
stop_at_eos = false
[task]
scorer = "last-number"
case_sensitive = false
"""
    traffic = traffic_from_dict(tomllib.loads(text), "p.toml")
    assert (traffic.workload.items, traffic.workload.order, traffic.workload.stop_at_eos) == ("gsm.jsonl", "file",
                                                                                               False)
    assert (traffic.task.scorer, traffic.task.on, traffic.task.case_sensitive) == ("last-number", "text", False)
    again = traffic_from_dict(traffic_to_dict(traffic), "p.toml")
    assert again == traffic
    server = traffic_from_dict({"load": {"scenario": "server"}, "workload": {"trace": "t.csv",
                                                                            "trace_rate_qps": 3.0}}, "p.toml")
    assert traffic_from_dict(traffic_to_dict(server) | {"load": {"scenario": "server"}}, "p.toml") == server
    assert traffic_from_dict({}, "p.toml") == traffic_from_dict({"load": {"scenario": "offline"}}, "p.toml")


@pytest.mark.parametrize(("text", "message"), [
    ('[workload]\nprompts = "x"', r"p.toml: workload.prompts: unknown key; expected one of add_special_tokens"),
    ('[workload]\nitems = 3', r"p.toml: workload.items: expected a string, got 3"),
    ('[workload]\nitems = ""', r"p.toml: workload.items: expected a file path"),
    ('[workload]\nitems = "i.jsonl"\norder = "random"', r"p.toml: workload.order: expected one of 'seeded', 'file'"),
    ('[workload]\nitems = "i.jsonl"\ntrace = "t.csv"', r"p.toml: workload.trace: cannot be combined with "
                                                      r"workload.items"),
    ('[workload]\ntrace = "t.csv"\noutput_lengths = {dist = "fixed", value = 3}',
     r"p.toml: workload.output_lengths: cannot be combined with workload.trace"),
    ('[load]\nprompt_tokens = 64\n[workload]\ninput_lengths = {dist = "fixed", value = 3}',
     r"p.toml: workload.input_lengths: replaces load.prompt_tokens; remove one"),
    ('[load]\noutput_tokens = 64\n[workload]\noutput_lengths = {dist = "fixed", value = 3}',
     r"p.toml: workload.output_lengths: replaces load.output_tokens; remove one"),
    ('[load]\nprompt_tokens = 64\n[workload]\nitems = "i.jsonl"', r"p.toml: load.prompt_tokens: workload.items sets"),
    ('[workload]\ntrace_rate_scale = 2.0', r"p.toml: workload.trace_rate_scale: needs workload.trace"),
    ('[load]\nscenario = "offline"\n[workload]\ntrace = "t.csv"\ntrace_rate_qps = 2.0',
     r"p.toml: workload.trace_rate_qps: scales arrival times, which only the server scenario has"),
    ('[load]\nscenario = "server"\n[workload]\ntrace = "t.csv"\ntrace_rate_qps = 2.0\ntrace_rate_scale = 1.0',
     r"give trace_rate_scale or trace_rate_qps, not both"),
    ('[load]\nscenario = "server"\n[workload]\ntrace = "t.csv"\ntrace_rate_scale = -1.0',
     r"p.toml: workload.trace_rate_scale: expected a number > 0, got -1.0"),
    ('[load]\nscenario = "server"\nrate = 4.0\n[workload]\ntrace = "t.csv"',
     r"p.toml: load.rate: workload.trace sets the arrival times"),
    ('[load]\nscenario = "sweep"\n[workload]\ntrace = "t.csv"', r"p.toml: workload.trace: a trace sets its own "
                                                                r"arrivals; sweep over concurrency"),
    ('[load]\nbatch_size = 4\n[workload]\nitems = "i.jsonl"', r"p.toml: load.batch_size: prompts of different "
                                                              r"lengths cannot share a batch"),
    ('[task]\nscorer = "exact"', r"p.toml: task.scorer: needs workload.items with expected answers"),
    ('[workload]\nitems = "i.jsonl"\n[task]\nscorer = "bleu"', r"p.toml: task.scorer: expected one of 'exact'"),
    ('[workload]\nitems = "i.jsonl"\n[task]\non = "ids"', r"p.toml: task.scorer: required in \[task\]"),
    ('[workload]\nitems = "i.jsonl"\n[task]\nscorer = "regex"\non = "ids"',
     r"p.toml: task.on: scorer 'regex' reads numbers or patterns in text; use on = 'text'"),
    ('[workload]\nitems = "i.jsonl"\n[task]\nscorer = "exact"\non = "tokens"', r"p.toml: task.on: expected one of"),
    ('[workload]\nitems = "i.jsonl"\n[task]\nscorer = "exact"\nstrip = "yes"', r"p.toml: task.strip: expected true "
                                                                              r"or false, got 'yes'"),
    ('[workload]\noutput_lengths = {dist = "normal", mean = 5, max = 9}',
     r"p.toml: workload.output_lengths.std: required for dist = 'normal'"),
    ('workload = 3', r"p.toml: workload: expected a table, got 3"),
])
def test_bad_tables_are_one_line_naming_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(text)


def test_defaults_written_back_by_profile_to_dict_do_not_conflict() -> None:
    """apply_overrides round-trips a profile through profile_to_dict, which writes every [load] default."""
    from wattfleet.agent.workloads.profile import profile_to_dict

    data = tomllib.loads(CHAT_SYNTHETIC)
    full = profile_to_dict(profile_from_dict(without_traffic(data), "p.toml"))
    full["workload"] = data["workload"]
    assert traffic_from_dict(full, "p.toml") == traffic_from_dict(data, "p.toml")
