"""Local log files: followed like `tail -F`, read back, searched and downloaded with their rotated siblings.

Following:
- `table`: the table of configured names and glob matches, each with its one follower.
- `follow`: one file followed by name across rotation, truncation, deletion; `generation`: one open instance.
- `watch`: inotify wake-ups for the followers; `pacing`: when a busy log is read next.

Reading what is on disk (a log `app.log` has rotated siblings `app.log.1`, `app.log.2.gz`, ..., found by
listing its directory, never from request input; files are opened once per request and read only up to
their size at that moment, so a growing log is served as a consistent snapshot):
- `readback`: the lines after a position, for resume and catch-up; `since`: the position for a moment.
- `siblings`: the log's files opened as a snapshot; `scan`: whole lines in bounded blocks, either way.
- `regions`: what a search covers; `prefilter`: a block's candidate lines without decoding all;
  `search`: the engine and its NDJSON response; `download`: the download.
- `source`: all of it as a `sources.base.Source`.

The readers are synchronous and do one bounded piece of work per call, made through `core.offloop.off_loop`,
so the event loop never waits on a disk and a request can stop between any two blocks.
"""
