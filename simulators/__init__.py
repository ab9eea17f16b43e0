"""Simulated PLCs: Modbus TCP slaves driven by signals, process models and faults.

Where things are:

    plant.py          plant file models: slaves, units, points
    plant_checks.py   checks across a plant file: names, overlaps, model links
    loader.py         `load_plant` (file:line errors like the gateway's)
    signals.py        signals, pure functions of plant time (sine, ramp, random walk…)
    models.py         process models, pure step functions (tank, heater, motor…)
    faults.py         fault kinds and the set in force on one slave
    kinds.py          `kind:` dispatch that keeps error paths equal to the YAML's
    image.py          the register image of one unit id (four tables)
    pdu.py            Modbus request parsing and execution, pure
    server.py         the asyncio Modbus TCP slave (and why it is not pymodbus')
    lineconfig.py     `transport` and `serial:` of a slave on an RTU line
    rtuslave.py       RTU framing, paced answers and RTU faults of one line end
    rtuserving.py     RTU slaves on a pseudo-terminal, a device path or TCP
    points.py         a point bound to an image through the gateway's codec
    unit.py, slave.py run-time units and slaves: the control API tests use
    serving.py        servers plus a ticker under one TaskGroup
    runtime.py        `run_plant`: a plant file brought to life
    scale.py          the benchmark load generator
    cli.py            `python -m simulators` and `gateway simulate`

Typical use in a test:

    async with run_plant(load_plant("plant.yaml"), autotick=False) as running:
        boiler = running.slave("boiler")
        await running.advance(10)
        boiler.hang()
"""

from simulators.image import RegisterImage
from simulators.loader import load_plant
from simulators.plant import Plant, PointConfig, SlaveConfig, UnitConfig
from simulators.runtime import RunningPlant, run_plant
from simulators.scale import ScalePlant, ScaleSpec, run_scale
from simulators.server import ModbusSlave
from simulators.slave import SimulatedSlave
from simulators.unit import SimulatedUnit

__all__ = [
    "ModbusSlave",
    "Plant",
    "PointConfig",
    "RegisterImage",
    "RunningPlant",
    "ScalePlant",
    "ScaleSpec",
    "SimulatedSlave",
    "SimulatedUnit",
    "SlaveConfig",
    "UnitConfig",
    "load_plant",
    "run_plant",
    "run_scale",
]
