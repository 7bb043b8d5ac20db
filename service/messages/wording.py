"""The words of every text Peerline sends, from templates/messages/<language>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
)

LANGUAGES = ("en", "es")


class Wording:
    """Renders message templates; a folder of the coordinator's own wording takes precedence."""

    def __init__(self, override_dir: Path | None = None, **defaults: Any) -> None:
        loaders: list[BaseLoader] = [PackageLoader("templates", "messages")]
        if override_dir is not None:
            loaders.insert(0, FileSystemLoader(override_dir))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text SMS, never HTML
            keep_trailing_newline=False,
            # Read once per process, like every setting: asking the disk on each text whether
            # a file changed was a tenth of wording one. A changed folder takes effect at start.
            auto_reload=False,
        )
        self.defaults = defaults

    def render(self, name: str, language: str, **variables: Any) -> str:
        """Render message name in language, falling back to English where it has no wording."""
        lang = language if language in LANGUAGES else "en"
        try:
            template = self.env.get_template(f"{lang}/{name}.txt")
        except TemplateNotFound:
            template = self.env.get_template(f"en/{name}.txt")
        return " ".join(template.render(**self.defaults, **variables).split())
