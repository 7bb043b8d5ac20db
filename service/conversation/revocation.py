"""Read a plain-language request to stop, in English and Spanish, as a person would.

A participant may withdraw consent "by any reasonable means" (US FCC 24-24, 47 CFR
64.1200(a)(10)): not only STOP, but "I no longer want these texts", "please take me off
your list", "ya no quiero mensajes", a bare "Paren".  ``keywords.py`` reads the messages
made only of keywords; this module reads everything else, and says one of three things:

    REVOKED    a request to stop everything: the participant is opted out and told so.
    MAYBE      it looks like a request to stop, but the grammar cannot tell ("enough",
               "too many texts", "please don't text me so early", "take me off", "stop"
               beside words it cannot place): nothing changes, a person is asked to look,
               and the participant is told how to stop everything (reply STOP).
    SET_ASIDE  a request to stop that does not count: negated ("don't stop texting me"),
               about someone else ("my kids don't text me anymore"), or about one group,
               waitlist or meeting ("take me off the waitlist"); an ordinary message.
    NONE       nothing of the kind.

How a message is read
    The words and clauses come from ``words.py`` (case, accents and apostrophes folded;
    . , ; : ! ? and the like end a clause).  Each clause is matched against the rules
    below.  A rule is a pattern over words (the notation is at the end of this docstring)
    of one kind:

    REVOKE      a request to stop, in a statement or a command: the verbs of stopping
                (stop, quit, cease, end, cancel, discontinue; dejen de, paren, detengan,
                cancelen) with an object that is ours (texts, messages, reminders, calls,
                these, me, this number); the verbs of withdrawing (withdraw, revoke,
                rescind; retiro, revoco) with consent or permission; the verbs of removing
                (remove, delete, take off, unsubscribe, opt out; sáquenme, bórrenme, dar
                de baja) with me, my number or a list; desire negated ("I don't want these
                texts", "I no longer wish to receive", "ya no quiero mensajes", "no deseo
                recibir") or turned to an exit ("I want out", "I'd like to opt out", "quiero
                darme de baja"); negative commands ("don't text me", "never contact me
                again", "no me escriban más", "no me vuelvan a llamar"); being left alone
                ("leave me alone", "déjenme en paz"); "no more texts", "no más mensajes".
                Three guards apply to every REVOKE match:
                  negation: not when the word before it in its clause (skipping filler,
                    "ever", "really", and a bridge such as "want (you) to" / "quiero
                    (que)") is a negation of its language ("don't stop texting me", "no
                    dejen de escribirme", "I don't want you to stop the reminders").
                    English "no" is not a negation ("no stop texting me" stops), and a
                    match that itself starts with a negation ("no me escriban") is not
                    turned around by another.
                  someone else: not when (in English) it is said of a third person ("I
                    want him to stop calling me", "they don't want these texts").
                  command: a rule marked as a command counts only where it opens its
                    clause, after filler and a request opener ("can you", "I want you
                    to", "I said", "les pido que"): "Please remove me" stops, "will they
                    remove me from the group?" does not.
                A REVOKE match that passes its guards becomes MAYBE when its clause also
                narrows it (QUALIFIER: "so early", "after 9", "on Sundays", "for now", "tan
                temprano", "por ahora"), and SET_ASIDE when its part of the clause (cut at
                and / but / so / y / pero / porque) names one group, a waitlist or a
                meeting (GROUP: "the Monday group", "Tuesdays", "la lista de espera").
    ALONE       a stop word that is its own sentence, beyond the keywords ("stop it", "No
                more.", "Paren ya", "Detente"); a clause made only of opt-out keywords
                counts too ("For the third time, STOP").  Alone in the message it is a
                request.  Beside other sentences it is one only when every other sentence
                backs it up (SUPPORT: "I said no", "for the third time", "wrong number",
                "I'm no longer in the program"); beside a question ("STOP. Who is this?")
                or anything else ("Stop, you're making me laugh") it is MAYBE.
    MAYBE       close to a request, never enough for one: "enough", "too many texts",
                "wrong number", "goodbye", "I'm done with this", "I don't want this",
                "demasiados mensajes", "ya no quiero", "número equivocado".
    UNRELATED   a stop word doing something else: "stop by the church", "I can't stop
                crying", "stop worrying", "a bus stop", "quit smoking", "cancel my
                appointment", "unsubscribe from the newsletter", "text STOP if...",
                "tuve que parar en la farmacia", "estoy de baja", "cancelar mi cita".
    TRIGGER     a stop word (stop, quit, cancel, unsubscribe, opt out, remove me, take me
                off; parar, paren, detener, cancelar, de baja, sáquenme...) that no other
                rule explains makes its clause MAYBE: "stop it you're making me laugh",
                "take me off" (off what?), "remove me from the photo".
    KEEP        a wish for texts to go on ("keep them coming", "don't drop me", "sigan
                mandando", or a change of channel: "just text", "mejor mándenme
                mensaje") anywhere in the message turns a REVOKED reading into MAYBE.
    QUESTION    a clause that opens with a question word.

    The message is REVOKED when a clause is; otherwise by its ALONE clauses as above;
    otherwise MAYBE when a clause is; otherwise SET_ASIDE or NONE.  The language is that
    of the rule that decided.  Every rule carries examples, which the tests read.

Notation of the patterns
    lowercase words are themselves (written with accents and apostrophes as people type
    them; they are folded like the message); CAPITALS name a class of alternatives below;
    [x] is optional; (x | y) is a choice; x* x+ x? repeat; !x means "not followed by x";
    ~ is any run of filler words; ^ and $ are the start and end of the clause; ANY is
    one word, ING one word ending in -ing, INF_ES a Spanish infinitive; BREAK is the end
    of the clause or a word that starts something new (filler, "again", "and", "I"...).
"""

from __future__ import annotations

import bisect
import enum
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from service.conversation.words import FILLER_WORDS, Words, units, words_of


class Verdict(enum.Enum):
    """What the grammar makes of a message; see the module docstring."""

    REVOKED = "revoked"
    MAYBE = "maybe"
    SET_ASIDE = "set_aside"
    NONE = "none"


@dataclass(frozen=True)
class Revocation:
    """The grammar's reading of one message, and the language of the rule that decided."""

    verdict: Verdict
    language: str | None = None


class Kind(enum.Enum):
    """The part a rule plays; see the module docstring."""

    REVOKE = "revoke"
    ALONE = "alone"
    MAYBE = "maybe"
    UNRELATED = "unrelated"
    GROUP = "group"
    QUALIFIER = "qualifier"
    SUPPORT = "support"
    KEEP = "keep"
    QUESTION = "question"
    TRIGGER = "trigger"


class Rule(NamedTuple):
    """One pattern of the grammar, with messages that show it."""

    kind: Kind
    language: str
    pattern: str
    examples: tuple[str, ...] = ()
    command: bool = False  # REVOKE only: counts only where it opens its clause


NEGATION_WORDS_EN: tuple[str, ...] = (
    "NOT",
    "NEVER",
    "NVR",
    "DON'T",
    "DNT",
    "DOESN'T",
    "DIDN'T",
    "WON'T",
    "CAN'T",
    "CANNOT",
    "SHOULDN'T",
    "WOULDN'T",
    "COULDN'T",
    "MUSTN'T",
)
NEGATION_WORDS_ES: tuple[str, ...] = ("NO", "NUNCA", "JAMÁS", "TAMPOCO", "NI")

# --- Classes: the words a pattern names in CAPITALS ----------------------------------------
# Each class is a pattern of alternatives; the few that need more than words are regular
# expressions over the message's words (RAW_CLASSES).

RAW_CLASSES: dict[str, str] = {
    "ANY": "[^ \n]+ ",
    "ING": "[^ \n]+ing ",
    "INF_ES": "[^ \n]+(?:ar|er|ir)(?:me|te|se|nos|lo|la|los|las)? ",
    "NUMBER": "[0-9]+(?:am|pm|h|hrs|st|nd|rd|th)? ",
}

CLASSES: dict[str, str] = {
    # English
    "STOPKW": "stop | stopp | stpo | sotp | stahp | stopall",
    "STOPV": (
        "STOPKW | quit | cease | cease and desist | halt | end | discontinue | cancel | terminate"
    ),
    "ME": (
        "me | us | this number | this phone | this phone number | this cell | this line"
        " | my number | my phone | my cell | my phone number"
    ),
    "MINE": (
        "ME | my name | my name and number | my number and name | my info | my information"
        " | my details | my contact info | my contact information | my data"
    ),
    "COMM": (
        "text | texts | txt | txts | message | messages | msg | msgs | sms | reminder"
        " | reminders | call | calls | robocalls | notification | notifications | alert | alerts"
        " | communication | communications | encouragement | encouragements | updates"
    ),
    "DET": (
        "the | these | those | this | that | your | ur | all | all of | any | any more"
        " | anymore | any further | further | such | my | our | more"
    ),
    "MOD": (
        "text | txt | sms | reminder | group | daily | weekly | automated | auto | meeting"
        " | encouragement | phone | voice | stupid | annoying | constant | WEEKDAY"
    ),
    "COMM_OBJ": "[DET] [DET] [MOD] [MOD] COMM [(or | and) [DET] [MOD] COMM]",
    "THESE": "these | any of these | all of these | all these | those",
    "LISTWORD": (
        "list | lists | mailing list | roster | database | system | records | contacts"
        " | contact list | program | programme | service | services"
    ),
    "LIST": "[DET] [DET] [ANY] [ANY] LISTWORD | everything | all of it | all of them",
    "CONTACTING": (
        "texting | txting | textin | txtin | texing | messaging | msging | calling"
        " | contacting | bothering | bugging | spamming | harassing | pestering | hounding"
        " | emailing | writing | ringing | phoning | reminding | reaching out"
    ),
    "CONTACT": (
        "text | txt | message | msg | call | contact | bother | bug | spam | harass | pester"
        " | email | write | ring | phone | reach out to | remind"
    ),
    "CONTACTED": (
        "texted | txted | messaged | called | contacted | bothered | spammed | emailed | reminded"
    ),
    "SENDING": "sending [ME] (COMM_OBJ | THESE | them | anything | stuff | BREAK)",
    "GETTING": (
        "(getting | receiving | being sent) (COMM_OBJ | THESE | them | anything | BREAK)"
        " | being (texted | contacted | called | messaged)"
    ),
    "DESIRE": (
        "want | wanna | would like | wd like | id like | d like | like | wish | need"
        " | would love | id love | would prefer | id prefer | prefer"
    ),
    "NEG1": "(don't | do not | dnt | no longer | never) [really | even]",
    "DESIRE1": "want | wanna | wish | need",
    "UNSUB": "unsubscribe | unsub | unsuscribe | unsubcribe | unenroll | unregister | deregister",
    "OPTOUT": "opt out | optout | opout | opt me out | opt us out",
    "CONSENT": "consent | permission | authorization | authorisation | opt in | optin",
    "WITHDRAW": (
        "withdraw | withdrawing | withdrew | revoke | revoking | rescind | rescinding"
        " | retract | retracting | cancel | cancelling | canceling | terminate | terminating"
    ),
    "WEEKDAY": (
        "monday | mondays | tuesday | tuesdays | wednesday | wednesdays | thursday"
        " | thursdays | friday | fridays | saturday | saturdays | sunday | sundays | mon | tue"
        " | tues | wed | thu | thur | thurs | fri"
    ),
    "TIMEWORD": (
        "NUMBER | one | two | three | four | five | six | seven | eight | nine | ten | eleven"
        " | twelve | noon | midnight | dark | bed | bedtime | work | school | lunch | dinner"
        " | breakfast | the meeting"
    ),
    "OTHERS": (
        "he | she | they | him | her | them | hes | shes | theyre | theyd | hed | shed"
        " | theyll | kids | ex | husband | wife | boyfriend | girlfriend | mom | mum | dad"
        " | family | friends | friend | boss | sister | brother | son | daughter | people"
        " | someone | everyone | everybody | nobody | somebody | sponsor | partner"
    ),
    # What a person also cancels, quits or unsubscribes from that is not us.
    "OTHER": (
        "appointment | appointments | appt | appts | doctor | dentist | job | shift | work"
        " | class | classes | school | course | gym | ride | rides | uber | flight | plans"
        " | order | newsletter | newsletters | email | emails | facebook | whatsapp | instagram"
        " | chat | groupme | app | link | zoom | address | photo | photos | picture | pictures"
    ),
    "MEETING": (
        "meeting | meetings | session | sessions | group | groups | potluck | picnic | event | rsvp"
    ),
    "GENERIC": (
        "the | this | my | your | our | that | a | an | any | all | support | peer | whole"
        " | same | of | from | in | to | for | with | out | off"
    ),
    # Spanish
    "COMM_ES": (
        "mensaje | mensajes | msj | msjs | mensajitos | texto | textos | sms | recordatorio"
        " | recordatorios | llamada | llamadas | notificacion | notificaciones | alerta"
        " | alertas | aviso | avisos"
    ),
    "DET_ES": (
        "los | las | el | la | estos | estas | este | esta | esos | esas | sus | su | tus"
        " | tu | mis | mi | todos los | todas las | mas | ningun | ninguna | nada de"
    ),
    "COMM_OBJ_ES": (
        "[DET_ES] [DET_ES] COMM_ES [de (texto | recordatorio)] [(ni | y | o) [DET_ES] COMM_ES]"
    ),
    "LISTWORD_ES": (
        "lista | listas | base de datos | sistema | contactos | registro | programa | servicio"
    ),
    "LIST_ES": (
        "[DET_ES] LISTWORD_ES [de (mensajes | contactos | envio | recordatorios | difusion"
        " | texto)] | todo | aqui | aca"
    ),
    "CONTACT_SUBJ_ES": (
        "escriban | escribas | escriba | llamen | llames | llame | contacten | contactes"
        " | contacte | molesten | molestes | moleste | texteen | textees | marquen | marques"
    ),
    "SEND_SUBJ_ES": "manden | mandes | mande | envien | envies | envie",
    "CONTACT_INF_ES": (
        "escribirme | escribirnos | escribir | llamarme | llamarnos | llamar | contactarme"
        " | contactar | molestarme | molestar | textearme | textear | marcarme | recordarme"
    ),
    "SEND_INF_ES": "mandarme | mandarnos | mandar | enviarme | enviarnos | enviar",
    "SENDING_ES": "mandando | enviando | escribiendo | llamando | contactando | molestando",
    "STOPIMP_ES": (
        "dejen | deja | deje | dejes | dejar | paren | para | pare | parar | parale | parenle"
        " | detengan"
    ),
    "QUIERO_ES": (
        "quiero | kiero | deseo | queremos | deseamos | necesito | necesitamos | me interesa"
        " | me interesan"
    ),
    "DESIRE_ES": (
        "quiero | kiero | deseo | queremos | quisiera | quisieramos | me gustaria | necesito"
        " | favor de | les pido | pido | solicito | [me] (pueden | puede | podrian | podria)"
    ),
    "BAJA_ES": (
        "(darme | darse | dar | darnos | denme | dame | deme) de baja"
        " | me (quiero | voy a | puedo | pueden | puede) dar de baja"
        " | me (doy | den | dan | des | de) de baja"
    ),
    "REMOVEIMP_ES": (
        "saquenme | saqueme | sacame | quitenme | quiteme | quitame | borrenme | borreme"
        " | borrame | eliminenme | elimineme | eliminame | desuscribanme | desuscribame"
    ),
    "REMOVEOBJ_ES": (
        "borren | eliminen | quiten | saquen | borre | elimine | quite | saque | borra"
        " | elimina | quita | saca"
    ),
    "MINE_ES": (
        "mi numero | mi numero de telefono | mi telefono | mi celular | mis datos | mi nombre"
        " | mi contacto | mi informacion"
    ),
    "REMOVEINF_ES": (
        "sacarme | quitarme | borrarme | eliminarme | sacar | quitar | borrar | eliminar"
        " | desuscribirme | desuscribir | salirme | salir"
    ),
    "CONSENT_ES": "consentimiento | permiso | autorizacion | suscripcion",
    "WITHDRAW_ES": (
        "retiro | revoco | cancelo | anulo | retirar | revocar | cancelar | anular"
        " | retiramos | revocamos"
    ),
    "CANCEL_ES": (
        "cancelar | cancelen | cancele | cancela | cancelo | anular | anulen | detener"
        " | detengan | paren | parar | pare | terminar | terminen"
    ),
    "CANCELOBJ_ES": (
        "COMM_OBJ_ES | [mi | la | su | tu] suscripcion [a COMM_OBJ_ES] | el servicio | todo"
    ),
    "WEEKDAY_ES": (
        "lunes | martes | miercoles | jueves | viernes | sabado | sabados | domingo | domingos"
    ),
    # Lo que una persona también cancela o deja que no somos nosotros.
    "OTHER_ES": (
        "cita | citas | doctor | medico | dentista | trabajo | turno | chamba | escuela"
        " | clase | clases | curso | gimnasio | gym | viaje | vuelo | plan | planes | correo"
        " | correos | email | boletin | facebook | whatsapp | chat | enlace | link | zoom"
        " | direccion | foto | fotos"
    ),
    "MEETING_ES": (
        "reunion | reuniones | junta | juntas | sesion | sesiones | grupo | grupos | evento"
    ),
    "TRIGGER_ES": (
        "parar | paren | pare | parale | parenle | detener | detente | detengan | detenganse"
        " | detenga | cancelar | cancelen | cancele | cancelo | cancela | desuscribir"
        " | desuscribirme | de baja | REMOVEIMP_ES | revocar | revoco"
    ),
    "NEG_ES": "no | nunca | jamas | tampoco | ni",
    "NEG_EN": (
        "not | never | nvr | don't | dnt | doesn't | didn't | won't | can't | cannot"
        " | shouldn't | wouldn't | couldn't | mustn't"
    ),
    # Words that may follow a request whose object is left out: the end of the clause,
    # filler, emphasis, or the start of something new ("remove me I'm not interested").
    "BREAK_WORD": (
        "again | anymore | any more | ever | already | immediately | asap | at once"
        " | for good | forever | completely | altogether | too | and | but | so | or | because"
        " | cause | since | i | im | id | ive | we | you | u | its | this is | thats | thank"
        " | lol | no | not | mas | nunca | otra vez | jamas | de una vez | y | pero | porque"
        " | que | ni | yo | a este numero"
    ),
    # Words allowed before a command at the start of its clause, besides filler.
    "OPENER": (
        "so | and | also | yes | yeah | no | nope | si | kindly | can you | can u | could you"
        " | could u | would you | would u | will you | will u | i want you to | i need you to"
        " | id like you to | i would like you to | im asking you to | i am asking you to"
        " | you can | you could | i said | like i said | i told you | i mean | seriously"
        " | honestly | again | oh | ugh | guys | oiga | oigan | oye | les pido que | le pido que"
        " | te pido que | y"
    ),
}

# Soft ends of a clause: a group named after "but" is not the object of a request before it.
SOFT_BREAKS: tuple[str, ...] = ("and", "but", "so", "because", "y", "pero", "porque")


def _rules(kind: Kind, language: str, *table: tuple[str, ...], command: bool = False) -> list[Rule]:
    """Make the rules of one table: each row is a pattern followed by its examples."""
    return [Rule(kind, language, row[0], row[1:], command) for row in table]


# Each row: the pattern, then messages that show it (the tests read them all).
RULES: tuple[Rule, ...] = (
    # --- English: requests to stop, in statements ----------------------------------------------
    *_rules(
        Kind.REVOKE,
        "en",
        (
            "STOPV CONTACTING",
            "stop texting me",
            "Quit messaging me",
            "pls stop txting",
            "Stop calling and texting me",
        ),
        (
            "STOPV SENDING",
            "stop sending me texts",
            "could you please stop sending me these",
            "please stop sending",
        ),
        ("STOPV GETTING", "I'd like to stop getting these", "stop receiving these"),
        (
            "STOPV [with] COMM_OBJ",
            "stop the texts",
            "stop with the messages please",
            "end texts",
            "cancel all texts",
        ),
        ("STOPV (everything | it all | all of it | all of this)", "cancel everything"),
        (
            "(DESIRE | ask for | asking for | asked for | request | requesting) COMM_OBJ to"
            " (STOPV | be stopped | stop coming | go away)",
            "I'd like the reminders to stop please",
            "I'm simply asking for the texts to stop.",
        ),
        ("(make | let) COMM_OBJ (STOPV | go away)", "please make the texts stop"),
        (
            "if (you | u | you guys | yall) [would | could | d] (stop | stopped | quit)"
            " (CONTACTING | SENDING)",
            "I'd appreciate it if you stopped texting me",
        ),
        (
            "(DESIRE to | i | we | let me | can i | could i | may i) (UNSUB | OPTOUT) [(of |"
            " from) (COMM_OBJ | LIST | THESE | all)] BREAK",
            "I want to opt out",
            "I'd like to unsubscribe from these texts",
            "I opt out",
        ),
        (
            "(DESIRE to | can i | could i | may i | please) (be | get) (removed | taken off |"
            " unsubscribed | deleted | opted out) [(from | off) (LIST | COMM_OBJ)] BREAK",
            "Can I be removed from the text list please?",
            "I want to be removed",
        ),
        ("(DESIRE to | can i | could i) get off (LIST | COMM_OBJ)", "I need to get off this list"),
        (
            "UNSUB [ME] [(from | of) (COMM_OBJ | LIST | THESE | all)] BREAK",
            "Unsubscribe me from this list",
            "Unsubscribe from all",
            "please unsubscribe me",
        ),
        (
            "OPTOUT [(of | from) (COMM_OBJ | LIST | THESE | all)] BREAK",
            "opt me out please",
            "opt out of these texts",
        ),
        (
            "NEG1 DESIRE1 [to (get | receive | keep getting | keep receiving | be sent | see)]"
            " (COMM_OBJ | THESE)",
            "I don't want these messages anymore",
            "i dont want these txts no more",
            "I changed my mind and don't want to get these anymore",
            "I no longer want these texts",
            "I don't need these reminders anymore",
        ),
        ("NEG1 DESIRE1 to (get | receive) BREAK", "I no longer wish to receive"),
        (
            "NEG1 DESIRE1 (to (be | get) CONTACTED | to hear from (you | u | this number) | to"
            " be on LIST | you to CONTACT [ME | back])",
            "I do not want to be contacted anymore",
            "I don't want you to text me",
        ),
        ("count me out of COMM_OBJ", "Count me out of the text reminders"),
        ("no more COMM_OBJ", "No more texts", "no more calls or texts please"),
        ("enough (with | of) COMM_OBJ", "Enough with the texts."),
        (
            "(i | ive | i have | we) [already] [have] (said | told you | asked you | asked |"
            " begged you | requested | keep telling you | keep asking you) [you] [to] (STOPKW |"
            " quit | stop it) BREAK",
            "I said stop",
            "I've asked you to stop. Please honor that.",
        ),
        ("(im | i am) (asking | begging | telling) you to STOPKW BREAK", "I'm asking you to stop"),
        (
            "(asking | ask | asked | begging | telling | told | request | requesting | want |"
            " need | would like | id like) (you | u) (not to | to not | never to | to never)"
            " (CONTACT | send)",
            "I'm asking you not to send messages to this number anymore",
        ),
        ("(not | never) [to] (be | get) CONTACTED", "Please honor my request to not be texted"),
        (
            "(im | i am | were | we are) (done | finished | through) (with | getting |"
            " receiving) (COMM_OBJ | THESE | them | this service | this program | your service)",
            "I'm done with these texts",
        ),
        ("(im | i am) (opting out | unsubscribing | withdrawing)", "I'm opting out"),
        (
            "WITHDRAW [my | all | any | the | our] [prior] CONSENT",
            "I withdraw my consent",
            "I am revoking consent to be texted or called",
        ),
        (
            "(don't | do not | no longer | never) (consent | agree) [to | for]",
            "I do not consent to these messages anymore",
        ),
        (
            "(you | u) (don't | do not | no longer) have (my | our) (consent | permission)",
            "You no longer have my permission",
        ),
        (
            "DESIRE (out | off) [of (COMM_OBJ | LIST | THESE)]",
            "I want out",
            "i want out of these texts",
        ),
    ),
    # --- English: requests to stop that count only as commands ---------------------------------
    *_rules(
        Kind.REVOKE,
        "en",
        (
            "(don't | do not | dnt | never) [ever] [again] (CONTACT (ME | back) | CONTACT (or"
            " | and) CONTACT ME | send [ME] (COMM_OBJ | THESE | anything | nothing))",
            "don't text me",
            "Do not call me again.",
            "Never contact me again",
            "Do not EVER contact me again",
            "Don't text back",
            "Do not send any more messages",
            "Don't call or text this number again",
        ),
        (
            "(remove | delete | erase | lose | drop) MINE [(from | off) (LIST | COMM_OBJ)] BREAK",
            "Remove me",
            "Kindly remove me from your distribution list",
            "lose my number",
        ),
        (
            "(take | get) MINE (off | out of | off of) (LIST | COMM_OBJ)",
            "take me off this list",
            "You can take my name and number off everything",
        ),
        (
            "(leave (me | us) (alone | be) | let me be | go away | back off)",
            "Leave me alone",
            "Please go away",
        ),
        command=True,
    ),
    # --- English: a stop word standing alone ---------------------------------------------------
    *_rules(
        Kind.ALONE,
        "en",
        ("^ ~ (STOPKW | quit) (it | this | that | them) ~ $", "stop it", "STOP IT NOW"),
        ("^ ~ no more ~ $", "No more."),
        (
            "^ ~ (STOPKW | quit | unsubscribe | cancel | end | OPTOUT) (immediately | asap |"
            " already | again | at once | for good | forever | altogether | completely) ~ $",
            "stop already",
        ),
    ),
    # --- English: close to a request, never enough for one -------------------------------------
    *_rules(
        Kind.MAYBE,
        "en",
        (
            "^ ~ [thats | that is | ok | okay | yeah | alright | omg] enough [already | now |"
            " is enough] ~ $",
            "Enough!",
            "that's enough",
        ),
        ("(too | so | way too) many COMM", "Too many texts", "so many reminders lol"),
        ("(fewer | less) COMM", "fewer texts please"),
        ("CONTACT [ME] (too | way too | so) (much | often)", "you text me too much"),
        ("^ ~ [you have | you got | u have] [the] wrong number ~ $", "Wrong number"),
        ("^ ~ (goodbye | good bye | bye | bye bye) ~ $", "Goodbye"),
        ("^ ~ (im | i am) (out | done) ~ $", "I'm out", "im done"),
        ("^ ~ count me out ~ $", "count me out"),
        (
            "(im | i am) (done | through) with (this | it | that | all this | all of this |"
            " you | you guys | you all | yall)",
            "I'm done with this",
        ),
        (
            "NEG1 DESIRE1 (this | it | that | them | any more | anymore) BREAK",
            "I don't want this",
            "I don't want any more",
        ),
        (
            "how (do | can | could | would | should) (i | we) get off LIST",
            "How do I get off this list?",
        ),
    ),
    # --- English: stop words doing something else ----------------------------------------------
    *_rules(
        Kind.UNRELATED,
        "en",
        (
            "STOPKW (by | in | at | over | off | into | near | first | twice | to | there |"
            " here | home | somewhere | along | quickly | real quick | on the way | for !(now |"
            " a while | a bit | good | today | tonight | the))",
            "Can I stop by the church?",
            "I had to stop at the pharmacy, running late",
        ),
        (
            "(bus | a | the | next | last | first | one | that | each | every | pit | rest |"
            " truck | my | your | our) STOPKW",
            "Is there a bus stop near the hall?",
        ),
        ("STOPKW (sign | signs | light | lights | watch)", "stop sign is down on 5th"),
        (
            "STOPKW [me] [from] !(CONTACTING | getting | receiving | sending | being) ING",
            "Stop worrying about me, I'm fine",
            "This group helped me stop drinking",
        ),
        (
            "NEG_EN [even | ever | really | just]* (STOPKW | quit | cancel | UNSUB | OPTOUT |"
            " remove | take | withdraw | revoke)",
            "I can't stop thinking about last week",
            "Please don't cancel the group",
        ),
        (
            "quit (my | his | her | their | our | your | a | an | on | cold turkey | ING |"
            " OTHER | today | yesterday | last)",
            "I just quit my job",
            "I quit drinking 30 days ago!",
        ),
        (
            "cancel [DET] [ANY] [ANY] (OTHER | MEETING)",
            "I had to cancel my doctor's appointment",
            "Cancel my ride, I'm still coming",
        ),
        ("cancel (that | on | plans)", "Cancel that, I can come after all"),
        (
            "(had to | have to | need to | needed to | got to | gotta) cancel",
            "Sorry I had to cancel last week",
        ),
        (
            "STOPKW (the | my | your | our | his | her | their) !(COMM | MOD | LISTWORD) ANY",
            "We have got to STOP the stigma",
        ),
        (
            "(UNSUB | OPTOUT | remove me | take me off) [me] (from | of | off) [DET] [DET]"
            " [ANY] [ANY] OTHER",
            "How do I unsubscribe from the email newsletter?",
            "remove me from the group chat",
        ),
        (
            "(text | txt | reply | replied | send | type | typed | write | respond | texting |"
            " replying) [the word] (STOPKW | quit | cancel | UNSUB)",
            "Reply STOP? what does that mean",
        ),
    ),
    # --- English: one group, a waitlist or a meeting -------------------------------------------
    *_rules(
        Kind.GROUP,
        "en",
        ("WEEKDAY", "Stop the Tuesday reminders"),
        ("(wait list | waitlist | waiting list | waitinglist)", "Take me off the waitlist"),
        (
            "!GENERIC ANY (group | groups | meeting | meetings | session | sessions | circle)",
            "Please remove me from the womens group",
        ),
    ),
    # --- English: what narrows a request -------------------------------------------------------
    *_rules(
        Kind.QUALIFIER,
        "en",
        (
            "(so | too | way too) (early | late | often | much | many | frequently)",
            "please don't text me so early",
        ),
        ("(before | after | until | till | til | past) TIMEWORD", "Do not message me after nine"),
        ("at (night | work | this hour | TIMEWORD)",),
        ("in the (morning | mornings | evening | evenings | night | middle of the night)",),
        (
            "(on | during) (weekends | the weekend | weekdays | WEEKDAY | holidays | workdays)",
            "stop texting me on Sundays",
        ),
        (
            "for (now | a while | a bit | a few ANY | a week | a month | the summer | the"
            " holidays | NUMBER ANY)",
            "stop the texts for now",
        ),
        ("(this | next) (week | month | weekend)",),
        ("(today | tonight | every day | every morning | every night)",),
    ),
    # --- English: what backs up a stop word standing alone -------------------------------------
    *_rules(
        Kind.SUPPORT,
        "en",
        ("for the ANY time", "For the third time, STOP"),
        (
            "(i | ive | i have) [already] (said | told you | asked | asked you)",
            "Stop it, I already said no",
        ),
        (
            "(i mean it | im serious | i am serious | seriously | last warning | final warning"
            " | im begging you | i am begging you | begging you)",
            "STOP. I mean it",
        ),
        (
            "(wrong number | not interested | never signed up | not my number | no thank you |"
            " no thanks)",
            "Stop. Wrong number",
        ),
        (
            "(im | i am) (no longer | not) (in | part of | with | attending | going | a member"
            " | interested | coming)",
            "Please stop, I'm no longer in the program",
        ),
        (
            "(i | ive | i have) (left | quit | stopped going | stopped attending | moved)",
            "Stop. I left the group",
        ),
        ("(don't | do not) know (you | who)",),
    ),
    # --- English: a wish for texts to go on ----------------------------------------------------
    *_rules(
        Kind.KEEP,
        "en",
        (
            "keep (sending | texting | them coming | COMM_OBJ | THESE | me on | me in | me posted)",
            "Stop the texts. Actually no, keep them coming",
        ),
        ("(don't | do not) (drop | remove | delete | unsubscribe) me",),
        ("(want | wanna | would like | id like) to stay",),
        # A change of channel, not of mind: "stop calling" beside it is for a person to read.
        (
            "(just | only) (text | texts | message | messages | call | calls)",
            "Don't call me, just text",
        ),
        ("(text | message | call) me instead",),
    ),
    # --- English: stop words, left for a person when nothing else explains them ----------------
    *_rules(
        Kind.TRIGGER,
        "en",
        (
            "(STOPKW | quit | UNSUB | OPTOUT | revoke | revoking | cancel | withdraw |"
            " withdrawing | remove (me | my | us | it | this) | delete (me | my) | take (me |"
            " my) off | get me off | be removed | be taken off)",
            "stop it you're making me laugh",
            "take me off",
            "STOP. Who is this?",
        ),
    ),
    # --- Spanish: requests to stop -------------------------------------------------------------
    *_rules(
        Kind.REVOKE,
        "es",
        (
            "[ya] no (me | nos) CONTACT_SUBJ_ES",
            "No me escriban más",
            "No me llamen ni me escriban",
            "no me molesten",
        ),
        (
            "[ya] no [me | nos] SEND_SUBJ_ES (mas | nada | nunca | COMM_OBJ_ES | BREAK)",
            "No me manden más mensajes",
            "no me envien nada mas",
            "NO MANDEN MAS MENSAJES",
        ),
        (
            "[ya] no (me | nos) (vuelvan | vuelva | vuelvas | sigan | siga | sigas) (a"
            " (CONTACT_INF_ES | SEND_INF_ES) | SENDING_ES)",
            "No me sigan mandando recordatorios",
            "No me vuelvan a escribir",
        ),
        (
            "no (vuelvan | vuelva | vuelvas) a (CONTACT_INF_ES | SEND_INF_ES)",
            "no vuelvan a escribirme",
        ),
        ("STOPIMP_ES de CONTACT_INF_ES", "dejen de escribirme por favor"),
        (
            "STOPIMP_ES de SEND_INF_ES (COMM_OBJ_ES | BREAK | nada | cosas | eso | esto)",
            "Deja de enviarme mensajes",
            "Paren de mandarme mensajes",
            "dejen de mandar",
        ),
        (
            "[ya] no QUIERO_ES [recibir | seguir recibiendo | tener] [mas | nada | nada mas]"
            " COMM_OBJ_ES",
            "No quiero más mensajes",
            "Ya no quiero recibir mensajes",
            "no kiero mas mensajes",
        ),
        (
            "[ya] no QUIERO_ES (recibir | seguir recibiendo) (mas | nada | BREAK)",
            "YA NO QUIERO RECIBIR",
        ),
        (
            "[ya] no QUIERO_ES que me (CONTACT_SUBJ_ES | SEND_SUBJ_ES | sigan SENDING_ES |"
            " lleguen)",
            "No quiero que me contacten",
            "ya no quiero que me lleguen estos mensajes",
        ),
        (
            "[ya] no QUIERO_ES (nada | nada mas) de (ustedes | usted | este numero | su parte)",
            "Ya no quiero nada de ustedes",
        ),
        ("[ya] no QUIERO_ES (estar | seguir) en LIST_ES", "Ya no quiero estar en esta lista"),
        (
            "[ya] no QUIERO_ES ser (contactado | contactada | contactados | molestado | molestada)",
            "No deseo ser contactado",
        ),
        (
            "DESIRE_ES (desuscribirme | desuscribir) [de (COMM_OBJ_ES | LIST_ES)] BREAK",
            "Quiero desuscribirme",
        ),
        (
            "DESIRE_ES REMOVEINF_ES de LIST_ES",
            "Quiero salir de la lista de mensajes",
            "me pueden sacar de la lista",
        ),
        (
            "DESIRE_ES que me (den de baja | saquen | quiten | borren | eliminen |"
            " desuscriban) [de LIST_ES] BREAK",
            "Quiero que me saquen de la lista",
        ),
        (
            "DESIRE_ES (dejar de recibir | no recibir | ya no recibir) [mas] (COMM_OBJ_ES |"
            " estos | esto | BREAK)",
            "Quiero dejar de recibir estos mensajes",
        ),
        ("DESIRE_ES cancelar CANCELOBJ_ES", "Quiero cancelar la suscripción a los mensajes"),
        (
            "BAJA_ES [(de | del) (COMM_OBJ_ES | LIST_ES | servicio | programa | todo | esto)]"
            " BREAK",
            "Quiero darme de baja",
            "me quiero dar de baja de los mensajes",
            "Denme de baja",
        ),
        (
            "WITHDRAW_ES [mi | el | nuestro | todo] CONSENT_ES",
            "Retiro mi consentimiento para recibir mensajes",
            "Cancelen mi suscripción",
        ),
        (
            "[ya] no (autorizo | consiento | doy [mi] (permiso | consentimiento) | acepto"
            " (recibir | COMM_OBJ_ES | que me))",
            "Ya no autorizo que me manden mensajes",
        ),
        (
            "REMOVEIMP_ES [(de | del) (LIST_ES | COMM_OBJ_ES | sus contactos | su base de"
            " datos)] BREAK",
            "Bórrenme de la lista",
            "Sáquenme de la lista",
            "borrenme de su lista porfa",
        ),
        ("REMOVEOBJ_ES MINE_ES", "Borren mi número de su lista", "Eliminen mi número"),
        (
            "(dejenme | dejame | dejeme | dejanos | dejennos) en paz",
            "Déjenme en paz",
            "déjame en paz",
        ),
        (
            "(no mas | basta de | alto a | suficiente de | ya basta de) COMM_OBJ_ES",
            "no mas mensajes",
            "Ya basta de mensajes",
            "Alto a los mensajes por favor",
        ),
        (
            "CANCEL_ES CANCELOBJ_ES",
            "paren los mensajes",
            "Detener mensajes",
            "cancelar los mensajes por favor",
        ),
        (
            "favor de no (CONTACT_INF_ES | SEND_INF_ES)",
            "Favor de no enviar más mensajes a este número",
        ),
    ),
    # --- Spanish: a stop word standing alone ---------------------------------------------------
    *_rules(
        Kind.ALONE,
        "es",
        (
            "^ ~ (paren | pare | parale | parenle | detente | detenganse | detengan | detenga"
            " | deten | cancelen | cancele | basta | alto) ~ $",
            "Paren ya",
            "Detente",
            "Párenle",
        ),
    ),
    # --- Spanish: close to a request, never enough for one -------------------------------------
    *_rules(
        Kind.MAYBE,
        "es",
        ("(demasiados | muchos | muchisimos | tantos) COMM_ES", "Son demasiados mensajes"),
        ("^ ~ [ya] no (quiero | kiero | deseo) ~ $", "Ya no quiero"),
        ("[ya] no QUIERO_ES (nada | nada mas) BREAK", "No quiero nada"),
        (
            "^ ~ (numero equivocado | se equivocaron de numero | equivocado) ~ $",
            "Número equivocado",
        ),
        ("^ ~ (adios | chao | chau) ~ $", "Adiós"),
    ),
    # --- Spanish: stop words doing something else ----------------------------------------------
    *_rules(
        Kind.UNRELATED,
        "es",
        (
            "NEG_ES [puedo | puede | pude | podia | podemos | voy a] TRIGGER_ES",
            "No puedo parar de llorar hoy",
        ),
        (
            "(parar | pare | paramos | paro | paran | paraste) en",
            "Llego tarde, tuve que parar en la farmacia",
        ),
        (
            "(parar | pare | paren | para) de !(CONTACT_INF_ES | SEND_INF_ES) INF_ES",
            "Quiero parar de fumar",
        ),
        (
            "(estoy | estaba | esta | estuve | estar | estamos | estas) de baja",
            "Estoy de baja en el trabajo, así que puedo llegar temprano",
        ),
        (
            "de baja (de | del | en) [DET_ES] [ANY] OTHER_ES",
            "Me voy a dar de baja del gimnasio para poder pagar el camión jaja",
        ),
        (
            "CANCEL_ES [DET_ES] [ANY] (OTHER_ES | MEETING_ES)",
            "Voy a cancelar mi cita del doctor para poder ir",
            "¿Se canceló la reunión?",
        ),
        (
            "(manda | mande | manden | responda | respondan | responde | escriba | escribe |"
            " envie | envia | textea) [la palabra] (STOPKW | parar | alto | baja)",
        ),
    ),
    # --- Spanish: one group, a waitlist or a meeting -------------------------------------------
    *_rules(
        Kind.GROUP,
        "es",
        ("WEEKDAY_ES", "Dejen de mandarme los recordatorios del martes"),
        ("lista de espera", "Sáquenme de la lista de espera"),
        (
            "(grupo | grupos | reunion | reuniones | sesion | sesiones | junta) (del | de los"
            " | de las | de la) ANY",
        ),
    ),
    # --- Spanish: what narrows a request -------------------------------------------------------
    *_rules(
        Kind.QUALIFIER,
        "es",
        (
            "(tan | muy) (temprano | tarde | seguido | noche | de noche | de madrugada)",
            "No me escriban tan temprano",
        ),
        ("(antes | despues) de [las | la] (NUMBER | ANY)",),
        (
            "(en | por | de) la (noche | madrugada | manana | tarde)",
            "No me manden mensajes en la noche",
        ),
        ("(los | en) (fines de semana | fin de semana | domingos | sabados)",),
        (
            "por (ahora | un tiempo | unos dias | unas semanas | esta semana | el momento)",
            "Dejen de escribirme por ahora",
        ),
        ("(esta | la proxima) semana",),
        ("(hoy | todos los dias | a cada rato | tantas veces)",),
    ),
    # --- Spanish: what backs up a stop word standing alone -------------------------------------
    *_rules(
        Kind.SUPPORT,
        "es",
        ("por ANY vez", "Por tercera vez, PARAR"),
        ("ya (les | te | le) (dije | pedi)",),
        ("(ya dije | en serio | lo digo en serio)",),
        (
            "(numero equivocado | no me interesa | nunca me (inscribi | registre | suscribi))",
            "Basta. Número equivocado",
        ),
        ("ya no (estoy | voy | asisto | participo | vivo)", "Paren. Ya no voy al grupo"),
        ("(me sali | deje | me fui) del grupo",),
    ),
    # --- Spanish: a wish for texts to go on ----------------------------------------------------
    *_rules(
        Kind.KEEP,
        "es",
        (
            "sigan (mandando | enviando | escribiendo | llamando)",
            "Dejen de escribirme. No, mejor sigan mandando",
        ),
        ("(quiero | deseo) seguir (recibiendo | en)",),
        (
            "(mejor | solo | sólo) (mándenme | manden | envíenme | llámenme | mensajes | llamadas)",
            "No me llamen, mejor mándenme mensaje",
        ),
    ),
    # --- Spanish: stop words, left for a person when nothing else explains them ----------------
    *_rules(
        Kind.TRIGGER,
        "es",
        ("TRIGGER_ES", "Quiero cancelar", "Ya paren con eso"),
    ),
    # --- A clause that asks something ----------------------------------------------------------
    *_rules(
        Kind.QUESTION,
        "en",
        (
            "^ ~ (who | whos | what | whats | when | where | wheres | why | how | is | are |"
            " do | does | did | can | could | will | would | should)",
        ),
    ),
    *_rules(
        Kind.QUESTION,
        "es",
        ("^ ~ (quien | que | cuando | donde | como | por que | cual | hay)", "ALTO. ¿Quién es?"),
    ),
)


# --- Compiling the patterns --------------------------------------------------------------

_TOKEN = re.compile(r"[\[\]()|*+?!^$~]|[^\s\[\]()|*+?!^$~]+")


def _is_class(piece: str) -> bool:
    return len(piece) > 1 and piece[0].isalpha() and piece == piece.upper()


class _Compiler:
    """Turns the notation of the module docstring into regular expressions over words.

    A message is matched as its clauses, one a line, each its words followed by a space;
    every piece of a pattern therefore consumes whole words and their space, and ^ and $
    are the ends of a line.
    """

    def __init__(self) -> None:
        fillers = sorted((" ".join(unit) + " " for unit in units(FILLER_WORDS)), key=len)
        self.compiled = dict(RAW_CLASSES)
        self.compiled["FILLER"] = "(?:" + "|".join(re.escape(f) for f in reversed(fillers)) + ")"
        self.compiled["~"] = "(?:" + self.compiled["FILLER"] + ")*"
        self.compiled["BREAK"] = "(?=$|" + self.pattern("FILLER | BREAK_WORD") + ")"

    def pattern(self, text: str) -> str:
        pieces = _TOKEN.findall(text)
        regex, end = self._choice(pieces, 0)
        if end != len(pieces):
            raise ValueError(f"unbalanced pattern: {text!r}")
        return regex

    def _choice(self, pieces: list[str], i: int) -> tuple[str, int]:
        options = []
        while True:
            regex, i = self._sequence(pieces, i)
            options.append(regex)
            if i < len(pieces) and pieces[i] == "|":
                i += 1
                continue
            if len(options) == 1:
                return options[0], i
            # Longer alternatives first, so "this phone number" is tried before "this phone".
            options.sort(key=len, reverse=True)
            return "(?:" + "|".join(options) + ")", i

    def _sequence(self, pieces: list[str], i: int) -> tuple[str, int]:
        parts = []
        while i < len(pieces) and pieces[i] not in ("|", ")", "]"):
            negative = pieces[i] == "!"
            if negative:
                i += 1
            atom, i = self._atom(pieces, i)
            if i < len(pieces) and pieces[i] in ("*", "+", "?"):
                atom = f"(?:{atom}){pieces[i]}"
                i += 1
            parts.append(f"(?!{atom})" if negative else atom)
        return "".join(parts), i

    def _atom(self, pieces: list[str], i: int) -> tuple[str, int]:
        piece = pieces[i]
        if piece in ("(", "["):
            inner, i = self._choice(pieces, i + 1)
            closing = ")" if piece == "(" else "]"
            if i >= len(pieces) or pieces[i] != closing:
                raise ValueError(f"expected {closing!r}")
            return (f"(?:{inner})" if piece == "(" else f"(?:{inner})?"), i + 1
        if piece in ("^", "$"):
            return piece, i + 1
        if piece == "~" or _is_class(piece):
            return self._class(piece), i + 1
        words = words_of(piece)
        if not words:
            raise ValueError(f"a word of a pattern folds to nothing: {piece!r}")
        return "".join(re.escape(word) + " " for word in words), i + 1

    def _class(self, name: str) -> str:
        if name not in self.compiled:
            self.compiled[name] = "(?:" + self.pattern(CLASSES[name]) + ")"
        return self.compiled[name]


class _Compiled(NamedTuple):
    rule: Rule
    regex: re.Pattern[str]


@functools.cache
def _compiled() -> tuple[tuple[_Compiled, ...], re.Pattern[str]]:
    """Return every rule compiled, and the pattern of what may open a command."""
    compiler = _Compiler()
    rules = tuple(
        # Each match is found at every word where it starts: a lookahead at word starts.
        _Compiled(
            rule,
            re.compile(r"(?<![^ \n])(?=(" + compiler.pattern(rule.pattern) + "))", re.MULTILINE),
        )
        for rule in RULES
    )
    return rules, re.compile(compiler.pattern("(FILLER | OPENER)*"))


_NEGATIONS = {"en": units(NEGATION_WORDS_EN), "es": units(NEGATION_WORDS_ES)}
_FILLERS = units(FILLER_WORDS)
# Words allowed between a negation and what it negates.
_NEGATION_SKIP = _FILLERS | units(("EVER", "REALLY", "EVEN"))
_NEGATION_BRIDGES = {
    "en": units(("WANT YOU TO", "WANT U TO", "WANT YA TO", "WANT TO", "YOU DARE")),
    "es": units(("QUIERO QUE", "QUEREMOS QUE", "QUIERO", "QUEREMOS")),
}
_OTHERS_SKIP = _NEGATION_SKIP | units(("TO", "JUST", "ALSO"))
_OTHERS = units(CLASSES["OTHERS"].split(" | "))
_SOFT_BREAKS = frozenset(w for unit in units(SOFT_BREAKS) for w in unit)


# --- Reading a clause --------------------------------------------------------------------


class _Found(NamedTuple):
    """One rule matched in a clause, over words [start, end)."""

    rule: Rule
    start: int
    end: int


def _find(clauses: list[Words]) -> list[list[_Found]]:
    """Match every rule once over the whole message; return what was found in each clause."""
    lines = ["".join(word + " " for word in words) for words in clauses]
    text = "\n".join(lines)
    # Where each line starts in the text, to turn a match's offset into clause and word.
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found: list[list[_Found]] = [[] for _ in clauses]
    for compiled in _compiled()[0]:
        for match in compiled.regex.finditer(text):
            span = match.group(1)
            if not span:
                continue
            number = bisect.bisect_right(starts, match.start()) - 1
            start = text.count(" ", starts[number], match.start())
            found[number].append(_Found(compiled.rule, start, start + span.count(" ")))
    return found


def _ends_with(words: Words, end: int, unit: Words) -> bool:
    return end >= len(unit) and words[end - len(unit) : end] == unit


def _skip_back(words: Words, k: int, skip: frozenset[Words]) -> int:
    """Walk back from the word before index ``k`` over any run of ``skip``; return the new k."""
    moved = True
    while moved and k > 0:
        moved = False
        for unit in skip:
            if _ends_with(words, k, unit):
                k -= len(unit)
                moved = True
                break
    return k


def _first_word(words: Words, found: _Found) -> int:
    k = found.start
    while k < found.end and (words[k],) in _FILLERS:
        k += 1
    return k


def _negated(words: Words, found: _Found) -> bool:
    """Say whether the words just before the match negate it (the negation guard)."""
    start = _first_word(words, found)
    negations = _NEGATIONS[found.rule.language]
    if start < found.end and (words[start],) in negations:
        return False  # "no me escriban" is negated already; another "no" only insists
    k = _skip_back(words, start, _NEGATION_SKIP)
    for bridge in _NEGATION_BRIDGES[found.rule.language]:
        if _ends_with(words, k, bridge):
            k = _skip_back(words, k - len(bridge), _NEGATION_SKIP)
            break
    return k > 0 and (words[k - 1],) in negations


def _about_others(words: Words, found: _Found) -> bool:
    """Say whether (in English) the request is said of a third person."""
    if found.rule.language != "en":
        return False
    k = _skip_back(words, _first_word(words, found), _OTHERS_SKIP)
    return any(_ends_with(words, k, unit) for unit in _OTHERS)


def _opens(words: Words, found: _Found) -> bool:
    """Say whether the match opens its clause (or the part after and / but / so)."""
    begins = max((i + 1 for i in range(found.start) if words[i] in _SOFT_BREAKS), default=0)
    before = "".join(word + " " for word in words[begins : found.start])
    return _compiled()[1].fullmatch(before) is not None


def _part(words: Words, index: int) -> int:
    """Number the parts of a clause cut at and / but / so / y / pero / porque."""
    return sum(1 for word in words[:index] if word in _SOFT_BREAKS)


class _Clause(NamedTuple):
    """What one clause says."""

    verdict: Verdict
    language: str | None
    found: list[_Found]

    def has(self, kind: Kind) -> bool:
        return any(f.rule.kind is kind for f in self.found)

    def keeps(self) -> bool:
        """Say whether the clause asks for texts to go on, outside any request to stop."""
        stops = [f for f in self.found if f.rule.kind is Kind.REVOKE]
        return any(
            f.rule.kind is Kind.KEEP and not any(s.start < f.end and f.start < s.end for s in stops)
            for f in self.found
        )


def _names_a_group(words: Words, found: _Found, groups: list[_Found]) -> bool:
    """Say whether a group, waitlist or meeting is named beside the match, in its part."""
    part = _part(words, found.start)
    return any(
        found.start - 3 <= g.start <= found.end + 4 and _part(words, g.start) == part
        for g in groups
    )


def _read_clause(words: Words, found: list[_Found]) -> _Clause:
    groups = [f for f in found if f.rule.kind is Kind.GROUP]
    qualified = any(f.rule.kind is Kind.QUALIFIER for f in found)
    revoked: str | None = None
    maybe: str | None = None
    set_aside: str | None = None
    explained: list[_Found] = []
    for f in found:
        if f.rule.kind is Kind.REVOKE:
            explained.append(f)
            if (
                _negated(words, f)
                or _about_others(words, f)
                or (f.rule.command and not _opens(words, f))
            ):
                set_aside = set_aside or f.rule.language
            elif qualified:
                maybe = maybe or f.rule.language
            elif _names_a_group(words, f, groups):
                set_aside = set_aside or f.rule.language
            else:
                revoked = revoked or f.rule.language
        elif f.rule.kind is Kind.MAYBE:
            explained.append(f)
            maybe = maybe or f.rule.language
        elif f.rule.kind in (Kind.UNRELATED, Kind.ALONE):
            explained.append(f)
    for f in found:
        if f.rule.kind is not Kind.TRIGGER:
            continue
        if _names_a_group(words, f, groups) or _about_others(words, f):
            set_aside = set_aside or f.rule.language
        elif not any(e.start < f.end and f.start < e.end for e in explained):
            maybe = maybe or f.rule.language
    if revoked:
        return _Clause(Verdict.REVOKED, revoked, found)
    if maybe:
        return _Clause(Verdict.MAYBE, maybe, found)
    if set_aside:
        return _Clause(Verdict.SET_ASIDE, set_aside, found)
    return _Clause(Verdict.NONE, None, found)


# --- Reading a message -------------------------------------------------------------------


def read_revocation(words: Words, clauses: tuple[int, ...], alone: Mapping[int, str]) -> Revocation:
    """Read the message by the grammar of the module docstring.

    ``alone`` maps each clause made only of opt-out keywords and filler to its language.
    """
    by_number: dict[int, list[str]] = {}
    for word, number in zip(words, clauses, strict=True):
        by_number.setdefault(number, []).append(word)
    texts = [tuple(w) for w in by_number.values()]
    read = dict(zip(by_number, map(_read_clause, texts, _find(texts)), strict=True))
    keep = any(c.keeps() for c in read.values())

    for clause in read.values():
        if clause.verdict is Verdict.REVOKED:
            return Revocation(Verdict.MAYBE if keep else Verdict.REVOKED, clause.language)

    standing = dict(alone)
    for number, clause in read.items():
        for found in clause.found:
            if found.rule.kind is Kind.ALONE:
                standing.setdefault(number, found.rule.language)
    if standing:
        others = [c for number, c in read.items() if number not in standing]
        backed = all(c.has(Kind.SUPPORT) and not c.has(Kind.QUESTION) for c in others)
        verdict = Verdict.REVOKED if backed and not keep else Verdict.MAYBE
        return Revocation(verdict, standing[min(standing)])

    for verdict in (Verdict.MAYBE, Verdict.SET_ASIDE):
        for clause in read.values():
            if clause.verdict is verdict:
                return Revocation(verdict, clause.language)
    return Revocation(Verdict.NONE)
