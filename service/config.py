"""Settings from the environment, checked once at start-up."""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from service.phones import is_e164

ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True)
class Settings:
    """Everything Peerline reads from its environment."""

    database_url: str
    secret_key: str
    instance_dir: Path
    mode: str = "production"  # "production", "demo" or "test"
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    program_name: str = "Peerline"
    help_contact: str | None = None  # None: each language's "your group's coordinator"
    crisis_words: tuple[str, ...] | None = None  # None: the keyword engine's own list
    wording_dir: Path | None = None
    default_region: str = "US"
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object a line, for a log collector
    # Segments per second each sender (From number or Messaging Service) may send, across all
    # workers together; None means no limit of Peerline's own (Twilio still queues).
    send_rate: float | None = 1.0
    send_threads: int = 8  # sends in flight at once in one worker process
    send_lease: float = 120.0  # seconds a claimed row is a worker's before others look it up
    twilio_timeout: float = 10.0  # seconds to wait for Twilio's answer before calling it unknown
    metrics_port: int | None = None  # where `peerline worker` serves its own /metrics
    metrics_token: str | None = None  # the bearer token /metrics on the web port asks for
    call_rate: float | None = 1.0  # calls a second from our number, across all workers
    call_retries: int = 2  # more tries after a busy line or no answer
    call_retry_spacing: float = 30 * 60.0  # seconds between those tries
    session_idle_minutes: int = 30  # a dashboard sign-in left alone this long ends
    retention_days: int = 400  # what texts said, either way, is blanked after this many days

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over https, when the public address is https."""
        return self.public_url is not None and self.public_url.startswith("https://")

    @property
    def uses_twilio(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def webhook_token(self) -> str | None:
        """The key webhooks are signed with: Twilio's auth token, or the demo's own."""
        if self.twilio_auth_token:
            return self.twilio_auth_token
        if self.mode == "demo":
            return hmac.new(self.secret_key.encode(), b"demo webhooks", "sha1").hexdigest()
        return None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        mode: str | None = None,
    ) -> Settings:
        """Read and check the settings, raising ConfigError on the first bad one."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        mode = mode or get("PEERLINE_MODE") or "production"
        if mode not in ("production", "demo", "test"):
            raise ConfigError("PEERLINE_MODE", f"must be production, demo or test, not {mode!r}")

        instance = Path(get("PEERLINE_INSTANCE_DIR") or Path.cwd() / "instance").resolve()
        database_url = get("PEERLINE_DATABASE_URL") or f"sqlite:///{instance / 'peerline.sqlite3'}"
        try:
            url = make_url(database_url)
        except ArgumentError:
            raise ConfigError("PEERLINE_DATABASE_URL", "not a valid SQLAlchemy URL") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(
                "PEERLINE_DATABASE_URL", "only sqlite:// and postgresql:// URLs are supported"
            )
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            _check_sqlite_folder(Path(url.database).parent)

        secret_key = get("PEERLINE_SECRET_KEY")
        if secret_key is None:
            if mode == "production":
                raise ConfigError(
                    "PEERLINE_SECRET_KEY",
                    "required outside demo and tests (for example: "
                    'python3 -c "import secrets; print(secrets.token_hex(32))")',
                )
            secret_key = f"insecure-{mode}-key"

        public_url = get("PEERLINE_PUBLIC_URL")
        if public_url is not None:
            if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
                raise ConfigError("PEERLINE_PUBLIC_URL", "must be an http(s) URL without a query")
            public_url = public_url.rstrip("/")

        sid = get("TWILIO_ACCOUNT_SID")
        if sid is not None and not ACCOUNT_SID.fullmatch(sid):
            raise ConfigError("TWILIO_ACCOUNT_SID", "must be AC followed by 32 hex digits")
        token = get("TWILIO_AUTH_TOKEN")
        if (sid is None) != (token is None):
            missing = "TWILIO_AUTH_TOKEN" if token is None else "TWILIO_ACCOUNT_SID"
            raise ConfigError(
                missing, "set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither"
            )

        from_number = get("TWILIO_FROM_NUMBER")
        if from_number is not None and not is_e164(from_number):
            raise ConfigError("TWILIO_FROM_NUMBER", "must be an E.164 number such as +15551234567")
        service_sid = get("TWILIO_MESSAGING_SERVICE_SID")
        if service_sid is not None and not MESSAGING_SERVICE_SID.fullmatch(service_sid):
            raise ConfigError(
                "TWILIO_MESSAGING_SERVICE_SID", "must be MG followed by 32 hex digits"
            )
        if sid is not None and from_number is None and service_sid is None:
            raise ConfigError(
                "TWILIO_FROM_NUMBER", "set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
            )

        api_base = get("TWILIO_API_BASE_URL") or "https://api.twilio.com"
        if not re.fullmatch(r"https?://[^\s/?#]+/?", api_base):
            raise ConfigError(
                "TWILIO_API_BASE_URL", "must be a scheme and host, such as https://api.twilio.com"
            )

        crisis_words = None
        if (words := get("PEERLINE_CRISIS_WORDS")) is not None:
            crisis_words = tuple(w.strip() for w in words.split(",") if w.strip())
            if not crisis_words:
                raise ConfigError("PEERLINE_CRISIS_WORDS", "a comma-separated list of words")

        wording_dir = None
        if (wording := get("PEERLINE_WORDING_DIR")) is not None:
            wording_dir = Path(wording)
            if not wording_dir.is_dir():
                raise ConfigError("PEERLINE_WORDING_DIR", f"{wording} is not a folder")

        region = (get("PEERLINE_DEFAULT_REGION") or "US").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError("PEERLINE_DEFAULT_REGION", "a two-letter region code such as US")

        log_level = (get("PEERLINE_LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("PEERLINE_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR")

        log_format = (get("PEERLINE_LOG_FORMAT") or "text").lower()
        if log_format not in ("text", "json"):
            raise ConfigError("PEERLINE_LOG_FORMAT", "text or json")

        send_rate: float | None = 1.0
        if (rate := get("PEERLINE_SEND_RATE")) is not None:
            send_rate = None if rate.lower() == "off" else _positive("PEERLINE_SEND_RATE", rate)
        threads = get("PEERLINE_SEND_THREADS") or "8"
        if not threads.isdigit() or not 1 <= int(threads) <= 64:
            raise ConfigError("PEERLINE_SEND_THREADS", "a whole number from 1 to 64")

        metrics_port = get("PEERLINE_METRICS_PORT")
        if metrics_port is not None and not (
            metrics_port.isdigit() and 1 <= int(metrics_port) <= 65535
        ):
            raise ConfigError("PEERLINE_METRICS_PORT", "a port number from 1 to 65535")

        metrics_token = get("PEERLINE_METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < 16:
            raise ConfigError("PEERLINE_METRICS_TOKEN", "at least 16 characters, hard to guess")

        lease = _positive("PEERLINE_SEND_LEASE", get("PEERLINE_SEND_LEASE") or "120")
        timeout = _positive("TWILIO_TIMEOUT", get("TWILIO_TIMEOUT") or "10")
        if lease < timeout + 3:
            raise ConfigError(
                "PEERLINE_SEND_LEASE", f"must exceed TWILIO_TIMEOUT ({timeout:g} s) by 3 s or more"
            )

        call_rate: float | None = 1.0
        if (rate := get("PEERLINE_CALL_RATE")) is not None:
            call_rate = None if rate.lower() == "off" else _positive("PEERLINE_CALL_RATE", rate)
        retries = get("PEERLINE_CALL_RETRIES") or "2"
        if not retries.isdigit() or int(retries) > 5:
            raise ConfigError("PEERLINE_CALL_RETRIES", "a whole number from 0 to 5")
        spacing = _positive(
            "PEERLINE_CALL_RETRY_MINUTES", get("PEERLINE_CALL_RETRY_MINUTES") or "30"
        )

        idle = get("PEERLINE_SESSION_IDLE_MINUTES") or "30"
        if not idle.isdigit() or not 1 <= int(idle) <= 24 * 60:
            raise ConfigError("PEERLINE_SESSION_IDLE_MINUTES", "a whole number from 1 to 1440")

        retention = get("PEERLINE_RETENTION_DAYS") or "400"
        if not retention.isdigit() or not 1 <= int(retention) <= 36500:
            raise ConfigError("PEERLINE_RETENTION_DAYS", "a whole number of days from 1 to 36500")

        return cls(
            database_url=database_url,
            secret_key=secret_key,
            instance_dir=instance,
            mode=mode,
            public_url=public_url,
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_from_number=from_number,
            twilio_messaging_service_sid=service_sid,
            twilio_api_base_url=api_base.rstrip("/"),
            program_name=get("PEERLINE_PROGRAM_NAME") or "Peerline",
            help_contact=get("PEERLINE_HELP_CONTACT") or None,
            crisis_words=crisis_words,
            wording_dir=wording_dir,
            default_region=region,
            log_level=log_level,
            log_format=log_format,
            send_rate=send_rate,
            send_threads=int(threads),
            send_lease=lease,
            twilio_timeout=timeout,
            metrics_port=int(metrics_port) if metrics_port else None,
            metrics_token=metrics_token,
            call_rate=call_rate,
            call_retries=int(retries),
            call_retry_spacing=spacing * 60,
            session_idle_minutes=int(idle),
            retention_days=int(retention),
        )


def _positive(setting: str, value: str) -> float:
    """A number of seconds or a rate: positive and finite."""
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(setting, f"must be a number, not {value!r}") from None
    if not 0 < number < 1e6:
        raise ConfigError(setting, f"must be above 0, not {value!r}")
    return number


def _check_sqlite_folder(folder: Path) -> None:
    """Refuse a SQLite file whose folder cannot be made: a file stands where a folder must."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise ConfigError("PEERLINE_DATABASE_URL", f"{existing} is a file, not a folder")
            return
