"""Chart values against the upstream JSON Schemas in ../shared/chart-schemas/, as Helm checks them."""

from __future__ import annotations

import json

import jsonschema
import yaml
from jsonschema.validators import validator_for

from components.chart_versions import CHARTS
from tools.offline import REPO

SCHEMAS = REPO.parent / "shared" / "chart-schemas"
# The file name stem of a chart's schema and defaults: chart and pinned version, except for
# binderhub-service, whose dev release the reference data stores without it.
FILES = {name: name if name == "binderhub-service" else f"{name}-{CHARTS[name].version}"
         for name in ("jupyterhub", "binderhub-service", "cert-manager", "traefik")}


def merged(base: dict, over: dict) -> dict:
    """Helm's coalescing: maps merge, lists and scalars replace, null deletes."""
    out = dict(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def schema_errors(chart: str, values: dict) -> list[str]:
    """Every schema violation of `values` merged over the chart's defaults ([] when valid)."""
    stem = FILES[chart]
    schema = json.loads((SCHEMAS / f"{stem}.values.schema.json").read_text())
    defaults = yaml.safe_load((SCHEMAS / f"{stem}.values.yaml").read_text())
    validator = validator_for(schema, default=jsonschema.Draft7Validator)(schema)
    errors = validator.iter_errors(merged(defaults, values))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
