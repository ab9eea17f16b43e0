"""Process models: the pure step functions and each model's use of its points."""

from __future__ import annotations

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from simulators.models import (
    HeaterModel,
    LimitModel,
    MotorModel,
    ProcessModel,
    TankModel,
    ThermostatModel,
    first_order_lag,
    limit_switch,
    ramp_toward,
    tank_level,
    thermostat,
)

PARSE = TypeAdapter(ProcessModel)


def run(
    model: TankModel | HeaterModel | MotorModel,
    inputs: dict[str, float],
    seconds: float,
    dt: float = 0.1,
) -> float:
    state = model.initial()
    for _ in range(round(seconds / dt)):
        state = model.step(state, inputs, dt)
    return state


# ------------------------------------------------------------------------ tank


def test_tank_level_integrates_net_flow_over_area() -> None:
    assert tank_level(2.0, 0.5, 0.1, area=2.0, low=0, high=10, dt=10) == pytest.approx(4.0)


def test_tank_level_is_clamped_between_empty_and_full() -> None:
    assert tank_level(9.9, 5, 0, area=1, low=0, high=10, dt=1) == 10
    assert tank_level(0.1, 0, 5, area=1, low=0, high=10, dt=1) == 0


def test_tank_outflow_scales_with_the_valve_percentage() -> None:
    tank = TankModel(
        level="l", inflow="in", outflow=0.2, valve="v", area=1, max=100, initial_level=50
    )
    assert run(tank, {"in": 0.0, "v": 50.0}, 10) == pytest.approx(50 - 0.1 * 10)
    assert run(tank, {"in": 0.0, "v": 0.0}, 10) == pytest.approx(50)
    assert run(tank, {"in": 0.3, "v": 100.0}, 10) == pytest.approx(50 + 0.1 * 10)
    assert tank.input_points() == ("in", "v")
    assert tank.output_points() == ("l",)


def test_tank_checks_its_limits() -> None:
    with pytest.raises(ValidationError, match="min must be below max"):
        TankModel(level="l", min=5, max=5)
    with pytest.raises(ValidationError, match="initial_level"):
        TankModel(level="l", max=5, initial_level=6)


# ---------------------------------------------------------------------- heater


def test_first_order_lag_reaches_63_percent_after_one_time_constant() -> None:
    assert first_order_lag(0.0, 100.0, 10.0, 10.0) == pytest.approx(100 * (1 - math.exp(-1)))


def test_first_order_lag_does_not_depend_on_how_time_is_split() -> None:
    value = 20.0
    for _ in range(100):
        value = first_order_lag(value, 120.0, 30.0, 0.1)
    assert value == pytest.approx(first_order_lag(20.0, 120.0, 30.0, 10.0))


def test_heater_heats_toward_max_when_on_and_cools_to_ambient_when_off() -> None:
    heater = HeaterModel(temperature="t", heater_on="on", ambient=20, max=120, time_constant=30)
    hot = run(heater, {"on": 1.0}, 300)
    assert hot == pytest.approx(120, abs=0.01)
    cooled = first_order_lag(hot, 20, 30, 300)
    assert heater.step(hot, {"on": 0.0}, 300) == pytest.approx(cooled)
    assert heater.initial() == 20


# ----------------------------------------------------------------------- motor


def test_ramp_toward_moves_at_rate_and_lands_exactly() -> None:
    assert ramp_toward(0.0, 100.0, 10.0, 1.0) == 10.0
    assert ramp_toward(95.0, 100.0, 10.0, 1.0) == 100.0
    assert ramp_toward(100.0, 0.0, 10.0, 2.0) == 80.0


def test_motor_ramps_to_its_setpoint_and_reports_running() -> None:
    motor = MotorModel(speed="s", setpoint="sp", rate=50, running="run", running_above=10)
    assert run(motor, {"sp": 1000.0}, 10) == pytest.approx(500)
    assert run(motor, {"sp": 1000.0}, 30) == pytest.approx(1000)
    assert motor.outputs(5.0, {}) == {"s": 5.0, "run": 0.0}
    assert motor.outputs(500.0, {}) == {"s": 500.0, "run": 1.0}
    assert motor.output_points() == ("s", "run")


def test_motor_stops_when_not_enabled_and_respects_max_speed() -> None:
    motor = MotorModel(speed="s", setpoint=5000.0, rate=1000, enable="en", max_speed=3000)
    assert run(motor, {"en": 1.0}, 10) == 3000
    assert motor.step(3000, {"en": 0.0}, 1.0) == 2000


# --------------------------------------------------------- thermostat and limit


def test_thermostat_switches_outside_the_dead_band_and_holds_inside() -> None:
    assert thermostat(False, 79.0, 80.0, 2.0) is False  # inside the band: holds
    assert thermostat(False, 78.9, 80.0, 2.0) is True
    assert thermostat(True, 80.9, 80.0, 2.0) is True  # holds
    assert thermostat(True, 81.1, 80.0, 2.0) is False


def test_thermostat_model_holds_its_output_when_disabled() -> None:
    model = ThermostatModel(output="o", measurement="m", setpoint="sp", enable="auto")
    assert model.step(0.0, {"m": 10.0, "sp": 80.0, "auto": 1.0}, 0.1) == 1.0
    assert model.step(0.0, {"m": 10.0, "sp": 80.0, "auto": 0.0}, 0.1) == 0.0
    assert model.input_points() == ("m", "sp", "auto")


def test_limit_switch_trips_beyond_threshold_and_resets_after_hysteresis() -> None:
    assert limit_switch(False, 8.6, 8.5, above=True, hysteresis=0.2) is True
    assert limit_switch(True, 8.4, 8.5, above=True, hysteresis=0.2) is True
    assert limit_switch(True, 8.2, 8.5, above=True, hysteresis=0.2) is False
    assert limit_switch(False, 0.9, 1.0, above=False, hysteresis=0.2) is True
    assert limit_switch(True, 1.1, 1.0, above=False, hysteresis=0.2) is True
    assert limit_switch(True, 1.3, 1.0, above=False, hysteresis=0.2) is False


def test_limit_model_follows_its_input() -> None:
    model = LimitModel(output="hi", input="level", above=9)
    assert model.outputs(0.0, {"level": 9.5}) == {"hi": 1.0}
    assert model.step(1.0, {"level": 3.0}, 0.1) == 0.0
    with pytest.raises(ValidationError, match="exactly one of above or below"):
        LimitModel(output="x", input="y", above=1, below=0)


# --------------------------------------------------------------------- parsing


def test_models_parse_by_kind() -> None:
    model = PARSE.validate_python(
        {"kind": "heater", "temperature": "t", "heater_on": "c", "max": 90, "time_constant": "1m"}
    )
    assert isinstance(model, HeaterModel)
    assert model.time_constant == 60.0
    tank = PARSE.validate_python({"kind": "tank", "level": "l", "inflow": 0.5, "max": 3})
    assert isinstance(tank, TankModel)
    assert tank.inflow == 0.5  # a number, not a point name


def test_model_errors_name_the_kind_and_key() -> None:
    with pytest.raises(ValidationError) as caught:
        PARSE.validate_python({"kind": "motor", "speed": "s", "setpoint": 1, "rate": 0, "sped": 1})
    errors = {tuple(e["loc"]): e["msg"] for e in caught.value.errors()}
    assert "did you mean 'speed'?" in errors[("sped",)]
    assert "greater than 0" in errors[("rate",)]
