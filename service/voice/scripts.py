"""The TwiML of every step of Peerline's calls, spoken in the caller's language.

Pure functions of plain values: no database, no Flask. A route calls a ``Scripts`` method
and answers with the string as ``text/xml``. The words live in
``templates/messages/<language>/voice/*.txt`` and are rendered with the app's ``Wording``,
whose defaults supply ``{{ program }}`` (PEERLINE_PROGRAM_NAME) as they do for texts.

Keys the routes read from ``Digits``:

- reminder call (``reminder_call``, ``reminder_menu_again``): 1 coming, 2 can't come,
  3 hear it again, 9 stop all calls and texts; no ``Digits`` means silence.
- known caller (``caller_menu``): 1 coming and 2 cancel (offered only with a next
  meeting), 8 switch reminders to the other channel, 9 stop everything, and
  ``other_language_key`` (4) to hear the menu in the other language.
- unknown caller (``stranger_menu``, ``unknown_code``): digits end with ``#``. ``*`` asks
  how to get help; a lone ``other_language_key`` (4) switches language, which no join
  code can be mistaken for (codes have 3 to 12 characters); anything else is a code.
- a message between meetings (``message_call``, ``message_again``): 1 hear it again, 9 stop
  all calls and texts; anything else, or silence, is goodbye.
- joining (``join_confirm``), and the call back that asks a caller whose code was typed while
  the database was away (``call_back``): 1 confirm, 2 cancel.

Privacy: a reminder call names only the group's public name; a voicemail names neither
group nor location unless ``details_allowed`` (the time alone reveals no topic); a message's
voicemail says only that there is one, unless ``details_allowed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from twilio.twiml.voice_response import VoiceResponse

from service.messages.wording import LANGUAGES, Wording

VOICES: Final[dict[str, tuple[str, str]]] = {
    "en": ("Polly.Joanna", "en-US"),
    "es": ("Polly.Lupe", "es-US"),
}
_OTHER_LANGUAGE: Final = {"en": "es", "es": "en"}

Notice = Literal["invalid", "silence"]
_NOTICES: Final[dict[str, str]] = {
    "invalid": "voice/sorry_invalid",
    "silence": "voice/sorry_silence",
}
CHANNELS: Final = ("sms", "voice")


def _language(language: str) -> str:
    return language if language in LANGUAGES else "en"


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, not {channel!r}")
    return channel


@dataclass(frozen=True)
class Scripts:
    """Builds each step of a call; one instance serves every call."""

    wording: Wording

    def __post_init__(self) -> None:
        # Checked here so a misconfigured app fails at start-up, not in the middle of a call.
        if "program" not in self.wording.defaults:
            raise ValueError("Scripts needs a Wording with a program default: Wording(program=...)")

    def reminder_call(
        self,
        *,
        language: str,
        first_name: str | None,
        group: str,
        meeting: str,
        action: str,
        timeout: int = 6,
    ) -> str:
        """Greet, say the reminder sentence, then offer the reminder menu."""
        lang = _language(language)
        response = VoiceResponse()
        self._say(response, lang, "voice/greeting", first_name=first_name, group=group)
        self._speak(response, lang, meeting)
        self._reminder_menu(response, lang, action, timeout)
        return str(response)

    def reminder_menu_again(
        self,
        *,
        language: str,
        meeting: str,
        action: str,
        notice: Notice | None,
        timeout: int = 6,
    ) -> str:
        """Say the reminder again, after an optional notice (invalid key, silence)."""
        lang = _language(language)
        response = VoiceResponse()
        self._notice(response, lang, notice)
        self._speak(response, lang, meeting)
        self._reminder_menu(response, lang, action, timeout)
        return str(response)

    def confirmed(self, *, language: str, group: str, meeting_when: str) -> str:
        """Thank someone who is coming, and hang up."""
        return self._last_words(language, "voice/confirmed", group=group, meeting_when=meeting_when)

    def declined(self, *, language: str) -> str:
        """Thank someone who can't come, and hang up."""
        return self._last_words(language, "voice/declined")

    def stopped(self, *, language: str) -> str:
        """Confirm that all calls and texts have stopped, and how to come back."""
        return self._last_words(language, "voice/stopped")

    def goodbye(self, *, language: str) -> str:
        """End the call politely after repeated silence or wrong keys."""
        return self._last_words(language, "voice/goodbye")

    def voicemail(
        self,
        *,
        language: str,
        callback_hint: str,
        group: str | None,
        location: str | None,
        meeting_when: str | None,
        details_allowed: bool,
    ) -> str:
        """Leave a discreet message on an answering machine, after a pause for its beep."""
        lang = _language(language)
        response = VoiceResponse()
        response.pause(length=1)
        self._say(
            response,
            lang,
            "voice/voicemail",
            callback_hint=callback_hint,
            meeting_when=meeting_when,
            # Whoever plays the tape back may not be the participant.
            group=group if details_allowed else None,
            location=location if details_allowed else None,
        )
        response.hangup()
        return str(response)

    def message_call(
        self,
        *,
        language: str,
        first_name: str | None,
        group: str,
        message: str,
        action: str,
        timeout: int = 6,
    ) -> str:
        """Greet, say a message from the group (encouragement, a broadcast) once, offer to hear
        it again, and say goodbye."""
        lang = _language(language)
        response = VoiceResponse()
        self._say(response, lang, "voice/message_greeting", first_name=first_name, group=group)
        self._speak(response, lang, message)
        self._message_menu(response, lang, action, timeout)
        return str(response)

    def message_again(self, *, language: str, message: str, action: str, timeout: int = 6) -> str:
        """Say the message again, then the same offer and goodbye."""
        lang = _language(language)
        response = VoiceResponse()
        self._speak(response, lang, message)
        self._message_menu(response, lang, action, timeout)
        return str(response)

    def message_voicemail(
        self,
        *,
        language: str,
        callback_hint: str,
        group: str,
        message: str,
        details_allowed: bool,
    ) -> str:
        """Leave a message's call on an answering machine: only that there is a message, unless
        the group allows details (then its name and the words)."""
        lang = _language(language)
        response = VoiceResponse()
        response.pause(length=1)
        # A broadcast ("Tuesday's group is cancelled") outs the person to whoever plays the tape.
        self._say(
            response,
            lang,
            "voice/message_voicemail",
            callback_hint=callback_hint,
            group=group if details_allowed else None,
            message=message if details_allowed else None,
        )
        response.hangup()
        return str(response)

    def caller_menu(
        self,
        *,
        language: str,
        first_name: str | None,
        next_meeting: str | None,
        channel: str,
        action: str,
        notice: Notice | None = None,
        other_language_key: str = "4",
        timeout: int = 6,
        left: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Offer a known caller their menu; with a notice it replaces the greeting.

        ``channel`` is how their reminders come now ("sms" or "voice"); ``next_meeting`` is
        a full sentence, or None when they have no meeting coming up; ``left`` the messages
        (group, words) an answering machine was told to have them call back for.
        """
        lang = _language(language)
        current = _channel(channel)
        response = VoiceResponse()
        if notice is None:
            self._say(response, lang, "voice/caller_greeting", first_name=first_name)
        else:
            self._notice(response, lang, notice)
        for group, message in left:
            self._say(response, lang, "voice/message_left", group=group, message=message)
        if next_meeting is None:
            self._say(response, lang, "voice/no_meeting")
        else:
            self._speak(response, lang, next_meeting)
        gather = response.gather(
            input="dtmf", num_digits=1, action=action, method="POST", timeout=timeout
        )
        options = []
        if next_meeting is not None:
            options.append(self.wording.render("voice/attendance_options", lang))
        new_channel = "voice" if current == "sms" else "sms"
        options.append(self.wording.render("voice/channel_option", lang, new_channel=new_channel))
        options.append(self.wording.render("voice/stop_option", lang))
        self._speak(gather, lang, " ".join(options))
        self._offer_other_language(gather, lang, other_language_key, then_pound=False)
        response.redirect(action, method="POST")
        return str(response)

    def switched(self, *, language: str, channel: str) -> str:
        """Confirm the channel reminders come by from now on ("sms" or "voice")."""
        return self._last_words(language, "voice/switched", channel=_channel(channel))

    def language_switched(self, *, language: str) -> str:
        """Confirm, in the language chosen, that it is the one we speak from now on."""
        return self._last_words(language, "voice/language_switched")

    def attendance_cancelled(self, *, language: str) -> str:
        """Confirm that a caller's attendance is cancelled, and hang up."""
        return self._last_words(language, "voice/attendance_cancelled")

    def stranger_menu(
        self,
        *,
        language: str,
        action: str,
        other_language_key: str = "4",
        timeout: int = 8,
    ) -> str:
        """Welcome an unknown caller and ask for a join code ending with #."""
        lang = _language(language)
        response = VoiceResponse()
        self._say(response, lang, "voice/stranger_welcome")
        self._code_menu(response, lang, action, other_language_key, timeout)
        return str(response)

    def unknown_code(
        self,
        *,
        language: str,
        action: str,
        other_language_key: str = "4",
        timeout: int = 8,
    ) -> str:
        """Say the code matched no group, and ask for it again."""
        lang = _language(language)
        response = VoiceResponse()
        self._say(response, lang, "voice/unknown_code")
        self._code_menu(response, lang, action, other_language_key, timeout)
        return str(response)

    def join_confirm(self, *, language: str, group: str, action: str, timeout: int = 6) -> str:
        """Ask a caller to confirm joining the group their code matched."""
        lang = _language(language)
        response = VoiceResponse()
        self._say(response, lang, "voice/join_confirm", group=group)
        gather = response.gather(
            input="dtmf", num_digits=1, action=action, method="POST", timeout=timeout
        )
        self._say(gather, lang, "voice/join_options")
        response.redirect(action, method="POST")
        return str(response)

    def code_kept(self, *, language: str) -> str:
        """Tell a caller whose code cannot be checked now that we will call back to ask."""
        return self._last_words(language, "voice/code_kept")

    def call_back(self, *, language: str, question: str, action: str, timeout: int = 6) -> str:
        """Ask, on the call back, whether they want to join the group their code named."""
        lang = _language(language)
        response = VoiceResponse()
        self._speak(response, lang, question)
        gather = response.gather(
            input="dtmf", num_digits=1, action=action, method="POST", timeout=timeout
        )
        self._say(gather, lang, "voice/join_options")
        response.redirect(action, method="POST")
        return str(response)

    def call_back_voicemail(self, *, language: str) -> str:
        """Ask an answering machine, after its beep, for a call; no group is named."""
        lang = _language(language)
        response = VoiceResponse()
        response.pause(length=1)
        self._say(response, lang, "voice/call_back_voicemail")
        response.hangup()
        return str(response)

    def joined(self, *, language: str, group: str, channel: str = "voice") -> str:
        """Welcome a caller who has joined a group, say how its reminders will come ("sms" or
        "voice"), and hang up."""
        return self._last_words(language, "voice/joined", group=group, channel=_channel(channel))

    def help_by_text(self, *, language: str) -> str:
        """Tell an unknown caller how to get help by text, and hang up."""
        return self._last_words(language, "voice/help_by_text")

    def not_subscribed(self, *, language: str) -> str:
        """Tell a caller who opted out that nothing is coming, and how to start again."""
        return self._last_words(language, "voice/not_subscribed")

    def error(self, *, language: str) -> str:
        """Apologise and hang up when a request can't be understood (never an HTTP error)."""
        return self._last_words(language, "voice/error")

    def _say(self, parent: Any, language: str, name: str, **variables: Any) -> None:
        self._speak(parent, language, self.wording.render(name, language, **variables))

    def _speak(self, parent: Any, language: str, text: str) -> None:
        voice, tag = VOICES[language]
        parent.say(text, voice=voice, language=tag)

    def _notice(self, parent: Any, language: str, notice: Notice | None) -> None:
        if notice is not None:
            self._say(parent, language, _NOTICES[notice])

    def _last_words(self, language: str, name: str, **variables: Any) -> str:
        response = VoiceResponse()
        self._say(response, _language(language), name, **variables)
        response.hangup()
        return str(response)

    def _reminder_menu(self, response: Any, language: str, action: str, timeout: int) -> None:
        gather = response.gather(
            input="dtmf", num_digits=1, action=action, method="POST", timeout=timeout
        )
        self._say(gather, language, "voice/reminder_menu")
        response.redirect(action, method="POST")

    def _message_menu(self, response: Any, language: str, action: str, timeout: int) -> None:
        # Silence after the offer is the end of the call: the message has been said.
        gather = response.gather(
            input="dtmf", num_digits=1, action=action, method="POST", timeout=timeout
        )
        self._say(gather, language, "voice/message_menu")
        self._say(response, language, "voice/goodbye")
        response.hangup()

    def _code_menu(
        self, response: Any, language: str, action: str, other_language_key: str, timeout: int
    ) -> None:
        gather = response.gather(
            input="dtmf", finish_on_key="#", action=action, method="POST", timeout=timeout
        )
        self._say(gather, language, "voice/code_prompt")
        self._offer_other_language(gather, language, other_language_key, then_pound=True)
        response.redirect(action, method="POST")

    def _offer_other_language(
        self, parent: Any, language: str, key: str, *, then_pound: bool
    ) -> None:
        # Spoken in the other language, by its own voice: the offer is for those who need it.
        other = _OTHER_LANGUAGE[language]
        self._say(parent, other, "voice/language_offer", key=key, then_pound=then_pound)
