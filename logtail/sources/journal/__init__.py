"""The systemd journal as a source: journalctl children, entries as lines, seqnum ids (docs/journal.md)."""
