"""stackup: Compose-style stacks on an embedded Linux container engine."""

__version__ = "0.1.0"
