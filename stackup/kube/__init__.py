"""Kubernetes manifests from a stack, and stacks from manifests.

`generate(model, options)` maps the normalized stack model (what `stackup config`
prints) onto Kubernetes objects, one module per concern; whatever has no faithful
mapping comes back as a warning naming it, never dropped silently. `play.to_compose`
goes the other way for the kinds stackup can run on its own engine.
"""

from stackup.kube.generate import generate
from stackup.kube.model import KubeOptions, Manifests

__all__ = ["KubeOptions", "Manifests", "generate"]
