"""Engineering units: configured unit text → UNECE Recommendation 20 common code.

OPC UA Part 8 identifies units by the UNECE common code packed into an Int32
(`UnitId`) under the namespace `UNECE_NAMESPACE`, so a SCADA client can
recognise "°C" without parsing text. Units not in this table are still shown
(DisplayName = the configured text) with UnitId -1, which Part 8 defines as
"no code". Pure data, no asyncua.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNECE_NAMESPACE", "Unit", "lookup_unit", "unit_id"]

#: NamespaceUri of EUInformation for UNECE codes (OPC UA Part 8, 5.6.3).
UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"


@dataclass(frozen=True, slots=True)
class Unit:
    """One engineering unit as served in EUInformation."""

    code: str | None  # UNECE common code; None when unknown
    symbol: str  # DisplayName
    description: str

    @property
    def unit_id(self) -> int:
        return -1 if self.code is None else unit_id(self.code)


def unit_id(code: str) -> int:
    """Pack a common code the way Part 8 does: each character a byte, big end first."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


# (code, symbol, description) by every spelling we accept.
_UNITS: dict[tuple[str, ...], tuple[str, str, str]] = {
    ("degC", "°C", "celsius"): ("CEL", "°C", "degree Celsius"),
    ("degF", "°F", "fahrenheit"): ("FAH", "°F", "degree Fahrenheit"),
    ("K", "kelvin"): ("KEL", "K", "kelvin"),
    ("bar",): ("BAR", "bar", "bar"),
    ("mbar",): ("MBR", "mbar", "millibar"),
    ("Pa",): ("PAL", "Pa", "pascal"),
    ("kPa",): ("KPA", "kPa", "kilopascal"),
    ("MPa",): ("MPA", "MPa", "megapascal"),
    ("psi",): ("PS", "psi", "pound-force per square inch"),
    ("%", "percent"): ("P1", "%", "percent"),
    ("ppm",): ("59", "ppm", "part per million"),
    ("m3/h", "m³/h"): ("MQH", "m³/h", "cubic metre per hour"),
    ("m3/s", "m³/s"): ("MQS", "m³/s", "cubic metre per second"),
    ("m3", "m³"): ("MTQ", "m³", "cubic metre"),
    ("l", "L"): ("LTR", "l", "litre"),
    ("l/min", "L/min"): ("L2", "l/min", "litre per minute"),
    ("l/h", "L/h"): ("E32", "l/h", "litre per hour"),
    ("l/s", "L/s"): ("G51", "l/s", "litre per second"),
    ("kg/h",): ("E93", "kg/h", "kilogram per hour"),
    ("t/h",): ("E18", "t/h", "tonne per hour"),
    ("rpm", "1/min"): ("RPM", "rpm", "revolutions per minute"),
    ("Hz",): ("HTZ", "Hz", "hertz"),
    ("A",): ("AMP", "A", "ampere"),
    ("mA",): ("4K", "mA", "milliampere"),
    ("V",): ("VLT", "V", "volt"),
    ("mV",): ("2Z", "mV", "millivolt"),
    ("kV",): ("KVT", "kV", "kilovolt"),
    ("W",): ("WTT", "W", "watt"),
    ("kW",): ("KWT", "kW", "kilowatt"),
    ("MW",): ("MAW", "MW", "megawatt"),
    ("kVA",): ("KVA", "kVA", "kilovolt ampere"),
    ("kWh",): ("KWH", "kWh", "kilowatt hour"),
    ("MWh",): ("MWH", "MWh", "megawatt hour"),
    ("N",): ("NEW", "N", "newton"),
    ("Nm", "N·m", "N.m"): ("NU", "N·m", "newton metre"),
    ("m",): ("MTR", "m", "metre"),
    ("mm",): ("MMT", "mm", "millimetre"),
    ("cm",): ("CMT", "cm", "centimetre"),
    ("km",): ("KMT", "km", "kilometre"),
    ("m/s",): ("MTS", "m/s", "metre per second"),
    ("km/h",): ("KMH", "km/h", "kilometre per hour"),
    ("kg",): ("KGM", "kg", "kilogram"),
    ("g",): ("GRM", "g", "gram"),
    ("t",): ("TNE", "t", "tonne"),
    ("s",): ("SEC", "s", "second"),
    ("ms",): ("C26", "ms", "millisecond"),
    ("min",): ("MIN", "min", "minute"),
    ("h",): ("HUR", "h", "hour"),
    ("deg", "°"): ("DD", "°", "degree (angle)"),
}

_BY_TEXT: dict[str, Unit] = {
    spelling: Unit(code, symbol, description)
    for spellings, (code, symbol, description) in _UNITS.items()
    for spelling in spellings
}


def lookup_unit(text: str) -> Unit:
    """The unit for a configured text; unknown units keep their text and have no code.

    Case matters (mA is not MA), so the lookup is exact.
    """
    known = _BY_TEXT.get(text)
    return known if known is not None else Unit(None, text, text)
