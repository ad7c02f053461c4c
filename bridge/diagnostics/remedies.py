"""Remedies of the diagnostic checks that no card-layer error already explains.

Checks that fail because of a typed error (no reader, no card, mute card, PIN blocked...)
use that error's entry in :data:`bridge.messages.MESSAGES`; these are the others, in the same
``UserMessage`` form (stable code, English, French, Dutch).
"""

from __future__ import annotations

from bridge.messages import UserMessage

PCSC_NOT_INSTALLED = UserMessage(
    "DIAG_PCSC_NOT_INSTALLED",
    en="The smart-card service is not installed. On Debian or Ubuntu: 'sudo apt install "
    "pcscd', then try again.",
    fr="Le service carte à puce n'est pas installé. Sous Debian ou Ubuntu : « sudo apt "
    "install pcscd », puis réessayez.",
    nl="De smartcarddienst is niet geïnstalleerd. Op Debian of Ubuntu: 'sudo apt install "
    "pcscd' en probeer opnieuw.",
)
DRIVER_MISSING = UserMessage(
    "DIAG_DRIVER_MISSING",
    en="Your reader ({reader}) needs the driver '{driver}', which was not found. Install it "
    "(on Debian or Ubuntu: 'sudo apt install {package}') and plug the reader in again.",
    fr="Votre lecteur ({reader}) a besoin du pilote « {driver} », introuvable. Installez-le "
    "(sous Debian ou Ubuntu : « sudo apt install {package} ») et rebranchez le lecteur.",
    nl="Uw lezer ({reader}) heeft het stuurprogramma '{driver}' nodig, dat niet gevonden "
    "werd. Installeer het (op Debian of Ubuntu: 'sudo apt install {package}') en sluit de "
    "lezer opnieuw aan.",
)
USB_HUB = UserMessage(
    "DIAG_USB_HUB",
    en="Your reader is connected through a USB hub. If the card is not always seen, plug the "
    "reader directly into the computer.",
    fr="Votre lecteur est branché via un hub USB. Si la carte n'est pas toujours détectée, "
    "branchez le lecteur directement sur l'ordinateur.",
    nl="Uw lezer is via een USB-hub aangesloten. Wordt de kaart niet altijd gezien, sluit de "
    "lezer dan rechtstreeks op de computer aan.",
)
CARD_EXPIRED = UserMessage(
    "DIAG_CARD_EXPIRED",
    en="Your eID card expired on {date}. Ask your municipality for a new card.",
    fr="Votre carte eID a expiré le {date}. Demandez une nouvelle carte à votre commune.",
    nl="Uw eID-kaart is verlopen op {date}. Vraag een nieuwe kaart aan bij uw gemeente.",
)
CARD_EXPIRES_SOON = UserMessage(
    "DIAG_CARD_EXPIRES_SOON",
    en="Your eID card expires on {date}. Ask your municipality for a new card in time.",
    fr="Votre carte eID expire le {date}. Demandez à temps une nouvelle carte à votre commune.",
    nl="Uw eID-kaart vervalt op {date}. Vraag tijdig een nieuwe kaart aan bij uw gemeente.",
)
CARD_NOT_YET_VALID = UserMessage(
    "DIAG_CARD_NOT_YET_VALID",
    en="Your eID card is only valid from {date}. Check your computer's date; if the card is "
    "new, wait until then.",
    fr="Votre carte eID n'est valable qu'à partir du {date}. Vérifiez la date de votre "
    "ordinateur ; si la carte est neuve, attendez cette date.",
    nl="Uw eID-kaart is pas geldig vanaf {date}. Controleer de datum van uw computer; is de "
    "kaart nieuw, wacht dan tot die datum.",
)
ONE_TRY_LEFT = UserMessage(
    "DIAG_PIN_LAST_TRY",
    en="Only {tries_left} PIN attempt left: one more mistake blocks the card. If you are not "
    "sure of your PIN, ask your municipality before trying.",
    fr="Il ne reste que {tries_left} essai de code PIN : une erreur de plus bloque la carte. "
    "Si vous n'êtes pas sûr de votre PIN, adressez-vous à votre commune avant d'essayer.",
    nl="Nog maar {tries_left} PIN-poging over: nog een fout blokkeert de kaart. Bent u niet "
    "zeker van uw PIN, vraag dan raad aan uw gemeente voor u het probeert.",
)
NO_MIDDLEWARE = UserMessage(
    "DIAG_NO_MIDDLEWARE",
    en="The official eID software (eID middleware) is not installed. The bridge does not need "
    "it, but other programs (browsers, PDF signing) do: get it from eid.belgium.be.",
    fr="Le logiciel eID officiel (middleware eID) n'est pas installé. Le pont n'en a pas "
    "besoin, mais d'autres programmes (navigateurs, signature PDF) oui : voir eid.belgium.be.",
    nl="De officiële eID-software (eID-middleware) is niet geïnstalleerd. De brug heeft ze "
    "niet nodig, andere programma's (browsers, PDF-ondertekening) wel: zie eid.belgium.be.",
)
REVOCATION_UNREACHABLE = UserMessage(
    "DIAG_REVOCATION_UNREACHABLE",
    en="The eID certificate status services cannot be reached. Check your internet "
    "connection, and your proxy or firewall settings (they must allow {hosts}).",
    fr="Les services de statut des certificats eID sont injoignables. Vérifiez votre "
    "connexion internet et les réglages de votre proxy ou pare-feu (ils doivent autoriser "
    "{hosts}).",
    nl="De statusdiensten van de eID-certificaten zijn onbereikbaar. Controleer uw "
    "internetverbinding en de instellingen van uw proxy of firewall (die moeten {hosts} "
    "toelaten).",
)
TLS_INTERCEPTED = UserMessage(
    "DIAG_TLS_INTERCEPTED",
    en="A program on this computer or network (antivirus, firewall) intercepts secure "
    "connections (certificate issued by '{issuer}'). Disable its HTTPS/SSL scanning for "
    "eID sites, or ask your IT department.",
    fr="Un programme de cet ordinateur ou du réseau (antivirus, pare-feu) intercepte les "
    "connexions sécurisées (certificat émis par « {issuer} »). Désactivez son analyse "
    "HTTPS/SSL pour les sites eID, ou demandez à votre service informatique.",
    nl="Een programma op deze computer of dit netwerk (antivirus, firewall) onderschept "
    "beveiligde verbindingen (certificaat uitgegeven door '{issuer}'). Schakel zijn "
    "HTTPS/SSL-scan uit voor eID-sites, of vraag het aan uw IT-dienst.",
)
CLOCK_SKEW = UserMessage(
    "DIAG_CLOCK_SKEW",
    en="Your computer's clock is {seconds} seconds off. Set the date and time automatically "
    "(Settings > Time), otherwise certificates may be refused.",
    fr="L'horloge de votre ordinateur a {seconds} secondes d'écart. Réglez la date et l'heure "
    "automatiquement (Paramètres > Heure), sinon des certificats peuvent être refusés.",
    nl="De klok van uw computer wijkt {seconds} seconden af. Stel datum en uur automatisch in "
    "(Instellingen > Tijd), anders kunnen certificaten geweigerd worden.",
)
SIGN_TEST_FAILED = UserMessage(
    "DIAG_SIGN_MISMATCH",
    en="The card's key does not match its certificate. The card is damaged: ask your "
    "municipality for a new one.",
    fr="La clé de la carte ne correspond pas à son certificat. La carte est endommagée : "
    "demandez-en une nouvelle à votre commune.",
    nl="De sleutel van de kaart past niet bij haar certificaat. De kaart is beschadigd: vraag "
    "een nieuwe aan bij uw gemeente.",
)
