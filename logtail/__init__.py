"""logtail: follow log files like `tail -F` and stream new lines over Server-Sent Events."""

__version__ = "0.1.0"
