"""persistent-binderhub: deploy a persistent BinderHub for the current Pulumi stack.

Everything an operator can get wrong (settings, secrets) is checked before the
first resource is registered.
"""

from pathlib import Path

import pulumi

from components.deployment import deploy
from components.secrets import load_secrets
from components.settings import load_settings

settings = load_settings()
# The project root holds secrets/; older Pulumi CLIs do not report it, but run the program there.
secrets = load_secrets(settings, pulumi.get_stack(), Path(pulumi.get_root_directory() or "."))
deploy(settings, secrets)
