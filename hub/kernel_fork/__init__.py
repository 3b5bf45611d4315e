"""Forms kernels forked from a zygote that imported the page's modules once (see ``zygote``)."""

from hub.kernel_fork.provisioner import ForkedKernel, ForkingProvisioner, Zygote

__all__ = ["ForkedKernel", "ForkingProvisioner", "Zygote"]
