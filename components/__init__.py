"""Pulumi components and the typed stack settings of persistent-binderhub."""
