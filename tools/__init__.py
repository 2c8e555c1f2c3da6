"""Operator commands: offline render and diff, secrets helpers, benchmark."""
