"""The per-log parsers (logtail/match/parsers/): table tests on real-world lines."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from logtail.match.parsers import ParserError, parser_for

NGINX = parser_for("nginx")
APACHE = parser_for("apache")
SYSLOG = parser_for("syslog")
NOW = datetime(2026, 10, 12, tzinfo=UTC).timestamp()

ACCESS_LINES = [
    # nginx combined
    ('203.0.113.9 - alice [10/Oct/2026:13:55:36 +0000] "GET /api/items?id=1 HTTP/1.1" 200 2326 '
     '"https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"',
     {"remote_addr": "203.0.113.9", "user": "alice", "time": "10/Oct/2026:13:55:36 +0000",
      "request": "GET /api/items?id=1 HTTP/1.1", "method": "GET", "path": "/api/items?id=1",
      "protocol": "HTTP/1.1", "status": "200", "bytes": "2326", "referer": "https://example.com/",
      "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}),
    # nginx escapes quotes and non-ASCII bytes in the request and the user agent as \xHH; `-` fields left out
    ('2001:db8::1 - - [10/Oct/2026:13:55:37 +0200] "GET /s?q=\\x22caf\\xC3\\xA9\\x22 HTTP/2.0" 404 0 "-" '
     '"curl/8.0 \\x22quoted\\x22"',
     {"remote_addr": "2001:db8::1", "time": "10/Oct/2026:13:55:37 +0200",
      "request": 'GET /s?q="café" HTTP/2.0', "method": "GET", "path": '/s?q="café"', "protocol": "HTTP/2.0",
      "status": "404", "bytes": "0", "user_agent": 'curl/8.0 "quoted"'}),
    # nginx `main`: a third quoted field, then custom logfmt pairs
    ('10.0.0.2 - - [10/Oct/2026:13:55:38 +0000] "POST /login HTTP/1.1" 502 157 "-" "python-requests/2.31" '
     '"198.51.100.7, 10.0.0.1" request_time=0.734 upstream="10.0.0.5:8080"',
     {"remote_addr": "10.0.0.2", "time": "10/Oct/2026:13:55:38 +0000", "request": "POST /login HTTP/1.1",
      "method": "POST", "path": "/login", "protocol": "HTTP/1.1", "status": "502", "bytes": "157",
      "user_agent": "python-requests/2.31", "forwarded_for": "198.51.100.7, 10.0.0.1",
      "request_time": "0.734", "upstream": "10.0.0.5:8080"}),
    # Apache common: ident and user, `-` bytes; Apache escapes a quote as \"
    ('127.0.0.1 ident frank [10/Oct/2000:13:55:36 -0700] "GET /a\\"pache_pb.gif HTTP/1.0" 304 -',
     {"remote_addr": "127.0.0.1", "ident": "ident", "user": "frank", "time": "10/Oct/2000:13:55:36 -0700",
      "request": 'GET /a"pache_pb.gif HTTP/1.0', "method": "GET", "path": '/a"pache_pb.gif',
      "protocol": "HTTP/1.0", "status": "304"}),
    # a TLS handshake sent to a plain port: the request is not a request line, the line still parses
    ('198.51.100.3 - - [10/Oct/2026:13:55:39 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
     {"remote_addr": "198.51.100.3", "time": "10/Oct/2026:13:55:39 +0000", "request": "\x16\x03\x01\x00",
      "status": "400", "bytes": "157"}),
]


@pytest.mark.parametrize(("line", "expected"), ACCESS_LINES)
def test_access_log_fields(line: str, expected: dict[str, str]) -> None:
    assert NGINX is not None and APACHE is not None
    assert NGINX.fields(line) == expected
    assert APACHE.fields(line) == expected


@pytest.mark.parametrize("line", [
    "",
    "plain text that is no access log",
    '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200',  # cut short
    '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1 200 5',  # unterminated quote
])
def test_lines_that_are_not_access_log_lines_have_no_fields(line: str) -> None:
    assert NGINX is not None
    assert NGINX.fields(line) is None


NEAR_MISSES = [
    ("nginx", '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "' + '\\" \\x22 a ' * 100_000),  # no closing quote
    ("nginx", '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-" a' + " " * 500_000 + "x"),
    ("nginx", "1.2.3.4 " * 100_000),
    ("syslog", '<14>1 2026-10-11T22:14:15Z h a - - [id' + ' k="v\\"' * 100_000),  # an unclosed element
    ("syslog", "Oct 11 22:14:15 host " + "tag" * 300_000),
    ("syslog", "<14>" + "Oct 11 22:14:15 " * 50_000),
]


@pytest.mark.parametrize(("parse", "line"), NEAR_MISSES)
def test_a_line_that_almost_matches_is_parsed_in_linear_time(parse: str, line: str) -> None:
    """The built-in grammars never backtrack: near misses of a megabyte take milliseconds, not hours."""
    parser = parser_for(parse)
    assert parser is not None
    started = time.monotonic()
    parser.fields(line)
    parser.level(line + " ")
    assert time.monotonic() - started < 5  # generous: the machine is shared; a backtracking engine takes hours


@pytest.mark.parametrize(("status", "level"), [("200", "info"), ("302", "info"), ("404", "warn"),
                                               ("499", "warn"), ("500", "error"), ("503", "error")])
def test_an_access_log_line_has_its_status_as_level(status: str, level: str) -> None:
    assert NGINX is not None
    line = f'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /error HTTP/1.1" {status} 5 "-" "-"'
    assert NGINX.level(line) == level


def test_an_access_log_line_has_its_own_time_with_its_zone() -> None:
    assert NGINX is not None
    line = '1.2.3.4 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" "-"'
    assert NGINX.time(line, NOW) == datetime(2026, 10, 10, 11, 55, 36, tzinfo=UTC).timestamp()


SYSLOG_LINES = [
    # RFC 5424 with structured data (the RFC's example), escapes in a value, the BOM before the message
    ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
     'eventSource="Appli\\"cation\\]" eventID="1011"][examplePriority@32473 class="high"] \ufeffAn application '
     "event log entry...",
     {"pri": "165", "facility": "local4", "severity": "notice", "time": "2003-10-11T22:14:15.003Z",
      "host": "mymachine.example.com", "app": "evntslog", "msgid": "ID47",
      "sd": '[exampleSDID@32473 iut="3" eventSource="Appli\\"cation\\]" eventID="1011"]'
            '[examplePriority@32473 class="high"]',
      "exampleSDID@32473.iut": "3", "exampleSDID@32473.eventSource": 'Appli"cation]',
      "exampleSDID@32473.eventID": "1011", "examplePriority@32473.class": "high",
      "msg": "An application event log entry..."}),
    # RFC 5424 without structured data, as rsyslog's RSYSLOG_SyslogProtocol23Format writes it
    ("<34>1 2026-10-11T22:14:15.003+02:00 web1 sshd 4123 - - Failed password for root from 203.0.113.4",
     {"pri": "34", "facility": "auth", "severity": "crit", "time": "2026-10-11T22:14:15.003+02:00",
      "host": "web1", "app": "sshd", "pid": "4123", "msg": "Failed password for root from 203.0.113.4"}),
    # RFC 3164 as rsyslog's traditional file format writes it (no PRI)
    ("Oct  1 06:25:01 web1 CRON[12345]: (root) CMD (command -v debian-sa1 > /dev/null)",
     {"time": "Oct  1 06:25:01", "host": "web1", "app": "CRON", "pid": "12345",
      "msg": "(root) CMD (command -v debian-sa1 > /dev/null)"}),
    # rsyslog's default file format: an RFC 3339 time; a tag without a pid
    ("2026-10-11T22:14:15.123456+00:00 web1 kernel: [ 1.234] usb 1-1: new device",
     {"time": "2026-10-11T22:14:15.123456+00:00", "host": "web1", "app": "kernel",
      "msg": "[ 1.234] usb 1-1: new device"}),
    # RFC 3164 with a PRI, as received; a message without a tag
    ("<13>Oct 11 22:14:15 web1 -- MARK --",
     {"pri": "13", "facility": "user", "severity": "notice", "time": "Oct 11 22:14:15", "host": "web1",
      "msg": "-- MARK --"}),
]


@pytest.mark.parametrize(("line", "expected"), SYSLOG_LINES)
def test_syslog_fields(line: str, expected: dict[str, str]) -> None:
    assert SYSLOG is not None
    assert SYSLOG.fields(line) == expected


def test_syslog_levels_come_from_the_severity_or_the_message() -> None:
    assert SYSLOG is not None
    assert SYSLOG.level(SYSLOG_LINES[1][0]) == "error"  # crit
    assert SYSLOG.level(SYSLOG_LINES[0][0]) == "info"  # notice
    assert SYSLOG.level("Oct 11 22:14:15 web1 app[1]: ERROR disk full") == "error"  # no PRI: the message
    assert SYSLOG.level("not syslog at all, warning") == "warn"  # unparsed: the text, as without a parser


def test_syslog_times() -> None:
    assert SYSLOG is not None
    assert SYSLOG.time(SYSLOG_LINES[1][0], NOW) == datetime(2026, 10, 11, 20, 14, 15, 3000,
                                                            tzinfo=UTC).timestamp()
    local = datetime(2026, 10, 1, 6, 25, 1).timestamp()  # no zone: the server's local time
    assert SYSLOG.time(SYSLOG_LINES[2][0], NOW) == local


def test_json_and_logfmt_parsers_only_take_their_own_format() -> None:
    json_parser, logfmt_parser = parser_for("json"), parser_for("logfmt")
    assert json_parser is not None and logfmt_parser is not None
    assert json_parser.fields('{"status": 500, "msg": "x"}') == {"status": "500", "msg": "x"}
    assert json_parser.fields("status=500") is None
    assert logfmt_parser.fields("status=500 msg=x") == {"status": "500", "msg": "x"}
    assert logfmt_parser.fields('{"status": 500}') is None
    assert json_parser.level('{"level": "WARNING"}') == "warn"


def test_a_pattern_with_named_groups_is_a_parser() -> None:
    parser = parser_for(r"^(?P<ts>\S+) (?P<level>\w+) (?P<msg>.*?)(?: took (?P<ms>\d+)ms)?$")
    assert parser is not None
    line = "2026-10-10T13:55:36Z WARNING slow query took 1200ms"
    assert parser.fields(line) == {"ts": "2026-10-10T13:55:36Z", "level": "WARNING", "msg": "slow query",
                                   "ms": "1200"}
    assert parser.level(line) == "warn"
    assert parser.time(line, NOW) == datetime(2026, 10, 10, 13, 55, 36, tzinfo=UTC).timestamp()
    assert parser.fields("one-word-error") is None
    assert parser.level("one-word-error") == "error"


@pytest.mark.parametrize(("spec", "message"), [
    ("ngnix", "named groups"),
    ("(?P<a>", "not one of auto, json, logfmt, nginx, apache, syslog nor a valid RE2 pattern"),
    (r"(?P<a>\w+)(?=x)", "valid RE2 pattern"),  # lookahead: not RE2
])
def test_bad_parser_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ParserError, match=message.replace("(", r"\(")):
        parser_for(spec)


def test_auto_is_no_parser() -> None:
    assert parser_for("auto") is None
