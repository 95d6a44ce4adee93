"""What a line says and whether it matches: levels, fields, timestamps, and the filters clients choose.

Pure functions and values: no I/O, no source, no route.

- patterns: user patterns on RE2; filters: a client's filter as one hashable value.
- fields: structured fields (JSON, logfmt) and `field=` filters; levels: a line's level.
- timestamps: a line's time and `since=`.
"""
