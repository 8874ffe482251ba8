"""Nothing the page serves names a blind experiment's arm: report, picture, status.

Six nights of a blind experiment run on the real daemon on virtual time (as in
tests/experiment); then a real ``pc6 daemon`` and ``pc6 web`` serve that journal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from daemon_testlib import SHORT_PROFILE
from experiment_testlib import START, experiment_home, run_nights
from http_testlib import call, pair
from web_testlib import Daemon, Web

# The arm's words, the profiles' names, a dose or peak figure (as tests/experiment checks).
FORBIDDEN = re.compile(r"short|e1-off|active|\bcontrol\b|dose\s+[\d.]|peak\s+\d|level·s")


def test_a_blind_night_reads_as_an_experiment_night(tmp_path: Path) -> None:
    home = tmp_path
    (home / "profiles").mkdir()
    (home / "profiles" / "short.toml").write_text(SHORT_PROFILE)
    config, _ = experiment_home(home)
    run_nights(config, START, 6)
    assert config == home / "pc6band.toml"
    daemon = Daemon(home)
    daemon.start()
    web = Web(home, daemon.socket)
    try:
        web.start()
        _, token = pair(web, web.code)
        assert token
        cookie = {"Cookie": f"pc6web={token}"}
        status, _, body = call(web, "GET", "/api/report", headers=cookie)
        assert status == 200
        report = json.loads(body)
        assert "experiment night" in report["text"], report["text"]
        assert not FORBIDDEN.search(report["text"]), report["text"]
        status, _, svg = call(web, "GET", "/report.svg", headers=cookie)
        assert status == 200 and b"no trace recorded" in svg  # no levels of a blind night
        assert not FORBIDDEN.search(svg.decode())
        status, _, body = call(web, "GET", "/api/status", headers=cookie)
        shown = json.loads(body)["status"]
        assert not FORBIDDEN.search(json.dumps([shown["session"], shown["next"]]))
    finally:
        web.stop()
        daemon.stop()
