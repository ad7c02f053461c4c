"""The one table from internal errors to stable codes and user messages.

Every error a user can meet is here with a French, Dutch and English text that says what to
do next. The API (``bridge.service``) answers with ``code``; the CLI and dialogs show the text
in the user's language. Placeholders are filled from the exception's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bridge.card import errors as card

Language = Literal["en", "fr", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "fr", "nl")


@dataclass(frozen=True)
class UserMessage:
    code: str
    en: str
    fr: str
    nl: str

    def text(self, language: str, **values: object) -> str:
        template: str = getattr(self, language if language in LANGUAGES else "en")
        try:
            return template.format(**values)
        except (KeyError, IndexError):
            return template


_PUK = {
    "en": "Your municipality can unblock it with the PUK code from the letter you received "
    "with the card.",
    "fr": "Votre commune peut le débloquer avec le code PUK de la lettre reçue avec la carte.",
    "nl": "Uw gemeente kan hem deblokkeren met de PUK-code uit de brief die u bij de kaart kreeg.",
}

MESSAGES: dict[type[BaseException], UserMessage] = {
    card.PcscUnavailable: UserMessage(
        "PCSC_UNAVAILABLE",
        en="The smart-card service of your computer is not running. Start it (on Linux: "
        "'sudo systemctl start pcscd'), or restart the computer, then try again.",
        fr="Le service carte à puce de votre ordinateur ne fonctionne pas. Démarrez-le (sous "
        "Linux : « sudo systemctl start pcscd ») ou redémarrez l'ordinateur, puis réessayez.",
        nl="De smartcarddienst van uw computer draait niet. Start hem (op Linux: 'sudo "
        "systemctl start pcscd') of herstart de computer en probeer opnieuw.",
    ),
    card.ReaderNotFound: UserMessage(
        "READER_GONE",
        en="The card reader was disconnected. Plug it in again (directly into the computer, "
        "not through a USB hub) and try again.",
        fr="Le lecteur de carte a été déconnecté. Rebranchez-le (directement sur l'ordinateur, "
        "pas via un hub USB) et réessayez.",
        nl="De kaartlezer werd losgekoppeld. Sluit hem opnieuw aan (rechtstreeks op de "
        "computer, niet via een USB-hub) en probeer opnieuw.",
    ),
    card.NoReader: UserMessage(
        "NO_READER",
        en="No card reader found. Connect your eID reader and check that its driver is "
        "installed, then try again.",
        fr="Aucun lecteur de carte trouvé. Branchez votre lecteur eID et vérifiez que son "
        "pilote est installé, puis réessayez.",
        nl="Geen kaartlezer gevonden. Sluit uw eID-lezer aan en controleer of het "
        "stuurprogramma geïnstalleerd is, en probeer opnieuw.",
    ),
    card.NoCard: UserMessage(
        "NO_CARD",
        en="No card in the reader. Insert your eID card, chip first and facing up.",
        fr="Aucune carte dans le lecteur. Insérez votre carte eID, puce en avant et vers le haut.",
        nl="Geen kaart in de lezer. Steek uw eID-kaart in de lezer, met de chip eerst en naar "
        "boven.",
    ),
    card.CardRemoved: UserMessage(
        "CARD_REMOVED",
        en="The card was removed. Put it back in the reader and try again; nothing was signed.",
        fr="La carte a été retirée. Remettez-la dans le lecteur et réessayez ; rien n'a été signé.",
        nl="De kaart werd verwijderd. Steek ze terug in de lezer en probeer opnieuw; er werd "
        "niets ondertekend.",
    ),
    card.CardReset: UserMessage(
        "CARD_RESET",
        en="Another program reset the card. Try again.",
        fr="Un autre programme a réinitialisé la carte. Réessayez.",
        nl="Een ander programma heeft de kaart gereset. Probeer opnieuw.",
    ),
    card.CardMute: UserMessage(
        "CARD_MUTE",
        en="The card does not answer. Take it out, clean the chip gently and insert it again. "
        "If it still fails, the chip may be damaged: ask your municipality for a new card.",
        fr="La carte ne répond pas. Retirez-la, nettoyez doucement la puce et réinsérez-la. Si "
        "cela échoue encore, la puce est peut-être endommagée : demandez une nouvelle carte à "
        "votre commune.",
        nl="De kaart antwoordt niet. Haal ze uit de lezer, maak de chip voorzichtig schoon en "
        "steek ze opnieuw in. Lukt het nog niet, dan is de chip misschien beschadigd: vraag "
        "uw gemeente om een nieuwe kaart.",
    ),
    card.SharingViolation: UserMessage(
        "CARD_BUSY",
        en="Another program is using the card. Close it (or wait for it to finish) and try again.",
        fr="Un autre programme utilise la carte. Fermez-le (ou attendez qu'il ait fini) et "
        "réessayez.",
        nl="Een ander programma gebruikt de kaart. Sluit het (of wacht tot het klaar is) en "
        "probeer opnieuw.",
    ),
    card.UnsupportedCard: UserMessage(
        "UNSUPPORTED_CARD",
        en="The card in the reader is not a Belgian eID card. Insert your Belgian identity card.",
        fr="La carte dans le lecteur n'est pas une carte eID belge. Insérez votre carte "
        "d'identité belge.",
        nl="De kaart in de lezer is geen Belgische eID-kaart. Steek uw Belgische "
        "identiteitskaart in.",
    ),
    card.PinIncorrect: UserMessage(
        "PIN_INCORRECT",
        en="Wrong PIN. {tries_left} attempt(s) left before the card is blocked.",
        fr="Code PIN erroné. Encore {tries_left} essai(s) avant le blocage de la carte.",
        nl="Verkeerde pincode. Nog {tries_left} poging(en) voor de kaart geblokkeerd wordt.",
    ),
    card.PinIncorrectTriesUnknown: UserMessage(
        "PIN_INCORRECT",
        en="Wrong PIN. Careful: after three wrong attempts in a row the card is blocked.",
        fr="Code PIN erroné. Attention : après trois essais erronés d'affilée, la carte est "
        "bloquée.",
        nl="Verkeerde pincode. Let op: na drie foute pogingen na elkaar wordt de kaart "
        "geblokkeerd.",
    ),
    card.PinBlocked: UserMessage(
        "PIN_BLOCKED",
        en="The PIN is blocked after three wrong attempts. " + _PUK["en"],
        fr="Le code PIN est bloqué après trois essais erronés. " + _PUK["fr"],
        nl="De pincode is geblokkeerd na drie foute pogingen. " + _PUK["nl"],
    ),
    card.PinFormatError: UserMessage(
        "PIN_FORMAT",
        en="A PIN has 4 to 12 digits. Type it again; nothing was sent to the card.",
        fr="Un code PIN compte de 4 à 12 chiffres. Retapez-le ; rien n'a été envoyé à la carte.",
        nl="Een pincode heeft 4 tot 12 cijfers. Typ hem opnieuw; er werd niets naar de kaart "
        "gestuurd.",
    ),
    card.PinCancelled: UserMessage(
        "PIN_CANCELLED",
        en="PIN entry was cancelled. Nothing was signed.",
        fr="La saisie du code PIN a été annulée. Rien n'a été signé.",
        nl="Het invoeren van de pincode werd geannuleerd. Er werd niets ondertekend.",
    ),
    card.PinTimeout: UserMessage(
        "PIN_TIMEOUT",
        en="No PIN was typed on the reader in time. Try again and type it within 30 seconds.",
        fr="Aucun code PIN n'a été tapé sur le lecteur à temps. Réessayez et tapez-le dans les "
        "30 secondes.",
        nl="Er werd niet op tijd een pincode op de lezer ingetypt. Probeer opnieuw en typ hem "
        "binnen 30 seconden.",
    ),
    card.PinsDiffer: UserMessage(
        "PINS_DIFFER",
        en="The new PIN and its confirmation differ. Try again; the PIN was not changed.",
        fr="Le nouveau code PIN et sa confirmation diffèrent. Réessayez ; le code n'a pas été "
        "modifié.",
        nl="De nieuwe pincode en de bevestiging verschillen. Probeer opnieuw; de pincode werd "
        "niet gewijzigd.",
    ),
    card.PinRequired: UserMessage(
        "PIN_REQUIRED",
        en="The card needs your PIN for this operation.",
        fr="La carte demande votre code PIN pour cette opération.",
        nl="De kaart vraagt uw pincode voor deze handeling.",
    ),
    card.IntegrityError: UserMessage(
        "CARD_DATA_NOT_AUTHENTIC",
        en="The data on the card does not match the National Register's signature. Do not use "
        "this card; contact your municipality.",
        fr="Les données de la carte ne correspondent pas à la signature du Registre national. "
        "N'utilisez pas cette carte ; contactez votre commune.",
        nl="De gegevens op de kaart komen niet overeen met de handtekening van het "
        "Rijksregister. Gebruik deze kaart niet; neem contact op met uw gemeente.",
    ),
    card.CardDataError: UserMessage(
        "CARD_DATA_UNREADABLE",
        en="The card's data could not be read correctly. Take the card out, insert it again "
        "and retry; if it keeps failing, contact the helpdesk with a diagnostics report.",
        fr="Les données de la carte n'ont pas pu être lues correctement. Retirez la carte, "
        "réinsérez-la et réessayez ; si cela persiste, contactez le helpdesk avec un rapport "
        "de diagnostic.",
        nl="De gegevens van de kaart konden niet correct gelezen worden. Haal de kaart uit de "
        "lezer, steek ze opnieuw in en probeer opnieuw; blijft het mislukken, neem dan contact "
        "op met de helpdesk met een diagnoserapport.",
    ),
    card.CardError: UserMessage(
        "CARD_ERROR",
        en="The card reported an error. Take the card out, insert it again and retry; if it "
        "keeps failing, run the diagnostics and contact the helpdesk.",
        fr="La carte a signalé une erreur. Retirez la carte, réinsérez-la et réessayez ; si "
        "cela persiste, lancez le diagnostic et contactez le helpdesk.",
        nl="De kaart meldde een fout. Haal de kaart uit de lezer, steek ze opnieuw in en "
        "probeer opnieuw; blijft het mislukken, voer dan de diagnose uit en neem contact op "
        "met de helpdesk.",
    ),
}

UNEXPECTED = UserMessage(
    "INTERNAL_ERROR",
    en="Something went wrong in the eID bridge. Try again; if it keeps failing, run the "
    "diagnostics and contact the helpdesk.",
    fr="Un problème est survenu dans le pont eID. Réessayez ; si cela persiste, lancez le "
    "diagnostic et contactez le helpdesk.",
    nl="Er ging iets mis in de eID-brug. Probeer opnieuw; blijft het mislukken, voer dan de "
    "diagnose uit en neem contact op met de helpdesk.",
)


def message_for(error: BaseException) -> UserMessage:
    """The entry of the most specific class of ``error`` in the table."""
    for cls in type(error).__mro__:
        if cls in MESSAGES:
            return MESSAGES[cls]
    return UNEXPECTED


def explain(error: BaseException, language: str = "en") -> str:
    return message_for(error).text(language, **vars(error))
