"""`gateway bench`: the performance workloads and their targets (docs/performance.md).

measure.py        CPU and memory of this process, or of a child from /proc
fleet.py          simulated slaves in a separate process (so they are not measured)
gatewayproc.py    a real `gateway run` in a child process, its log watched
uaclient.py       OPC UA client helpers: Good-value waits, raw subscriptions
poll.py           the polling workload, with the one-request-per-tag baseline
storage.py        batch insert rows/s, with the one-INSERT-per-row baseline
modbus.py         requests per scan vs the optimum; requests/s vs libmodbus (libmodbus.py)
latency.py        register change → client notification (arithmetic in timing.py)
fanout.py         clients × monitored items (one fanout_client.py process per client)
startup.py        `gateway run` start → first Good value served; peak RSS
memstages.py      RSS of an in-process gateway by stage (imports, configuration, start)
suite.py          `bench all`: every workload in sequence
report.py         median / min-max over runs, a readable table and JSON
"""
