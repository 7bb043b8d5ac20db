"""`peerline simulate` and `simulate-call`: a participant's phone against a running Peerline."""

from __future__ import annotations

import click

from service.cli.common import fail
from service.config import Settings
from service.demo import simulator
from service.phones import InvalidPhone, normalize


@click.command(
    "simulate", help="Text a running Peerline as a participant (demo), signed as Twilio signs."
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--from", "sender", required=True, help="The participant's phone.")
@click.argument("text")
def simulate(url: str, sender: str, text: str) -> None:
    config = Settings.from_env(mode="demo")
    assert config.webhook_token is not None
    try:
        number = normalize(sender, config.default_region)
    except InvalidPhone as error:
        fail(f"--from: {error}")
        return
    try:
        replies = simulator.text_service(url, config.webhook_token, number, text)
    except simulator.SimulatorError as error:
        fail(str(error))
        return
    for reply in replies:
        click.echo(f"< {reply}")
    if not replies:
        click.echo("(no reply)")


@click.command(
    "simulate-call",
    help="Be a participant on the phone with a running Peerline (demo): call its number, or "
    "answer a reminder call the console printed, and press keys.",
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--from", "sender", help="The participant's phone (to call Peerline's number).")
@click.option("--answer", "answer_url", help="Answer this reminder call (its URL as printed).")
@click.option("--call-sid", help="The SID of the call to answer, as printed with it.")
@click.option("--machine", is_flag=True, help="Let an answering machine take the call.")
@click.option(
    "--keys",
    help="Keys to press in turn, comma-separated ('-' stays silent); without it, you are asked.",
)
def simulate_call(
    url: str,
    sender: str | None,
    answer_url: str | None,
    call_sid: str | None,
    machine: bool,
    keys: str | None,
) -> None:
    config = Settings.from_env(mode="demo")
    assert config.webhook_token is not None
    if sender is None and answer_url is None:
        fail("say who is calling (--from) or which call to answer (--answer)")
        return
    try:
        number = normalize(sender, config.default_region) if sender else "+15005550100"
    except InvalidPhone as error:
        fail(f"--from: {error}")
        return
    phone = simulator.CallSimulator(url, config.webhook_token, number, call_sid=call_sid)
    presses = [k.strip() for k in keys.split(",")] if keys is not None else None
    try:
        step = phone.answer(answer_url, machine=machine) if answer_url else phone.dial()
        while True:
            for line in step.said:
                click.echo(f"< {line}")
            if step.action is None:
                click.echo("(the call ended)")
                return
            if presses is None:
                digits = click.prompt(
                    "keys (Enter: silence, q: hang up)", default="", show_default=False
                )
            elif presses:
                digits = presses.pop(0)
            else:
                digits = "q"
            if digits.strip().lower() == "q":
                click.echo("(you hung up)")
                return
            shown = digits.strip() if digits.strip() not in ("", "-") else "(silence)"
            click.echo(f"> {shown}")
            step = phone.press(step, None if shown == "(silence)" else digits.strip())
    except simulator.SimulatorError as error:
        fail(str(error))
