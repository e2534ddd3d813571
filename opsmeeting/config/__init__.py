"""The configuration: one YAML document validated by one pydantic schema (``schema.py``), plus SLO
definitions imported from Sloth and OpenSLO files (``slo_import.py``)."""

from opsmeeting.config.schema import (
    Config,
    DeliveryConfig,
    Discovery,
    Email,
    LatencySlo,
    Output,
    PagerDutySource,
    PrometheusSource,
    RatioSlo,
    Rotation,
    Service,
    Slo,
    SloDefinition,
    Team,
    WheelConfig,
    load_config,
    parse_config,
)

__all__ = [
    "Config", "DeliveryConfig", "Discovery", "Email", "LatencySlo", "Output", "PagerDutySource", "PrometheusSource",
    "RatioSlo", "Rotation", "Service", "Slo", "SloDefinition", "Team", "WheelConfig", "load_config",
    "parse_config",
]
