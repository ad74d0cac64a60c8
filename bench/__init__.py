"""Evaluation and benchmark commands: `python -m bench <command> --help`."""
