"""Settings: every bad value stops start-up with one line that names the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ConfigError, Settings

GOOD = {
    "PEERLINE_SECRET_KEY": "s3cret",
    "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+12025550100",
}


def test_good_settings_are_read() -> None:
    settings = Settings.from_env({**GOOD, "PEERLINE_PUBLIC_URL": "https://example.org/peer/"})
    assert settings.uses_twilio
    assert settings.public_url == "https://example.org/peer"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/peerline.sqlite3")
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.session_idle_minutes == 30
    assert settings.secure_cookies  # the public URL is https


def test_without_credentials_the_console_gateway_is_used() -> None:
    assert not Settings.from_env({"PEERLINE_SECRET_KEY": "x"}).uses_twilio


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PEERLINE_SECRET_KEY": ""}, "PEERLINE_SECRET_KEY"),
        ({"PEERLINE_DATABASE_URL": "not a url"}, "PEERLINE_DATABASE_URL"),
        ({"PEERLINE_DATABASE_URL": "mysql://u@h/db"}, "PEERLINE_DATABASE_URL"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "SK" + "0" * 32}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_FROM_NUMBER": "555-0100"}, "TWILIO_FROM_NUMBER"),
        ({"TWILIO_FROM_NUMBER": "+1555"}, "TWILIO_FROM_NUMBER"),
        ({"TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}, "TWILIO_MESSAGING"),
        ({"TWILIO_FROM_NUMBER": ""}, "TWILIO_FROM_NUMBER"),
        ({"TWILIO_API_BASE_URL": "ftp://x"}, "TWILIO_API_BASE_URL"),
        ({"PEERLINE_PUBLIC_URL": "example.org"}, "PEERLINE_PUBLIC_URL"),
        ({"PEERLINE_PUBLIC_URL": "https://example.org/?a=1"}, "PEERLINE_PUBLIC_URL"),
        ({"PEERLINE_DEFAULT_REGION": "XX"}, "PEERLINE_DEFAULT_REGION"),
        ({"PEERLINE_MODE": "staging"}, "PEERLINE_MODE"),
        ({"PEERLINE_WORDING_DIR": "/no/such/folder"}, "PEERLINE_WORDING_DIR"),
        ({"PEERLINE_CRISIS_WORDS": " , "}, "PEERLINE_CRISIS_WORDS"),
        ({"PEERLINE_SESSION_IDLE_MINUTES": "0"}, "PEERLINE_SESSION_IDLE_MINUTES"),
        ({"PEERLINE_SESSION_IDLE_MINUTES": "half an hour"}, "PEERLINE_SESSION_IDLE_MINUTES"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**GOOD, **env})
    assert caught.value.setting.startswith(setting)
    assert str(caught.value).startswith(caught.value.setting + ": ")


def test_demo_and_tests_need_no_secret_key() -> None:
    for mode in ("demo", "test"):
        assert Settings.from_env({}, mode=mode).secret_key


def test_crisis_words_are_configurable() -> None:
    settings = Settings.from_env({**GOOD, "PEERLINE_CRISIS_WORDS": "hopeless, end it all"})
    assert settings.crisis_words == ("hopeless", "end it all")


def run_peerline(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "from scheduler.cli import main; main()"
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_the_command_line_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    result = run_peerline(
        "groups", "list", env={**GOOD, "TWILIO_ACCOUNT_SID": "AC-nope"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "peerline: configuration error: TWILIO_ACCOUNT_SID: must be AC followed by 32 hex digits"
    ]


@pytest.mark.slow
def test_the_command_line_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = run_peerline("serve", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "PEERLINE_SECRET_KEY: required outside demo and tests" in result.stderr
    assert "Traceback" not in result.stderr
