"""The one table from internal errors to stable codes and user messages.

Every error a user can meet is here with a French, Dutch and English text that says what to
do next. The API (``bridge.service``) answers with ``code``; the CLI and dialogs show the text
in the user's language. Placeholders are filled from the exception's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bridge.card import errors as card
from bridge.service import errors as api
from bridge.tokens import errors as tokens

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
    # --- the localhost API (bridge.service.errors) --------------------------------------
    api.HostRejected: UserMessage(
        "HOST_REJECTED",
        en="This request did not come through a local address of the eID bridge and was "
        "refused. Open the site again from its usual address.",
        fr="Cette requête n'est pas passée par une adresse locale du pont eID et a été "
        "refusée. Rouvrez le site depuis son adresse habituelle.",
        nl="Dit verzoek kwam niet via een lokaal adres van de eID-brug en werd geweigerd. "
        "Open de site opnieuw via haar gewone adres.",
    ),
    api.OriginNotAllowed: UserMessage(
        "ORIGIN_NOT_ALLOWED",
        en="The site {origin} may not use your eID card. If you trust it, allow it when the "
        "eID bridge asks, or add it in the bridge's settings.",
        fr="Le site {origin} ne peut pas utiliser votre carte eID. Si vous lui faites "
        "confiance, autorisez-le quand le pont eID le demande, ou ajoutez-le dans les "
        "paramètres du pont.",
        nl="De site {origin} mag uw eID-kaart niet gebruiken. Vertrouwt u ze, sta ze dan toe "
        "wanneer de eID-brug het vraagt, of voeg ze toe in de instellingen van de brug.",
    ),
    api.OriginRequired: UserMessage(
        "ORIGIN_REQUIRED",
        en="Only a web page with a known address can use the eID card. Open the site in your "
        "browser and try again from there.",
        fr="Seule une page web dont l'adresse est connue peut utiliser la carte eID. Ouvrez "
        "le site dans votre navigateur et réessayez depuis celui-ci.",
        nl="Alleen een webpagina met een gekend adres kan de eID-kaart gebruiken. Open de "
        "site in uw browser en probeer het daar opnieuw.",
    ),
    api.UserDenied: UserMessage(
        "USER_DENIED",
        en="You refused the request in the eID bridge window. Nothing was read or signed; "
        "start again if that was a mistake.",
        fr="Vous avez refusé la demande dans la fenêtre du pont eID. Rien n'a été lu ni "
        "signé ; recommencez s'il s'agissait d'une erreur.",
        nl="U weigerde het verzoek in het venster van de eID-brug. Er werd niets gelezen of "
        "ondertekend; begin opnieuw als dat een vergissing was.",
    ),
    api.UserUnavailable: UserMessage(
        "USER_UNAVAILABLE",
        en="The eID bridge cannot show its window to ask for your consent. Start the bridge "
        "from your desktop session (not as a background service) and try again.",
        fr="Le pont eID ne peut pas afficher sa fenêtre pour demander votre accord. Lancez le "
        "pont depuis votre session de bureau (pas comme service d'arrière-plan) et réessayez.",
        nl="De eID-brug kan haar venster niet tonen om uw toestemming te vragen. Start de brug "
        "vanuit uw bureaubladsessie (niet als achtergronddienst) en probeer opnieuw.",
    ),
    api.BodyTooLarge: UserMessage(
        "BODY_TOO_LARGE",
        en="The request is too large ({limit} bytes at most). Send the document's hash, not "
        "the document itself.",
        fr="La requête est trop volumineuse ({limit} octets au maximum). Envoyez l'empreinte "
        "du document, pas le document lui-même.",
        nl="Het verzoek is te groot (hoogstens {limit} bytes). Stuur de hash van het "
        "document, niet het document zelf.",
    ),
    api.BodyTimeout: UserMessage(
        "BODY_TIMEOUT",
        en="The request arrived too slowly and was dropped. Check your connection and try again.",
        fr="La requête est arrivée trop lentement et a été abandonnée. Vérifiez votre "
        "connexion et réessayez.",
        nl="Het verzoek kwam te traag binnen en werd stopgezet. Controleer uw verbinding en "
        "probeer opnieuw.",
    ),
    api.RateLimited: UserMessage(
        "RATE_LIMITED",
        en="Too many requests from this site. Wait {retry_after} second(s) and try again.",
        fr="Trop de requêtes de ce site. Attendez {retry_after} seconde(s) et réessayez.",
        nl="Te veel verzoeken van deze site. Wacht {retry_after} seconde(n) en probeer opnieuw.",
    ),
    api.BadRequest: UserMessage(
        "BAD_REQUEST",
        en="The site sent a request the eID bridge does not understand ({detail}). Reload "
        "the page; if it persists, tell the site's helpdesk.",
        fr="Le site a envoyé une requête que le pont eID ne comprend pas ({detail}). "
        "Rechargez la page ; si cela persiste, prévenez le helpdesk du site.",
        nl="De site stuurde een verzoek dat de eID-brug niet begrijpt ({detail}). Herlaad de "
        "pagina; blijft het, meld het dan aan de helpdesk van de site.",
    ),
    api.UnsupportedMediaType: UserMessage(
        "UNSUPPORTED_MEDIA_TYPE",
        en="The site sent its request in a format the eID bridge refuses (JSON is required). "
        "Tell the site's helpdesk.",
        fr="Le site a envoyé sa requête dans un format que le pont eID refuse (JSON requis). "
        "Prévenez le helpdesk du site.",
        nl="De site stuurde haar verzoek in een formaat dat de eID-brug weigert (JSON is "
        "vereist). Meld het aan de helpdesk van de site.",
    ),
    api.NotFound: UserMessage(
        "NOT_FOUND",
        en="The eID bridge has no such function. Update the bridge, or tell the site's helpdesk.",
        fr="Le pont eID n'a pas cette fonction. Mettez le pont à jour ou prévenez le helpdesk "
        "du site.",
        nl="De eID-brug heeft deze functie niet. Werk de brug bij of meld het aan de helpdesk "
        "van de site.",
    ),
    api.MethodNotAllowed: UserMessage(
        "METHOD_NOT_ALLOWED",
        en="The site called the eID bridge the wrong way. Tell the site's helpdesk.",
        fr="Le site a appelé le pont eID de la mauvaise manière. Prévenez le helpdesk du site.",
        nl="De site riep de eID-brug verkeerd aan. Meld het aan de helpdesk van de site.",
    ),
    api.Busy: UserMessage(
        "BUSY",
        en="The eID bridge is busy with other requests. Finish or cancel them, then try again.",
        fr="Le pont eID est occupé par d'autres demandes. Terminez-les ou annulez-les, puis "
        "réessayez.",
        nl="De eID-brug is bezig met andere verzoeken. Rond ze af of annuleer ze en probeer "
        "opnieuw.",
    ),
    api.RequestTimeout: UserMessage(
        "REQUEST_TIMEOUT",
        en="The operation took too long and was stopped; nothing was signed. Try again.",
        fr="L'opération a pris trop de temps et a été arrêtée ; rien n'a été signé. Réessayez.",
        nl="De handeling duurde te lang en werd gestopt; er werd niets ondertekend. Probeer "
        "opnieuw.",
    ),
    api.RequestCancelled: UserMessage(
        "REQUEST_CANCELLED",
        en="The request was cancelled; nothing was signed.",
        fr="La demande a été annulée ; rien n'a été signé.",
        nl="Het verzoek werd geannuleerd; er werd niets ondertekend.",
    ),
    api.CertificateNotOnCard: UserMessage(
        "CERTIFICATE_NOT_ON_CARD",
        en="The card in the reader is not the one chosen for this signature. Insert that "
        "card, or start the signature again.",
        fr="La carte dans le lecteur n'est pas celle choisie pour cette signature. Insérez "
        "cette carte ou recommencez la signature.",
        nl="De kaart in de lezer is niet de kaart die voor deze handtekening gekozen werd. "
        "Steek die kaart in of begin de handtekening opnieuw.",
    ),
    api.NoCertificate: UserMessage(
        "NO_CERTIFICATE",
        en="This card has no certificate for this (children's cards have none). Use an adult "
        "eID card.",
        fr="Cette carte n'a pas de certificat pour cela (les cartes pour enfants n'en ont "
        "pas). Utilisez une carte eID d'adulte.",
        nl="Deze kaart heeft hiervoor geen certificaat (kinderkaarten hebben er geen). "
        "Gebruik een eID-kaart voor volwassenen.",
    ),
    api.CertificateRejected: UserMessage(
        "CERTIFICATE_REJECTED",
        en="The card's certificate cannot be used. See the details, or contact your municipality.",
        fr="Le certificat de la carte ne peut pas être utilisé. Voyez les détails ou "
        "contactez votre commune.",
        nl="Het certificaat van de kaart kan niet gebruikt worden. Bekijk de details of neem "
        "contact op met uw gemeente.",
    ),
}

# -- authentication tokens (bridge.tokens): the bridge making one, the relying party checking it
_LOGIN_AGAIN = {
    "en": "Reload the page and log in again.",
    "fr": "Rechargez la page et connectez-vous à nouveau.",
    "nl": "Laad de pagina opnieuw en meld u opnieuw aan.",
}
MESSAGES.update(
    {
        tokens.OriginInvalid: UserMessage(
            "TOKEN_ORIGIN_INVALID",
            en="This site asked for a login bound to an address the eID bridge cannot use. "
            "Nothing was signed. Tell the site's support; meanwhile, log in another way.",
            fr="Ce site a demandé une connexion liée à une adresse que le pont eID ne peut pas "
            "utiliser. Rien n'a été signé. Signalez-le au support du site ; en attendant, "
            "connectez-vous autrement.",
            nl="Deze site vroeg een aanmelding aan voor een adres dat de eID-brug niet kan "
            "gebruiken. Er werd niets ondertekend. Meld het aan de ondersteuning van de site; "
            "meld u intussen op een andere manier aan.",
        ),
        tokens.NonceMalformed: UserMessage(
            "TOKEN_NONCE_MALFORMED",
            en="This site sent an invalid login request; nothing was signed. "
            + _LOGIN_AGAIN["en"]
            + " If it keeps failing, tell the site's support.",
            fr="Ce site a envoyé une demande de connexion non valable ; rien n'a été signé. "
            + _LOGIN_AGAIN["fr"]
            + " Si cela persiste, signalez-le au support du site.",
            nl="Deze site stuurde een ongeldige aanmeldingsaanvraag; er werd niets "
            "ondertekend. "
            + _LOGIN_AGAIN["nl"]
            + " Blijft het mislukken, meld het dan aan de ondersteuning van de site.",
        ),
        tokens.TokenMalformed: UserMessage(
            "TOKEN_MALFORMED",
            en="The login response could not be read. " + _LOGIN_AGAIN["en"],
            fr="La réponse de connexion n'a pas pu être lue. " + _LOGIN_AGAIN["fr"],
            nl="Het aanmeldingsantwoord kon niet gelezen worden. " + _LOGIN_AGAIN["nl"],
        ),
        tokens.TokenFormatUnsupported: UserMessage(
            "TOKEN_FORMAT_UNSUPPORTED",
            en="Your eID software made a login this site does not support ({token_format}). "
            "Update the eID bridge (or Web eID), then log in again.",
            fr="Votre logiciel eID a produit une connexion que ce site ne prend pas en charge "
            "({token_format}). Mettez à jour le pont eID (ou Web eID), puis connectez-vous à "
            "nouveau.",
            nl="Uw eID-software maakte een aanmelding die deze site niet ondersteunt "
            "({token_format}). Werk de eID-brug (of Web eID) bij en meld u opnieuw aan.",
        ),
        tokens.TokenAlgorithmNotAllowed: UserMessage(
            "TOKEN_ALGORITHM_NOT_ALLOWED",
            en="This site does not accept the kind of signature your card makes "
            "({algorithm}). Contact the site's support to log in another way.",
            fr="Ce site n'accepte pas le type de signature de votre carte ({algorithm}). "
            "Contactez le support du site pour vous connecter autrement.",
            nl="Deze site aanvaardt het soort handtekening van uw kaart niet ({algorithm}). "
            "Neem contact op met de ondersteuning van de site om u anders aan te melden.",
        ),
        tokens.TokenSignatureInvalid: UserMessage(
            "TOKEN_SIGNATURE_INVALID",
            en="Your login could not be verified for this site. Check in the address bar that "
            "you are on the right site, then log in again.",
            fr="Votre connexion n'a pas pu être vérifiée pour ce site. Vérifiez dans la barre "
            "d'adresse que vous êtes sur le bon site, puis connectez-vous à nouveau.",
            nl="Uw aanmelding kon niet geverifieerd worden voor deze site. Controleer in de "
            "adresbalk of u op de juiste site bent en meld u opnieuw aan.",
        ),
        tokens.NonceUnknown: UserMessage(
            "TOKEN_NONCE_UNKNOWN",
            en="This login request is no longer valid (it was started in another window, or "
            "your session ended). " + _LOGIN_AGAIN["en"],
            fr="Cette demande de connexion n'est plus valable (elle a été lancée dans une autre "
            "fenêtre, ou votre session a pris fin). " + _LOGIN_AGAIN["fr"],
            nl="Deze aanmeldingsaanvraag is niet meer geldig (ze werd in een ander venster "
            "gestart, of uw sessie is afgelopen). " + _LOGIN_AGAIN["nl"],
        ),
        tokens.NonceReplayed: UserMessage(
            "TOKEN_NONCE_REPLAYED",
            en="This login request was already used. " + _LOGIN_AGAIN["en"],
            fr="Cette demande de connexion a déjà été utilisée. " + _LOGIN_AGAIN["fr"],
            nl="Deze aanmeldingsaanvraag werd al gebruikt. " + _LOGIN_AGAIN["nl"],
        ),
        tokens.NonceExpired: UserMessage(
            "TOKEN_NONCE_EXPIRED",
            en="The login took too long and has expired. Log in again and finish within a few "
            "minutes.",
            fr="La connexion a pris trop de temps et a expiré. Connectez-vous à nouveau et "
            "terminez en quelques minutes.",
            nl="De aanmelding duurde te lang en is verlopen. Meld u opnieuw aan en rond ze "
            "binnen enkele minuten af.",
        ),
        tokens.CertificateRejected: UserMessage(
            "TOKEN_CERTIFICATE_REJECTED",
            en="Your card's certificate was not accepted for logging in. {reason_en}",
            fr="Le certificat de votre carte n'a pas été accepté pour la connexion. {reason_fr}",
            nl="Het certificaat van uw kaart werd niet aanvaard om aan te melden. {reason_nl}",
        ),
        tokens.TokenError: UserMessage(
            "TOKEN_ERROR",
            en="The login failed. " + _LOGIN_AGAIN["en"],
            fr="La connexion a échoué. " + _LOGIN_AGAIN["fr"],
            nl="De aanmelding is mislukt. " + _LOGIN_AGAIN["nl"],
        ),
    }
)

DEMO_PORT_TAKEN = UserMessage(
    "DEMO_PORT_TAKEN",
    en="The demo cannot start: a port it needs ({address}) is already in use. Is another "
    "demo still running? Stop it (Ctrl+C in its window) and start the demo again.",
    fr="La démo ne peut pas démarrer : un port dont elle a besoin ({address}) est déjà "
    "utilisé. Une autre démo tourne-t-elle encore ? Arrêtez-la (Ctrl+C dans sa fenêtre) et "
    "relancez la démo.",
    nl="De demo kan niet starten: een poort die ze nodig heeft ({address}) is al in gebruik. "
    "Draait er nog een andere demo? Stop die (Ctrl+C in haar venster) en start de demo "
    "opnieuw.",
)

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
