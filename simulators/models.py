"""Process models: small physics linked to points by name, as pure step functions.

A model owns one *state* point (the level of a tank, a temperature, a speed)
and reads *input* points, which a master may write (a valve position, a
setpoint, a heater coil) or signals may drive. Each tick the runtime decodes
the inputs from the registers, calls `step(state, inputs, dt)` and encodes
`outputs(state, inputs)` back. The state is kept as a float between ticks, so
a level stored as a scaled int16 still integrates tiny flows. Models run in
file order, each seeing the outputs of those before it (a thermostat can
switch the coil that a heater then follows).

    tank        level += (inflow - outflow * valve%) * dt / area, within [min, max]
    heater      temperature → max while heater_on, → ambient otherwise (first-order lag)
    motor       speed → setpoint (0 when `enable` is off) at `rate` units/s; running bit
    thermostat  output on below setpoint - hysteresis/2, off above setpoint + hysteresis/2
    limit       output on while input is above (or below) a threshold: a level switch,
                an over-temperature bit; `hysteresis` keeps it from chattering
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from gateway.config.types import ConfigModel, Duration, Name
from simulators.kinds import kind_dispatcher

__all__ = [
    "BaseProcessModel",
    "HeaterModel",
    "Inputs",
    "LimitModel",
    "MotorModel",
    "ProcessModel",
    "Ref",
    "TankModel",
    "ThermostatModel",
    "first_order_lag",
    "limit_switch",
    "ramp_toward",
    "tank_level",
    "thermostat",
]

#: Current input values by point name (bools as 0.0/1.0).
Inputs = Mapping[str, float]
#: A point name, or a fixed number where a point is not needed.
Ref = float | Name

_PERCENT = 100.0


def tank_level(
    level: float, inflow: float, outflow: float, *, area: float, low: float, high: float, dt: float
) -> float:
    """Integrate net flow over the surface area; a tank can neither go below empty nor spill."""
    return min(high, max(low, level + (inflow - outflow) * dt / area))


def first_order_lag(value: float, target: float, time_constant: float, dt: float) -> float:
    """Exact discrete step of dv/dt = (target - v) / τ, stable for any dt."""
    return target + (value - target) * math.exp(-dt / time_constant)


def ramp_toward(value: float, target: float, rate: float, dt: float) -> float:
    """Move at most `rate * dt` toward target, landing on it exactly."""
    limit = rate * dt
    return value + max(-limit, min(limit, target - value))


def thermostat(on: bool, measurement: float, setpoint: float, hysteresis: float) -> bool:
    """Bang-bang control with a dead band, so the output does not chatter."""
    if measurement < setpoint - hysteresis / 2:
        return True
    if measurement > setpoint + hysteresis / 2:
        return False
    return on


def limit_switch(on: bool, value: float, threshold: float, above: bool, hysteresis: float) -> bool:
    """A switch that trips beyond `threshold` and resets `hysteresis` back from it."""
    if above:
        return value > threshold - hysteresis if on else value > threshold
    return value < threshold + hysteresis if on else value < threshold


def _value(ref: float | str, inputs: Inputs) -> float:
    return inputs[ref] if isinstance(ref, str) else ref


class BaseProcessModel(ConfigModel):
    """Parameters of one model kind, the points it links and its step function."""

    def state_point(self) -> str:
        """The point holding the model's state; a master write to it sets the state."""
        raise NotImplementedError

    def input_points(self) -> tuple[str, ...]:
        """Points the model reads."""
        raise NotImplementedError

    def output_points(self) -> tuple[str, ...]:
        """Points the model writes: the state point first, then derived outputs."""
        return (self.state_point(),)

    def initial(self) -> float:
        """The state after start and after a restart."""
        raise NotImplementedError

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        """The state `dt` seconds later."""
        raise NotImplementedError

    def outputs(self, state: float, inputs: Inputs) -> dict[str, float]:
        """Values of the output points for a state."""
        return {self.state_point(): state}


def _refs(*refs: float | str | None) -> tuple[str, ...]:
    return tuple(ref for ref in refs if isinstance(ref, str))


class TankModel(BaseProcessModel):
    kind: Literal["tank"] = "tank"
    level: Name
    inflow: Ref = 0.0
    outflow: Ref = 0.0
    valve: Name | None = None  # percent open, scales the outflow
    area: float = Field(default=1.0, gt=0)
    min: float = 0.0
    max: float
    initial_level: float | None = None

    @model_validator(mode="after")
    def _check(self) -> TankModel:
        if self.min >= self.max:
            raise ValueError(f"min must be below max, got min={self.min:g} max={self.max:g}")
        if self.initial_level is not None and not self.min <= self.initial_level <= self.max:
            raise ValueError(f"initial_level must be within [{self.min:g}, {self.max:g}]")
        return self

    def state_point(self) -> str:
        return self.level

    def input_points(self) -> tuple[str, ...]:
        return _refs(self.inflow, self.outflow, self.valve)

    def initial(self) -> float:
        return self.min if self.initial_level is None else self.initial_level

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        opening = 1.0 if self.valve is None else max(0.0, inputs[self.valve]) / _PERCENT
        outflow = _value(self.outflow, inputs) * opening
        inflow = _value(self.inflow, inputs)
        return tank_level(
            state, inflow, outflow, area=self.area, low=self.min, high=self.max, dt=dt
        )


class HeaterModel(BaseProcessModel):
    kind: Literal["heater"] = "heater"
    temperature: Name
    heater_on: Name
    ambient: float = 20.0
    max: float
    time_constant: Duration
    initial_temperature: float | None = None

    def state_point(self) -> str:
        return self.temperature

    def input_points(self) -> tuple[str, ...]:
        return (self.heater_on,)

    def initial(self) -> float:
        return self.ambient if self.initial_temperature is None else self.initial_temperature

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        target = self.max if inputs[self.heater_on] else self.ambient
        return first_order_lag(state, target, self.time_constant, dt)


class MotorModel(BaseProcessModel):
    kind: Literal["motor"] = "motor"
    speed: Name
    setpoint: Ref
    rate: float = Field(gt=0)  # speed units per second
    enable: Name | None = None
    running: Name | None = None
    running_above: float = Field(default=0.0, ge=0)
    max_speed: float | None = Field(default=None, gt=0)

    def state_point(self) -> str:
        return self.speed

    def input_points(self) -> tuple[str, ...]:
        return _refs(self.setpoint, self.enable)

    def output_points(self) -> tuple[str, ...]:
        return (self.speed, *_refs(self.running))

    def initial(self) -> float:
        return 0.0

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        enabled = self.enable is None or bool(inputs[self.enable])
        target = _value(self.setpoint, inputs) if enabled else 0.0
        if self.max_speed is not None:
            target = max(-self.max_speed, min(self.max_speed, target))
        return ramp_toward(state, target, self.rate, dt)

    def outputs(self, state: float, inputs: Inputs) -> dict[str, float]:
        values = {self.speed: state}
        if self.running is not None:
            values[self.running] = float(abs(state) > self.running_above)
        return values


class ThermostatModel(BaseProcessModel):
    kind: Literal["thermostat"] = "thermostat"
    output: Name
    measurement: Name
    setpoint: Ref
    hysteresis: float = Field(default=1.0, ge=0)
    enable: Name | None = None  # off: the output holds, so a master can switch it by hand

    def state_point(self) -> str:
        return self.output

    def input_points(self) -> tuple[str, ...]:
        return _refs(self.measurement, self.setpoint, self.enable)

    def initial(self) -> float:
        return 0.0

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        if self.enable is not None and not inputs[self.enable]:
            return state
        on = thermostat(
            bool(state), inputs[self.measurement], _value(self.setpoint, inputs), self.hysteresis
        )
        return float(on)


class LimitModel(BaseProcessModel):
    kind: Literal["limit"] = "limit"
    output: Name
    input: Name
    above: float | None = None
    below: float | None = None
    hysteresis: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_threshold(self) -> LimitModel:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self

    def state_point(self) -> str:
        return self.output

    def input_points(self) -> tuple[str, ...]:
        return (self.input,)

    def initial(self) -> float:
        return 0.0

    def step(self, state: float, inputs: Inputs, dt: float) -> float:
        return self._switch(state, inputs)

    def outputs(self, state: float, inputs: Inputs) -> dict[str, float]:
        # Stateless apart from hysteresis, so it follows its input even between steps.
        return {self.output: self._switch(state, inputs)}

    def _switch(self, state: float, inputs: Inputs) -> float:
        above = self.above is not None
        threshold = self.above if self.above is not None else self.below
        assert threshold is not None
        value = inputs[self.input]
        return float(limit_switch(bool(state), value, threshold, above, self.hysteresis))


_KINDS: dict[str, type[BaseProcessModel]] = {
    "tank": TankModel,
    "heater": HeaterModel,
    "motor": MotorModel,
    "thermostat": ThermostatModel,
    "limit": LimitModel,
}

#: Any process model, chosen by its `kind:` key.
ProcessModel = Annotated[
    TankModel | HeaterModel | MotorModel | ThermostatModel | LimitModel,
    BeforeValidator(kind_dispatcher("model", _KINDS)),
]
