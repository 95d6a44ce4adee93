"""History: a log's whole file and its rotated siblings, for downloads and searches.

A log `app.log` has rotated siblings beside it, `app.log.1`, `app.log.2.gz`, ... (what logrotate and most
loggers leave); they are found by listing the log's directory, never from request input. Files are opened
once per request and read only up to their size at that moment, so a growing log is served and searched as a
consistent snapshot.

- `files`: the log's files and rotated siblings, opened as a snapshot.
- `ranges`: Range and If-Range (RFC 9110 section 14), pure; `download`: the download response.
- `blocks`: whole lines of a file in bounded blocks, forwards or backwards; `matcher`: the prefilter.
- `plan`: what a search request covers (cursors, regions); `search`: the engine and its NDJSON response.
- `routes`: the HTTP routes.

The readers are synchronous and do one bounded piece of work (a block of at most `blocks.BLOCK` bytes) per
call, made through `offloop.off_loop`, so the event loop never waits on a disk and a request can stop between
any two blocks.
"""
