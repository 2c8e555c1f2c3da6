"""Chart secrets generated once and kept, encrypted, in Pulumi state.

helm.v4.Chart has no `lookup`, so z2jh would generate these afresh on every
render: every preview would show rotated secrets and users would be logged out.
`pulumi_random` makes them once; `RandomPassword.result` is a secret output.
"""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.component import Component

# 32 random bytes as 64 hex characters: the form z2jh's own `randHex 64` produces,
# and what JupyterHub's cookie_secret and CryptKeeper keys require.
_HEX_LENGTH = 64


class GeneratedSecrets(Component):
    """The proxy token, cookie secret, CryptKeeper key and the binder service's API token.

    It needs no input, so it takes no args."""

    TYPE = "persistent-binderhub:secrets:GeneratedSecrets"

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.proxy_secret_token = random_hex("proxy-secret-token", self.child())
        self.cookie_secret = random_hex("hub-cookie-secret", self.child())
        self.crypt_keeper_key = random_hex("hub-crypt-keeper-key", self.child())
        self.binder_api_token = random_hex("binder-api-token", self.child())
        self.register_outputs({
            "proxy_secret_token": self.proxy_secret_token,
            "cookie_secret": self.cookie_secret,
            "crypt_keeper_key": self.crypt_keeper_key,
            "binder_api_token": self.binder_api_token,
        })


def random_hex(name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """32 random bytes as 64 hex characters, made once and kept (encrypted) in state."""
    password = random.RandomPassword(
        name,
        length=_HEX_LENGTH,
        upper=False,
        lower=False,
        numeric=True,
        special=True,
        override_special="abcdef",  # with digits: exactly the hex alphabet
        opts=opts,
    )
    return pulumi.Output.secret(password.result)
