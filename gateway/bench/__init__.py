"""`gateway bench`: the performance workloads of DESIGN.md §9.

measure.py   CPU and memory of this process over a window
fleet.py     simulated slaves in a separate process (so they are not measured)
poll.py      the polling workload, with the one-request-per-tag baseline
report.py    median / min-max over runs, a readable table and JSON
"""
