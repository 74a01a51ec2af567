"""Config -> model -> run: the typed config, the one assembly path, the save loop, resume."""

from sintersim.scenario._assemble import (
    Setup,
    build,
    extend_schedule,
    plan_chunks,
    save_schedule,
)
from sintersim.scenario._config import (
    RunConfig,
    TemperatureSchedule,
    example_config,
    load_config,
    loads_config,
    material_parameters,
    section_type,
    validate,
)
from sintersim.scenario._features import (
    FEATURES,
    Context,
    Feature,
    MeltingFeature,
    NoiseFeature,
    OrientationFeature,
    SublimationFeature,
    melting_parameters,
    register_feature,
    unregister_feature,
)
from sintersim.scenario._run import (
    Outcome,
    Unstable,
    load_for_resume,
    observables_row,
    simulate,
)
from sintersim.scenario._schema import (
    SCHEMA,
    ConfigError,
    Field,
    load_plugins,
)

__all__ = [
    "ConfigError",
    "Context",
    "FEATURES",
    "Feature",
    "Field",
    "MeltingFeature",
    "NoiseFeature",
    "OrientationFeature",
    "Outcome",
    "RunConfig",
    "SCHEMA",
    "Setup",
    "SublimationFeature",
    "TemperatureSchedule",
    "Unstable",
    "build",
    "example_config",
    "extend_schedule",
    "load_config",
    "load_for_resume",
    "load_plugins",
    "loads_config",
    "material_parameters",
    "melting_parameters",
    "observables_row",
    "plan_chunks",
    "register_feature",
    "save_schedule",
    "section_type",
    "simulate",
    "unregister_feature",
    "validate",
]
