"""The yardstick of tools.bench: the smallest real Pulumi program (pulumi_kubernetes, one resource)."""

import pulumi_kubernetes as kubernetes

kubernetes.core.v1.Namespace("minimal")
