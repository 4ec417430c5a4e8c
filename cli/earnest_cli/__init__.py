"""The `earnest` command: validate, push and list experiences; serve the local stack; demo."""
