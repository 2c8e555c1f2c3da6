"""Chart secrets generated once and kept, encrypted, in Pulumi state.

helm.v4.Chart has no `lookup`, so z2jh would generate these afresh on every
render: every preview would show rotated secrets and users would be logged out.
`pulumi_random` makes them once; `RandomPassword.result` is a secret output.
"""

from __future__ import annotations

import pulumi
import pulumi_random as random

# 32 random bytes as 64 hex characters: the form z2jh's own `randHex 64` produces,
# and what JupyterHub's cookie_secret and CryptKeeper keys require.
_HEX_LENGTH = 64


class GeneratedSecrets(pulumi.ComponentResource):
    """The proxy token, cookie secret, CryptKeeper key and the binder service's API token."""

    proxy_secret_token: pulumi.Output[str]
    cookie_secret: pulumi.Output[str]
    crypt_keeper_key: pulumi.Output[str]
    binder_api_token: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("persistent-binderhub:secrets:GeneratedSecrets", name, None, opts)
        self.proxy_secret_token = random_hex("proxy-secret-token", self)
        self.cookie_secret = random_hex("hub-cookie-secret", self)
        self.crypt_keeper_key = random_hex("hub-crypt-keeper-key", self)
        self.binder_api_token = random_hex("binder-api-token", self)
        self.register_outputs({
            "proxy_secret_token": self.proxy_secret_token,
            "cookie_secret": self.cookie_secret,
            "crypt_keeper_key": self.crypt_keeper_key,
            "binder_api_token": self.binder_api_token,
        })



def random_hex(name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """32 random bytes as 64 hex characters, made once and kept (encrypted) in state."""
    password = random.RandomPassword(
        name,
        length=_HEX_LENGTH,
        upper=False,
        lower=False,
        numeric=True,
        special=True,
        override_special="abcdef",  # with digits: exactly the hex alphabet
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(password.result)
