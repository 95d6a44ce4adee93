"""Log sources: where lines come from. Each source is a subpackage behind the interface in `base`."""
