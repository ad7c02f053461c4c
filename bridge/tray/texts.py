"""The tray's own texts in French, Dutch, German and English.

German exists only here (the tray menu and its notifications): the dialogs, error messages
and diagnostics speak French, Dutch and English, and show English to a German setting.
"""

from __future__ import annotations

LANGUAGES = ("fr", "nl", "de", "en")
LANGUAGE_NAMES = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}
"""Each language named in itself, so a user can find theirs in any menu language."""

TEXTS: dict[str, dict[str, str]] = {
    "app": {"en": "eID bridge", "fr": "Pont eID", "nl": "eID-brug", "de": "eID-Brücke"},
    "state.starting": {
        "en": "Starting…",
        "fr": "Démarrage…",
        "nl": "Bezig met starten…",
        "de": "Wird gestartet…",
    },
    "state.no-reader": {
        "en": "No card reader connected",
        "fr": "Aucun lecteur de carte branché",
        "nl": "Geen kaartlezer aangesloten",
        "de": "Kein Kartenleser angeschlossen",
    },
    "state.no-card": {
        "en": "Insert your eID card",
        "fr": "Insérez votre carte eID",
        "nl": "Steek uw eID-kaart in de lezer",
        "de": "Stecken Sie Ihre eID-Karte ein",
    },
    "state.ready": {
        "en": "Card ready",
        "fr": "Carte prête",
        "nl": "Kaart klaar",
        "de": "Karte bereit",
    },
    "state.busy": {
        "en": "Working with the card…",
        "fr": "Utilisation de la carte…",
        "nl": "Bezig met de kaart…",
        "de": "Karte wird verwendet…",
    },
    "state.pin-blocked": {
        "en": "PIN blocked: your municipality can unblock it",
        "fr": "PIN bloqué : votre commune peut le débloquer",
        "nl": "PIN geblokkeerd: uw gemeente kan hem deblokkeren",
        "de": "PIN gesperrt: Ihre Gemeinde kann sie entsperren",
    },
    "state.service-down": {
        "en": "The smart-card service is not running",
        "fr": "Le service des cartes à puce ne fonctionne pas",
        "nl": "De smartcarddienst draait niet",
        "de": "Der Chipkartendienst läuft nicht",
    },
    "state.stopped": {
        "en": "The bridge has stopped",
        "fr": "Le pont s'est arrêté",
        "nl": "De brug is gestopt",
        "de": "Die Brücke wurde beendet",
    },
    "menu.diagnostics": {
        "en": "Run diagnostics",
        "fr": "Lancer le diagnostic",
        "nl": "Diagnose uitvoeren",
        "de": "Diagnose ausführen",
    },
    "menu.portal": {
        "en": "Open the portal",
        "fr": "Ouvrir le portail",
        "nl": "Portaal openen",
        "de": "Portal öffnen",
    },
    "menu.sites": {
        "en": "Allowed sites",
        "fr": "Sites autorisés",
        "nl": "Toegelaten sites",
        "de": "Erlaubte Websites",
    },
    "menu.sites.none": {
        "en": "(none yet)",
        "fr": "(aucun pour l'instant)",
        "nl": "(nog geen)",
        "de": "(noch keine)",
    },
    "menu.sites.revoke": {
        "en": "Revoke",
        "fr": "Retirer l'autorisation",
        "nl": "Toestemming intrekken",
        "de": "Erlaubnis widerrufen",
    },
    "menu.sites.managed": {
        "en": "Set by your organisation",
        "fr": "Défini par votre organisation",
        "nl": "Ingesteld door uw organisatie",
        "de": "Von Ihrer Organisation festgelegt",
    },
    "menu.language": {"en": "Language", "fr": "Langue", "nl": "Taal", "de": "Sprache"},
    "menu.autostart": {
        "en": "Start at login",
        "fr": "Démarrer à l'ouverture de session",
        "nl": "Starten bij aanmelden",
        "de": "Bei der Anmeldung starten",
    },
    "menu.quit": {"en": "Quit", "fr": "Quitter", "nl": "Afsluiten", "de": "Beenden"},
    "notify.inserted": {
        "en": "Card inserted",
        "fr": "Carte insérée",
        "nl": "Kaart ingestoken",
        "de": "Karte eingesteckt",
    },
    "notify.removed": {
        "en": "Card removed",
        "fr": "Carte retirée",
        "nl": "Kaart verwijderd",
        "de": "Karte entfernt",
    },
    "diagnostics.title": {
        "en": "eID bridge diagnostics",
        "fr": "Diagnostic du pont eID",
        "nl": "Diagnose van de eID-brug",
        "de": "Diagnose der eID-Brücke",
    },
    "diagnostics.close": {"en": "Close", "fr": "Fermer", "nl": "Sluiten", "de": "Schließen"},
}


def language_of(language: str | None) -> str:
    short = (language or "")[:2].lower()
    return short if short in LANGUAGES else "en"


def text(key: str, language: str | None) -> str:
    return TEXTS[key][language_of(language)]
