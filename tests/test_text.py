"""The one accent-folding function the project uses."""

from retrieval.text import fold, strip_accents


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Amélie") == fold("AMELIE") == "amelie"
    assert fold("Iñárritu") == "inarritu"
    assert fold("Straße") == "strasse"


def test_strip_accents_keeps_case() -> None:
    assert strip_accents("Toshirô Mifune") == "Toshiro Mifune"
    assert strip_accents("Pedro Almodóvar") == "Pedro Almodovar"
