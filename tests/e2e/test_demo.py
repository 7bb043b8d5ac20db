"""The README's demo, started as a newcomer starts it, texted through its simulator."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from service.config import Settings
from service.demo import simulator
from service.demo.seed import CIRCLE_KEYPAD_CODE

# Each test that texts the shared demo does so from a number of its own (555-01xx: fiction);
# the newcomer's number the banner prints (+12025550199) is the banner's test's alone.
SECOND_DEMO, ROUND_TRIP, PAGE, UNSIGNED, KEYPAD = (f"+1202555019{n}" for n in range(1, 6))
# Each test starts a real `peerline demo` process.
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Demo:
    url: str
    folder: Path  # where it was started: its log (demo.log) and its instance folder


# The demo seeds a meeting eleven minutes out, to the minute, so its reminder (ten minutes
# before) is due at the next minute boundary: the README's "within a minute". Its process here
# runs on a clock a minute ahead of the real one (the app's clock, service.clock.utc_now, set
# before the app is built; the seeding reads the real time): the reminder is due as soon as it
# is planned, where the real clock would make the test wait up to a minute for the boundary.
# A reminder seeded later than a minute out would still not be due, and the test would fail.
MINUTE_AHEAD = (
    "import datetime, service.clock as clock; real = clock.utc_now; "
    "clock.utc_now = lambda: real() + datetime.timedelta(minutes=1); "
    "from scheduler.cli import main; main()"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A running `peerline demo` in an empty folder, one for the module's tests.

    Starting one takes seconds; the tests share it, each texting from a number of its own (the
    banner's newcomer only in the test of the banner), so none reads another's conversation.
    """
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEERLINE_", "TWILIO_"))}
    env["PYTHONPATH"] = str(root)
    log = (folder / "demo.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", MINUTE_AHEAD, "demo", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("the demo did not start: " + (folder / "demo.log").read_text())
        yield Demo(base, folder)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def peerline(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `peerline` as a second terminal would, with only the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEERLINE_", "TWILIO_"))}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]), **settings)
    return subprocess.run(
        [sys.executable, "-c", "from scheduler.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def test_a_demo_on_a_busy_port_says_so_and_leaves_the_database_there_alone(
    tmp_path: Path,
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    kept = {
        instance / "demo.sqlite3": b"the running demo's database",
        instance / "demo.sqlite3-wal": b"its write-ahead log",
        instance / "peerline.sqlite3": b"an instance database",
    }
    for path, content in kept.items():
        path.write_bytes(content)

    with socket.socket() as busy:  # another process holds the port, as a running demo does
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = peerline("demo", "--port", str(port), cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (another Peerline?); "
        f"stop it or choose another port, for example --port {port + 1}\n"
    )
    assert {path: path.read_bytes() for path in kept} == kept


def test_a_second_demo_in_the_same_folder_leaves_the_running_one_alone(
    demo: Demo,
) -> None:
    database = demo.folder / "instance" / "demo.sqlite3"
    held = database.stat().st_ino

    second = peerline("demo", "--port", str(free_port()), cwd=demo.folder)

    assert second.returncode == 1
    [line] = second.stderr.splitlines()
    assert line.startswith(f"Error: another demo is running from {demo.folder / 'instance'}")
    assert "PEERLINE_INSTANCE_DIR" in line
    assert database.stat().st_ino == held
    token = Settings.from_env({}, mode="demo").webhook_token
    assert token is not None
    assert "reply YES" in simulator.text_service(demo.url, token, SECOND_DEMO, "JOIN CIRCLE")[0]


def test_the_commands_the_banner_prints_reach_the_demo_on_its_port(
    demo: Demo, tmp_path: Path
) -> None:
    banner = (demo.folder / "demo.log").read_text().splitlines()
    simulate = next(ln for ln in banner if "peerline simulate --url" in ln)
    words = shlex.split(simulate.split("peerline ", 1)[1])
    export = next(ln for ln in banner if ln.strip().startswith("export PEERLINE_MODE=demo"))
    settings = dict(word.split("=", 1) for word in shlex.split(export)[1:])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    texted = peerline(*words, cwd=elsewhere)
    groups = peerline("groups", "list", cwd=elsewhere, **settings)
    people = peerline("participants", "list", "--group", "CIRCLE", cwd=elsewhere, **settings)

    assert demo.url.rsplit(":", 1)[1] != "5000" and f"--url {demo.url}" in simulate
    assert texted.returncode == 0, texted.stderr
    assert "reply YES" in texted.stdout
    assert groups.returncode == 0, groups.stderr
    assert "CIRCLE" in groups.stdout and "MARTES" in groups.stdout
    assert groups.stderr == ""  # the answer alone, no log lines
    assert people.returncode == 0, people.stderr
    assert "Alex" in people.stdout


def test_join_yes_help_stop_start_round_trip_through_the_simulator(demo: Demo) -> None:
    token = Settings.from_env({}, mode="demo").webhook_token
    assert token is not None

    def say(body: str) -> list[str]:
        return simulator.text_service(demo.url, token, ROUND_TRIP, body)

    assert "reply YES" in say("JOIN CIRCLE")[0]
    assert "You're in" in say("YES")[0]
    assert "Msg&data rates may apply" in say("HELP")[0]
    assert "no more messages" in say("STOP")[0]
    assert say("hello?") == []  # nothing more after a STOP
    assert "Welcome back" in say("START")[0]

    page = requests.get(f"{demo.url}/demo/phone", params={"from": ROUND_TRIP}, timeout=5).text
    assert page.count('class="bubble in"') == 6
    assert page.count('class="bubble out"') == 5


def test_the_simulator_page_texts_through_the_signed_webhook(demo: Demo) -> None:
    response = requests.post(
        f"{demo.url}/demo/phone", data={"from": PAGE, "body": "JOIN CIRCLE"}, timeout=10
    )
    assert response.status_code == 200
    assert "To get reminders for Tuesday Circle, reply YES." in response.text


def test_the_demo_refuses_an_unsigned_text(demo: Demo) -> None:
    response = requests.post(
        f"{demo.url}/twilio/sms", data={"From": UNSIGNED, "Body": "STOP"}, timeout=5
    )
    assert response.status_code == 403


def test_a_caller_joins_by_keypad_through_the_call_simulator(demo: Demo) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scheduler.cli import main; main()",
            "simulate-call",
            "--url",
            demo.url,
            "--from",
            KEYPAD,
            "--keys",
            f"{CIRCLE_KEYPAD_CODE}#,1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PEERLINE_", "TWILIO_"))},
        cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode == 0, result.stderr
    assert "join code" in result.stdout
    assert "You're joining Tuesday Circle" in result.stdout
    assert "You're in" in result.stdout
    assert "(the call ended)" in result.stdout


def test_the_console_prints_a_reminder_call_that_the_simulator_can_answer(
    demo: Demo,
) -> None:
    """Robin takes calls; the demo's reminder for Tuesday Circle goes out a minute in."""
    log = demo.folder / "demo.log"
    deadline = time.monotonic() + 150
    line = ""
    while time.monotonic() < deadline and "--answer" not in line:
        time.sleep(1)
        line = next((ln for ln in log.read_text().splitlines() if "calling" in ln), "")
    assert "+1******0105" in line and "+12025550105" not in log.read_text()
    assert f"simulate-call --url {demo.url} --answer" in line
    url = line.split("--answer '", 1)[1].split("'", 1)[0]
    sid = line.split("--call-sid ", 1)[1].split("`", 1)[0]
    token = Settings.from_env({}, mode="demo").webhook_token
    assert token is not None

    phone = simulator.CallSimulator(demo.url, token, "+12025550105", call_sid=sid)
    step = phone.answer(url)
    assert any("Tuesday Circle" in said for said in step.said)
    step = phone.press(step, "1")
    assert step.action is None and any("see you" in said.lower() for said in step.said)


def test_the_banner_gives_a_token_that_opens_the_coordinators_api(
    demo: Demo,
) -> None:
    banner = (demo.folder / "demo.log").read_text()
    token = banner.split("Authorization: Bearer ", 1)[1].split("'", 1)[0]

    groups = requests.get(
        f"{demo.url}/api/v1/groups", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert groups.status_code == 200
    assert {g["join_code"] for g in groups.json()} == {"CIRCLE", "MARTES"}
    refused = requests.get(
        f"{demo.url}/api/v1/groups", headers={"Authorization": "Bearer x"}, timeout=5
    )
    assert refused.status_code == 401


def test_the_banner_gives_a_sign_in_that_opens_the_dashboard(demo: Demo) -> None:
    banner = (demo.folder / "demo.log").read_text()
    line = next(ln for ln in banner.splitlines() if "sign in as" in ln)
    email, password = line.split("sign in as ", 1)[1].split(" with the password ")
    assert f"The coordinators' dashboard:  {demo.url}/" in banner
    browser = requests.Session()
    form = browser.get(f"{demo.url}/sign-in", timeout=5).text
    token = form.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]

    signed = browser.post(
        f"{demo.url}/sign-in",
        data={"csrf_token": token, "email": email, "password": password.strip()},
        timeout=10,
    )

    assert signed.status_code == 200
    assert signed.url == f"{demo.url}/"
    assert "Tuesday Circle" in signed.text
    assert "Grupo Martes" in signed.text
