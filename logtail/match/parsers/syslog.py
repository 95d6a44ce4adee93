"""Syslog lines as rsyslog writes them to files.

- RFC 5424 (`RSYSLOG_SyslogProtocol23Format`): `<PRI>1 TIME HOST APP PROCID MSGID [SD-ID k="v" ...] MSG`.
  Each structured data parameter becomes the field `SD-ID.NAME` (`exampleSDID@32473.iut`); `sd` holds the
  elements as written.
- RFC 3164 and rsyslog's file formats: `[<PRI>]TIME HOST TAG[PID]: MSG`, where TIME is the classic
  `Oct 10 13:55:36` (`RSYSLOG_TraditionalFileFormat`, local time, no year) or RFC 3339
  (`RSYSLOG_FileFormat`, the default).

Fields: `pri`, `facility` and `severity` (names, from PRI when the line has one), `time`, `host`, `app`,
`pid`, `msgid`, `msg`. A `-` (RFC 5424's nil value) leaves the field out.
"""

from __future__ import annotations

from logtail.match.fields import Fields
from logtail.match.parsers.base import compile_grammar

# Without backtracking (see compile_grammar).
_RFC5424 = compile_grammar(
    r"<(\d{1,3})>1 (\S++) (\S++) (\S++) (\S++) (\S++) "
    r'(-|(?:\[[^\]\s"]++(?: [^=\]\s"]++="(?:[^"\\]++|\\.)*+")*+\])++)(?: (.*))?'
)
_RFC3164 = compile_grammar(
    r"(?:<(\d{1,3})>)?+([A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*+) (\S++) "
    r"(?:([^\s:\[]++)(?:\[([^\]\s]*+)\])?+: ?)?(.*)"
)
_SD_ELEMENT = compile_grammar(r'\[([^\]\s"]++)((?: [^=\]\s"]++="(?:[^"\\]++|\\.)*+")*+)\]')
_SD_PARAM = compile_grammar(r' ([^=\]\s"]++)="((?:[^"\\]++|\\.)*+)"')
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")


def syslog_fields(text: str) -> Fields | None:
    """The fields of an RFC 5424 or RFC 3164 line, or None when the line is neither."""
    if text.startswith("<") and (m := _RFC5424.fullmatch(text)) is not None:
        pri, time, host, app, pid, msgid, sd, msg = m.groups()
        fields = _with_pri(pri)
        _put(fields, time=time, host=host, app=app, pid=pid, msgid=msgid)
        if sd is not None and sd != "-":
            fields["sd"] = sd
            _put_sd(fields, sd)
        if msg is not None:
            fields["msg"] = msg.removeprefix("\ufeff")  # RFC 5424 marks UTF-8 text with a BOM
        return fields
    m = _RFC3164.fullmatch(text)
    if m is None:
        return None
    pri, time, host, app, pid, msg = m.groups()
    fields = _with_pri(pri)
    _put(fields, time=time, host=host, app=app, pid=pid)
    fields["msg"] = msg or ""
    return fields


def _with_pri(pri: str | None) -> Fields:
    if pri is None or int(pri) > 191:
        return {}
    code = int(pri)
    return {"pri": pri, "facility": FACILITIES[code >> 3], "severity": SEVERITIES[code & 7]}


def _put(fields: Fields, **values: str | None) -> None:
    for key, value in values.items():
        if value is not None and value != "-" and value != "":
            fields[key] = value


def _put_sd(fields: Fields, sd: str) -> None:
    for element in _SD_ELEMENT.finditer(sd):
        sd_id = element.group(1)
        for param in _SD_PARAM.finditer(element.group(2)):
            value = param.group(2)
            if "\\" in value:  # RFC 5424 escapes `"`, `\` and `]` in values with a backslash
                value = value.replace('\\"', '"').replace("\\]", "]").replace("\\\\", "\\")
            fields[f"{sd_id}.{param.group(1)}"] = value
