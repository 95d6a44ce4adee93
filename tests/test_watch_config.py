"""`[watches.NAME]` and `[destinations.NAME]` (logtail/watches/spec.py): what is accepted, and every bad
configuration stopped with one line naming the watch and the key, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from logtail.config import ConfigError, resolve

GOOD_DEST = '[destinations.hook]\nurl = "http://127.0.0.1:9/hook"\n'


def load(tmp_path: Path, toml: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    (tmp_path / "app.log").write_text("")
    (tmp_path / "nginx.log").write_text("")
    config = tmp_path / "logtail.toml"
    config.write_text('sources = ["app.log", "nginx.log"]\n' + toml)
    return resolve({}, None, config, environ or {})


def test_a_watch_and_its_destination(tmp_path: Path) -> None:
    settings = load(tmp_path, GOOD_DEST + """
[destinations.slack]
url = "https://hooks.example/x"
format = "slack"
headers = { Authorization = "Bearer ${TOKEN}", X-Key = { env = "KEY" } }
timeout = "2s"

[watches.errors]
logs = ["app*"]
q = "ERROR"
ignore_case = true
level = ["error", "warn"]
field = ["status>=500"]
threshold = 10
window = "1m"
cooldown = "10m"
notify = ["hook", "slack"]
""", {"TOKEN": "s3cret", "KEY": "k"})
    (watch,) = settings.watches
    assert watch.name == "errors" and watch.logs == ("app*",)
    assert (watch.threshold, watch.window, watch.cooldown, watch.notify) == (10, 60.0, 600.0, ("hook", "slack"))
    assert watch.filter.q == "ERROR" and watch.filter.ignore_case and watch.filter.levels == {"error", "warn"}
    assert watch.covers("app.log") and not watch.covers("nginx.log")
    slack = settings.destinations[1]
    assert dict(slack.headers) == {"Authorization": "Bearer s3cret", "X-Key": "k"}
    assert (slack.format, slack.timeout) == ("slack", 2.0)


@pytest.mark.parametrize(("toml", "message"), [
    ('[watches.w]\nlogs = ["nope*"]\n', "watch 'w': logs: 'nope*' matches no log"),
    ('[watches.w]\nlogs = ["app.log"]\nregex = "(unclosed"\n', "watch 'w': invalid regex"),
    ('[watches.w]\nlogs = ["app.log"]\nlevel = ["loud"]\n', "watch 'w': level: unknown level 'loud'"),
    ('[watches.w]\nlogs = ["app.log"]\nfield = ["=="]\n', "watch 'w': field"),
    ('[watches.w]\nlogs = ["app.log"]\nnotify = ["pager"]\n', "watch 'w': notify: unknown destination 'pager'"),
    ('[watches.w]\nlogs = ["app.log"]\nthreshold = 0\n', "watch 'w': threshold must be"),
    ('[watches.w]\nlogs = ["app.log"]\nwindow = "2d"\n', "watch 'w': window must be"),
    ('[watches.w]\nlogs = ["app.log"]\nwindow = "soon"\n', "watch 'w': window must be a duration"),
    ('[watches.w]\nlogs = ["app.log"]\ncooldown = 5\n', "watch 'w': cooldown must be a duration"),
    ('[watches.w]\nlogs = ["app.log"]\nthreshhold = 3\n', "watch 'w': unknown key 'threshhold'"),
    ('[watches.w]\nlogs = []\n', "watch 'w': logs must name"),
    ('[destinations.d]\nurl = "ftp://x"\n', "destination 'd': url"),
    ('[destinations.d]\nurl = "http://x"\nformat = "xml"\n', "destination 'd': format"),
    ('[destinations.d]\nurl = "http://x"\nformat = "template"\n', "destination 'd': template"),
    ('[destinations.d]\nurl = "http://x"\nformat = "template"\ntemplate = "{{ x "\n', "destination 'd': template"),
    ('[destinations.d]\nurl = "http://x"\nheaders = { A = "${MISSING}" }\n',
     "destination 'd': headers.A: environment variable MISSING is not set"),
    ('[destinations.d]\nurl = "http://x"\ntimeout = "0s"\n', "destination 'd': timeout"),
])
def test_bad_watch_config_names_the_watch_and_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, toml)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_pattern_for_other_hosts_is_taken_on_trust_only_with_redis(tmp_path: Path) -> None:
    toml = 'redis = "redis://127.0.0.1:9"\n[watches.w]\nlogs = ["app*@*"]\n'
    assert load(tmp_path, toml).watches[0].logs == ("app*@*",)
    with pytest.raises(ConfigError, match="matches no log"):
        load(tmp_path, toml.split("\n", 1)[1])


def test_a_glob_source_may_match_later_files(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    config = tmp_path / "logtail.toml"
    config.write_text('sources = ["logs/app-*.log"]\n[watches.w]\nlogs = ["app-*.log"]\n')
    assert resolve({}, None, config, {}).watches[0].logs == ("app-*.log",)


def test_serve_stops_with_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("")
    config = tmp_path / "logtail.toml"
    config.write_text('sources = ["app.log"]\n[watches.w]\nlogs = ["app.log"]\nthreshold = 0\n')
    proc = subprocess.run([sys.executable, "-m", "logtail", "serve", "--config", str(config), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "logtail: error: watch 'w': threshold must be a whole number of at least 1, got 0"]


def test_a_state_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(ConfigError, match=r"state_dir .* is not a directory"):
        load(tmp_path, f'state_dir = "{tmp_path / "state"}"\n')
