"""The report: redaction, support code, text in three languages, saved file, CLI exit codes."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from bridge import cli
from bridge.card.errors import NoCard
from bridge.diagnostics.model import Check, CheckStatus, Report, scrub
from bridge.messages import MESSAGES
from tests.diagnostics.conftest import Run


def test_name_only_with_consent_and_never_the_national_number(run: Run) -> None:
    report = run("citizen-1.8", only=("card.validity",))
    name = report.check("card.validity").evidence["holder_name"]
    assert name
    assert name not in report.to_json()
    assert name not in report.to_text()
    consented = run("citizen-1.8", only=("card.validity", "card.certificates"), include_name=True)
    shown = consented.to_json(redact=False)
    assert consented.check("card.validity").evidence["holder_name"] in shown
    assert name not in consented.to_json()  # redact=True (the default) still drops it
    for text in (shown, consented.to_text("nl", redact=False)):
        for nn in ("85073100145", "85.07.31-001.45", "90020212345"):
            assert nn not in text


def test_scrub_catches_a_national_number_anywhere() -> None:
    assert scrub({"a": ["x 85.07.31-001.45 y", "85073100145"]}) == {
        "a": ["x [redacted] y", "[redacted]"]
    }
    assert scrub("534C494E3366001285073100145ABC") == "534C494E3366001285073100145ABC"  # hex


def _report(when: dt.datetime) -> Report:
    check = Check("card.present", CheckStatus.FAILED, "no card", {}, MESSAGES[NoCard], 0.01)
    return Report([check], created_at=when)


def test_support_code() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    code = _report(when).support_code
    assert len(code) == 8
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert _report(when).support_code == code  # same report, same code
    assert _report(when + dt.timedelta(seconds=1)).support_code != code
    assert json.loads(_report(when).to_json())["supportCode"] == code


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "No card in the reader"), ("fr", "Aucune carte"), ("nl", "Geen kaart")],
)
def test_text_in_three_languages(language: str, words: str) -> None:
    text = _report(dt.datetime.now(dt.UTC)).to_text(language)
    assert "[FAILED ] card.present: no card" in text
    assert words in text


def test_save(tmp_path: Path) -> None:
    report = _report(dt.datetime.now(dt.UTC))
    as_json = report.save(tmp_path / "diag" / "report.json")
    assert json.loads(as_json.read_text())["result"] == "failed"
    assert stat.S_IMODE(as_json.stat().st_mode) == 0o600
    as_text = report.save(tmp_path / "report.txt", language="fr")
    assert report.support_code in as_text.read_text()
    assert "Aucune carte" in as_text.read_text()


@pytest.mark.parametrize(
    ("profile", "exit_code", "result"),
    [("citizen-1.8", (0, 4), ("ok", "warning")), ("blocked-pin-1.8", (1,), ("failed",))],
)
def test_cli_diagnose(
    profile: str,
    exit_code: tuple[int, ...],
    result: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    saved = tmp_path / "out.json"
    rc = cli.main(["diagnose", "--virtual", profile, "--json", "--save", str(saved)])
    out = capsys.readouterr()
    body = json.loads(out.out)
    assert rc in exit_code, body
    assert body["result"] in result
    assert json.loads(saved.read_text())["supportCode"] == body["supportCode"]
    assert body["supportCode"] in out.err
    checks = {c["id"]: c for c in body["checks"]}
    if profile == "blocked-pin-1.8":
        assert checks["card.pin"]["remedy"]["code"] == "PIN_BLOCKED"


def test_cli_exit_code_for_warnings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(*_: object, **__: object) -> Report:
        check = Check("card.pin", CheckStatus.WARNING, "one try", {}, None, 0.0)
        return Report([check])

    monkeypatch.setattr("bridge.diagnostics.diagnose", fake)
    assert cli.main(["diagnose", "--virtual", "citizen-1.8"]) == cli.EXIT_DIAGNOSE_WARNING == 4
