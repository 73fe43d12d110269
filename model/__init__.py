"""A concrete, kernel-like implementation of Zircon's VMO syscalls (docs/architecture.md).

It imports nothing of ours but `spec.abi` (numbers): agreement with the spec then means
something. Entry point: `model.kernel.Kernel`.
"""

from model.kernel import Kernel
from model.variants import VARIANTS

__all__ = ["VARIANTS", "Kernel"]
