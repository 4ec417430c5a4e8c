"""The `earnest` command: validate, push and list experiences; serve the local stack; demo."""

__version__ = "0.1.0"  # the package's one version (pyproject.toml reads it)
