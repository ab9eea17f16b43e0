"""`gateway demo`: the bundled demo plant and a gateway for it, in one process.

runner.py    data directory, simulated PLCs, the gateway, stop on signal
banner.py    what it prints at start, fitting an 80×24 terminal with the status
status.py    the live status: in place on a terminal, a line every few seconds otherwise
gateway.yaml the demo's gateway configuration (package data; examples/demo.yaml + demo access)

The plant is simulators/plants/demo.yaml, shipped as package data of
`simulators`, so the demo works from a plain (non-editable) install.
"""

from gateway.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
