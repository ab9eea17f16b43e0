"""Text for people: what the CLI, the demo and the benchmarks print (pure, prints nothing).

check.py      the `gateway check` report: devices, tags, the planned requests
history.py    `gateway history`: one tag's stored values as a table or CSV, streamed
alarms.py     `gateway alarms`: the alarm journal, or the alarms not normal, as a table or CSV
values.py     one status, time or value as these tables write it (Good, Bad_Timeout…)
timespec.py   times typed by people: `--since -1h`, ISO 8601, now, POSIX seconds

The storage package keeps the queries and rows (gateway/storage/reading.py
opens the database for reading); this package only turns them into lines.
"""
