"""Chart values against the charts' own JSON Schemas and defaults, as Helm checks them.

The schemas and defaults come from the chart packages of the pinned versions, fetched and verified
by `python -m tools.chart_data` (which `make test` runs) into .chart-cache/.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from jsonschema.validators import validator_for

from tools import chart_data

if chart_data.missing():
    pytest.exit(f"the chart schemas and defaults of {', '.join(chart_data.missing())} are not in "
                f"{chart_data.CACHE}: {chart_data.HOW_TO_GET}", returncode=2)


def defaults(chart: str) -> dict:
    """The chart's default values."""
    return yaml.safe_load((chart_data.cached(chart) / "values.yaml").read_text())


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
    schema = json.loads((chart_data.cached(chart) / "values.schema.json").read_text())
    validator = validator_for(schema, default=jsonschema.Draft7Validator)(schema)
    errors = validator.iter_errors(merged(defaults(chart), values))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
