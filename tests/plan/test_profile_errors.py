"""Bad profiles are refused before anything moves, with the file, field, line and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.errors import ProfileError
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

HEAD = 'name = "t"\ndescription = "d"\nkinds = ["vibration"]\n'

# (profile text, field named in the error, words of the reason, line or None)
BAD = [
    (HEAD + '[[steps]]\nramp = "high"\nover = "2s"\n', "steps[0].ramp", "must be a number", 5),
    (
        HEAD + '[[steps]]\nhold = 5\n[[steps]]\nrest = "-1s"\n',
        "steps[1].rest",
        "cannot read duration",
        7,
    ),
    (HEAD + '[[steps]]\nset = 0.5\nfor = "0s"\n', "steps[0].for", "above 0", 6),
    (HEAD + '[[steps]]\nset = nan\nfor = "1s"\n', "steps[0].set", "from 0 to 1", 5),
    (HEAD + '[[steps]]\nset = 1.2\nfor = "1s"\n', "steps[0].set", "from 0 to 1", 5),
    (HEAD + '[[steps]]\nset = -0.1\nfor = "1s"\n', "steps[0].set", "from 0 to 1", 5),
    (HEAD + '[[steps]]\nramp = 0.5\nover = "2s"\n', "steps[0]", "must end at 0", None),
    (HEAD + '[[steps]]\nramp = 0.5\novr = "2s"\n', "steps[0].ovr", "did you mean 'over'", 6),
    (HEAD + 'colour = 3\n[[steps]]\nrest = "1s"\n', "colour", "unknown key", 4),
    (HEAD + "[[steps]]\npulse = 3\n", "steps[0].pulse", "did you mean 'pulses'", 5),
    (HEAD + '[[steps]]\nhold = "1s"\nrest = "1s"\n', "steps[0]", "exactly one action", 4),
    (HEAD + "steps = []\n", "steps", "non-empty list", 4),
    (
        'description = "d"\nkinds = ["vibration"]\n[[steps]]\nrest = "1s"\n',
        "name",
        "missing required key",
        None,
    ),
    (
        HEAD.replace('["vibration"]', '["tickle"]') + '[[steps]]\nrest = "1s"\n',
        "kinds",
        "one or both",
        3,
    ),
    (
        HEAD + '[[steps]]\npulses = 0\nlevel = 0.5\non = "1s"\noff = "1s"\n',
        "steps[0].pulses",
        "count must be from 1",
        5,
    ),
    (
        HEAD + '[[steps]]\npulses = 3\nlevel = 0.5\non = "1s"\noff = "1s"\nrise = "2s"\n',
        "steps[0].rise",
        "must fit",
        9,
    ),
    (
        HEAD + '[[steps]]\nenvelope = [["1s", 0.2], ["2s", 0.0]]\n',
        "steps[0].envelope[0]",
        "at time 0",
        5,
    ),
    (HEAD + "[[steps]]\nenvelope = [[0, 0.2], [0, 0.0]]\n", "steps[0].envelope[1]", "increase", 5),
    (HEAD + "[[steps]]\nrepeat = 2\n", "steps[0].steps", "nested steps", 4),
    (HEAD + '[[steps]]\nrest = "13h"\n', "steps[0].rest", "longer than a profile", 5),
    (HEAD + '[jitter]\ntime = 0.9\n[[steps]]\nrest = "1s"\n', "jitter.time", "from 0 to 0.5", 5),
    (HEAD + 'version = 7\n[[steps]]\nrest = "1s"\n', "version", "unsupported", 4),
    (
        HEAD + "[[steps]]\nrepeat = 100000\n[[steps.steps]]\nrepeat = 100000\n"
        '[[steps.steps.steps]]\npulses = 3\nlevel = 0.5\non = "1ms"\noff = "1ms"\n',
        "steps",
        "more than",
        None,
    ),
]


@pytest.mark.parametrize(("text", "field", "reason", "line"), BAD)
def test_bad_profile_names_field_line_and_reason(
    text: str, field: str, reason: str, line: int | None
) -> None:
    with pytest.raises(ProfileError) as caught:
        compile_profile(parse_profile(text, source="bad.toml"))
    err = caught.value
    assert err.field == field
    assert reason in err.reason
    assert err.line == line
    assert str(err).startswith("bad.toml")


@pytest.mark.parametrize("text", ["", "   \n", "this is [not toml", "\xff\xfe"])
def test_empty_or_not_toml(text: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text.encode("latin-1"), source="x.toml")
    assert "x.toml" in str(caught.value)


def _pc6(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "PC6_STATE_DIR": str(env_dir)}
    return subprocess.run(
        [sys.executable, "-m", "firmware_host.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_refuses_bad_profile_with_exit_2_and_nothing_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + '[[steps]]\nset = 1.5\nfor = "2s"\n')
    trace = tmp_path / "trace.csv"
    run = _pc6("run", str(bad), "--fast", "--trace", str(trace), env_dir=tmp_path / "s")
    assert run.returncode == 2
    assert "bad.toml:5: steps[0].set: must be from 0 to 1, got 1.5" in run.stderr
    assert "SIMULATED" not in run.stdout  # nothing started
    assert not trace.exists()
    assert not (tmp_path / "s" / "journal.sqlite").exists()


def test_cli_check_reports_each_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(HEAD + '[[steps]]\nrest = "1s"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [")
    run = _pc6("profile", "check", str(good), str(bad), env_dir=tmp_path)
    assert run.returncode == 2
    assert "ok   " in run.stdout and "FAIL" in run.stdout and "not valid TOML" in run.stdout


def test_cli_unknown_profile_suggests_names(tmp_path: Path) -> None:
    run = _pc6("profile", "show", "evening-pc7", env_dir=tmp_path)
    assert run.returncode == 2
    assert "did you mean evening-pc6" in run.stderr


def test_cli_rejects_bad_max_level_and_kind(tmp_path: Path) -> None:
    run = _pc6("run", "evening-pc6", "--fast", "--max-level", "1.5", env_dir=tmp_path)
    assert run.returncode == 2 and "--max-level" in run.stderr
    run = _pc6("run", "evening-pc6", "--fast", "--max-level", "nan", env_dir=tmp_path)
    assert run.returncode == 2


def test_a_fifo_or_a_device_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    from firmware_host.plan.profile import load_profile

    fifo = tmp_path / "evil.toml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    with pytest.raises(ProfileError, match="not a regular file"):
        load_profile(fifo)
    with pytest.raises(ProfileError, match="not a regular file"):
        load_profile("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(ProfileError, match="1 MiB"):
        load_profile(big)
