"""Every text the consent and PIN dialogs show, in French, Dutch and English.

One table, one function: ``text(key, language, **values)``. Placeholders (``{origin}``,
``{n}``...) are filled with ``str.format``; the values themselves are never formatted again,
so an origin or a page's label holding braces is shown as it is. Unknown languages fall
back to English; an unknown key is a programming error (``KeyError``).

The operation sentences (``ask.*``) follow the site's origin, which the dialogs show on its
own line, large: "The site / https://portal.example / asks to log you in with your eID
card."
"""

from __future__ import annotations

from typing import Final

from bridge.ui.base import Operation

LANGUAGES: Final = ("en", "fr", "nl")
DEFAULT_LANGUAGE: Final = "en"

TEXTS: Final[dict[str, dict[str, str]]] = {
    # --- window titles -------------------------------------------------------------------
    "app": {
        "en": "eID bridge",
        "fr": "Pont eID",
        "nl": "eID-brug",
    },
    "title.authenticate": {
        "en": "Log in with your eID card",
        "fr": "Connexion avec votre carte eID",
        "nl": "Aanmelden met uw eID-kaart",
    },
    "title.sign": {
        "en": "Sign with your eID card",
        "fr": "Signer avec votre carte eID",
        "nl": "Ondertekenen met uw eID-kaart",
    },
    "title.identity": {
        "en": "Share your identity data",
        "fr": "Partager vos données d'identité",
        "nl": "Uw identiteitsgegevens delen",
    },
    "title.certificate": {
        "en": "Share your signature certificate",
        "fr": "Partager votre certificat de signature",
        "nl": "Uw handtekeningcertificaat delen",
    },
    "title.approve": {
        "en": "Allow a site to use your eID card",
        "fr": "Autoriser un site à utiliser votre carte eID",
        "nl": "Een site toestaan uw eID-kaart te gebruiken",
    },
    # --- the request ---------------------------------------------------------------------
    "site": {
        "en": "The site",
        "fr": "Le site",
        "nl": "De site",
    },
    "ask.authenticate": {
        "en": "asks to log you in with your eID card.",
        "fr": "demande à vous identifier avec votre carte eID.",
        "nl": "vraagt om u aan te melden met uw eID-kaart.",
    },
    "ask.sign": {
        "en": "asks you to sign with your eID card.",
        "fr": "vous demande de signer avec votre carte eID.",
        "nl": "vraagt u te ondertekenen met uw eID-kaart.",
    },
    "ask.identity": {
        "en": "asks to read your identity, address and photo from your eID card.",
        "fr": "demande à lire votre identité, votre adresse et votre photo sur votre carte eID.",
        "nl": "vraagt om uw identiteit, adres en foto van uw eID-kaart te lezen.",
    },
    "ask.certificate": {
        "en": "asks for your signature certificate (it shows your name and national register "
        "number).",
        "fr": "demande votre certificat de signature (il contient votre nom et votre numéro de "
        "registre national).",
        "nl": "vraagt uw handtekeningcertificaat (het bevat uw naam en uw rijksregisternummer).",
    },
    "sign.legal": {
        "en": "This signature has the same legal value as your handwritten signature.",
        "fr": "Cette signature a la même valeur juridique que votre signature manuscrite.",
        "nl": "Deze handtekening heeft dezelfde juridische waarde als uw handgeschreven "
        "handtekening.",
    },
    "label": {
        "en": "What you sign:",
        "fr": "Ce que vous signez :",
        "nl": "Wat u ondertekent:",
    },
    "digest": {
        "en": "Fingerprint of the document:",
        "fr": "Empreinte du document :",
        "nl": "Vingerafdruk van het document:",
    },
    "holder": {
        "en": "Card holder: {holder}",
        "fr": "Titulaire de la carte : {holder}",
        "nl": "Kaarthouder: {holder}",
    },
    "approve.question": {
        "en": "Allow {origin} to use your eID card through the eID bridge?",
        "fr": "Autoriser {origin} à utiliser votre carte eID via le pont eID ?",
        "nl": "{origin} toestaan uw eID-kaart via de eID-brug te gebruiken?",
    },
    "approve.revoke": {
        "en": "You can revoke this later in the bridge's settings.",
        "fr": "Vous pourrez retirer cette autorisation plus tard dans les paramètres du pont.",
        "nl": "U kunt dit later intrekken in de instellingen van de brug.",
    },
    # --- the PIN -------------------------------------------------------------------------
    "pin.prompt": {
        "en": "PIN code:",
        "fr": "Code PIN :",
        "nl": "Pincode:",
    },
    "pin.hint": {
        "en": "Your PIN has 4 to 12 digits.",
        "fr": "Votre code PIN compte de 4 à 12 chiffres.",
        "nl": "Uw pincode heeft 4 tot 12 cijfers.",
    },
    "pin.tries_left": {
        "en": "Tries left: {n}",
        "fr": "Essais restants : {n}",
        "nl": "Resterende pogingen: {n}",
    },
    "pin.last_try": {
        "en": "Last try: a wrong PIN now blocks your card.",
        "fr": "Dernier essai : un code PIN erroné bloque maintenant votre carte.",
        "nl": "Laatste poging: een verkeerde pincode blokkeert nu uw kaart.",
    },
    "pin.pinpad": {
        "en": "Enter your PIN on the reader's keypad.",
        "fr": "Tapez votre code PIN sur le clavier du lecteur.",
        "nl": "Typ uw pincode op het toetsenbord van de lezer.",
    },
    # --- buttons -------------------------------------------------------------------------
    "button.ok": {
        "en": "OK",
        "fr": "OK",
        "nl": "OK",
    },
    "button.cancel": {
        "en": "Cancel",
        "fr": "Annuler",
        "nl": "Annuleren",
    },
    "button.allow": {
        "en": "Allow",
        "fr": "Autoriser",
        "nl": "Toestaan",
    },
    "button.deny": {
        "en": "Deny",
        "fr": "Refuser",
        "nl": "Weigeren",
    },
    # --- console -------------------------------------------------------------------------
    "console.yes_no": {
        "en": "[y/N]",
        "fr": "[o/N]",
        "nl": "[j/N]",
    },
    "console.yes_words": {
        "en": "y yes",
        "fr": "o oui",
        "nl": "j ja",
    },
    "console.cancelled": {
        "en": "(the request was cancelled)",
        "fr": "(la demande a été annulée)",
        "nl": "(het verzoek werd geannuleerd)",
    },
    "console.empty_cancels": {
        "en": "An empty line cancels.",
        "fr": "Une ligne vide annule.",
        "nl": "Een lege regel annuleert.",
    },
}

_OPERATION_KEYS: Final = {
    Operation.AUTHENTICATE: "authenticate",
    Operation.SIGN: "sign",
    Operation.IDENTITY: "identity",
    Operation.CERTIFICATE: "certificate",
}


def language_of(language: str | None) -> str:
    """``language`` when the dialogs speak it, else English (``"fr-BE"`` gives ``"fr"``)."""
    short = (language or "")[:2].lower()
    return short if short in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, language: str | None, **values: object) -> str:
    """The text ``key`` in ``language`` with its placeholders filled from ``values``."""
    template = TEXTS[key][language_of(language)]
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError):  # a missing value shows the template rather than crash
        return template


def operation_text(prefix: str, operation: Operation, language: str | None) -> str:
    """``title.*`` or ``ask.*`` for ``operation``."""
    return text(f"{prefix}.{_OPERATION_KEYS[operation]}", language)


def yes_words(language: str | None) -> frozenset[str]:
    """Answers that mean yes at the console: the language's own words and English ones."""
    words = text("console.yes_words", language).split()
    return frozenset(words + text("console.yes_words", "en").split())
