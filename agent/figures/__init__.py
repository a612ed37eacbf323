"""Where every figure of a run is made, as METRICS.md defines it; pure (no grpc, textual or zeroconf).

    latency.py   TTFT, TPOT, NTPOT, ITL, E2EL, throughput, goodput, and the percentile methods
    energy.py    energy_j, power, tokens/J, J/token, mJ/query per energy domain
    success.py   task success with its Wilson interval, correct answers per second, J per correct answer
    validity.py  minimum duration and queries, MLPerf LoadGen early stopping, service-time CoV
    record.py    the one record builder: a measured window into a RunRecord (bench, agent, crash recovery)

The record itself (what a run's record holds) is core/model/record.py.
"""
