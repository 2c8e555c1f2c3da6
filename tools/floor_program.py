"""A stack's floor for tools.bench: one provider of each provider package already imported (the
bench imports the stack's provider modules before it runs this), and nothing else."""

import importlib
import sys

for package in sorted({module.split(".")[0] for module in list(sys.modules) if module.startswith("pulumi_")}):
    importlib.import_module(package).Provider(f"floor-{package}")
