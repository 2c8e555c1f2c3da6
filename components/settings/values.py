"""The value types of settings (domains, quantities, versions, pinned images...) and the base model.

Each type checks its value and says what was expected, with an example: the message an
operator sees (components/settings/explain.py puts the file and key in front).
"""

from __future__ import annotations

import ipaddress
import re
import typing
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class SettingError(ValueError):
    """A cross-field mistake that belongs to a key below the model raising it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_QUANTITY_FACTORS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                     "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_K8S_VERSION = re.compile(r"^1\.[0-9]+\.[0-9]+$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_MINOR_VERSION = re.compile(r"^1\.[0-9]+$")
_CRON = re.compile(r"^[0-9*/,-]+( [0-9*/,-]+){4}$")
_HOURS = re.compile(r"^[1-9][0-9]{0,5}h$")
_DAYS = re.compile(r"^[1-9][0-9]{0,3}d$")
_HOST_PORT = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
# An image with a tag or a digest: what runs with a user's whole volume is never a moving `latest`.
_PINNED_IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*"
                           r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64}|"
                           r":[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64})")


def matching(pattern: re.Pattern[str], expected: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):  # not match: `$` would let a trailing newline through
            raise ValueError(f"{value!r} is not valid: expected {expected}")
        return value

    return AfterValidator(check)


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise ValueError(f"{value!r} is not valid: expected a network in CIDR form such as 10.0.0.0/20") from None


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://[a-z0-9.-]+(:[0-9]+)?(/\S*)?", value):
        raise ValueError(f"{value!r} is not valid: expected an https:// URL")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def quantity_bytes(quantity: str) -> float:
    """A Kubernetes memory/storage quantity such as `4Gi` in bytes."""
    number, unit = re.match(r"^([0-9.]+)([A-Za-z]*)$", quantity).groups()
    return float(number) * _QUANTITY_FACTORS[unit]


def _ascii_domain(value: str) -> str:
    if not value.isascii():
        raise ValueError(f"{value!r} is not valid: write an internationalised domain in its ASCII (xn--) form, "
                         f"as 'idn2 {value}' prints it, such as xn--bcher-kva.example.org")
    return value


Domain = Annotated[str, AfterValidator(_ascii_domain),
                   matching(_DOMAIN, "a lower-case DNS name such as hub.example.org")]
def quantity(smallest: str, largest: str, example: str):
    """A Kubernetes quantity (such as 10Gi) between `smallest` and `largest`."""
    def bounded(value: str) -> str:
        if not smallest_bytes <= quantity_bytes(value) <= largest_bytes:
            raise ValueError(f"{value!r} is out of range: expected from {smallest} to {largest}, such as {example}")
        return value

    smallest_bytes, largest_bytes = quantity_bytes(smallest), quantity_bytes(largest)
    return Annotated[str, matching(_QUANTITY, f"a Kubernetes quantity such as {example}"), AfterValidator(bounded)]


# Volumes from a gibibyte (a smaller one holds no project) to 64 TiB (the largest disks clouds make).
VolumeSize = quantity("1Gi", "64Ti", "10Gi")
# Memory for a server: from 64 MiB (JupyterLab itself needs more) to 4 TiB (the largest machines).
MemorySize = quantity("64Mi", "4Ti", "4G")
Email = Annotated[str, matching(_EMAIL, "an e-mail address such as ops@example.org")]
KubernetesVersion = Annotated[str, matching(_K8S_VERSION, "a Kubernetes version such as 1.31.4 (quoted)")]
Name = Annotated[str, matching(_NAME, "a lower-case name of letters, digits and dashes")]
IngressClassName = Annotated[str, matching(_NAME, "an IngressClass name such as nginx")]
MinorVersion = Annotated[str, matching(_MINOR_VERSION, "a minor version such as '1.31' (quoted)")]
Cidr = Annotated[str, AfterValidator(_cidr)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Regex = Annotated[str, AfterValidator(_regex)]
ChartVersion = Annotated[str, matching(_CHART_VERSION, "a chart version such as 4.4.0 or v1.21.1")]
NonEmpty = Annotated[str, Field(min_length=1)]
Cron = Annotated[str, matching(_CRON, "a cron schedule of five fields, such as '0 2 * * *' (02:00 daily, UTC)")]
Hours = Annotated[str, matching(_HOURS, "a number of hours, such as 720h (30 days)")]
Days = Annotated[str, matching(_DAYS, "a number of days, such as 15d")]
HostPort = Annotated[str, matching(_HOST_PORT, "a host and port, such as smtp.example.org:587")]
BucketName = Annotated[str, matching(_BUCKET, "a bucket name of 3 to 63 lower-case letters, digits, '.', '_' "
                                              "and '-', such as binder-backups-example")]
PinnedImage = Annotated[str, matching(_PINNED_IMAGE, "an image with a tag or digest, such as "
                                                      "quay.io/jupyterhub/k8s-network-tools:4.4.0")]


class Model(BaseModel):
    """Base of every settings block: camelCase keys, unknown keys refused, immutable."""

    # Strict: YAML reads `true`, `5` and `1.30` as a boolean and numbers, which must not pass for a
    # count or a text (`maxNodes: true` would be 1; `kubernetesVersion: 1.30` would be "1.3").
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, alias_generator=to_camel,
                              validate_default=True, allow_inf_nan=False)


def _all_defaults(annotation: Any) -> bool:
    """Whether the block model in `annotation` (`X | None`) has a default for every field."""
    models = [arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return bool(models) and not any(field.is_required() for field in models[0].model_fields.values())


class OneBlockPerChoice(Model):
    """A block whose `SELECTOR` field chooses among blocks beside it: exactly the chosen block is
    given, and no block of another choice. A choice's block is the field named after it
    (`artifact-registry` -> `artifact_registry`); a choice without such a field has no block.

    Checked on the raw input (a `before` validator), so a misplaced block is reported as such
    rather than as a list of its missing keys.
    """

    SELECTOR: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _one_block(cls, data: Any) -> Any:
        selector = cls.SELECTOR
        choices = typing.get_args(cls.model_fields[selector].annotation)
        selected = data.get(selector) if isinstance(data, dict) else None
        if selected not in choices:
            return data  # the field's own validation reports it
        blocks = {choice: choice.replace("-", "_") for choice in choices}
        for choice, field in blocks.items():
            if field not in cls.model_fields:
                continue
            key = cls.model_fields[field].alias
            present = data.get(key) is not None
            if present and choice != selected:
                raise SettingError(
                    key, f"is the block for {selector} '{choice}', but {selector} is '{selected}': "
                         f"remove this block or set {selector} to '{choice}'")
            if not present and choice == selected:
                if not _all_defaults(cls.model_fields[field].annotation):
                    raise SettingError(key, f"is required when {selector} is '{selected}'")
                data = {**data, key: {}}  # a block whose every setting has a default may be left out
        return data
