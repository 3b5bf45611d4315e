"""WeShare workbench domain and storage: no Jupyter imports here (checked by import-linter)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
