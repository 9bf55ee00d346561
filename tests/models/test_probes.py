from __future__ import annotations

import unicodedata

from logos_tools.grammar.profile import Profile
from logos_tools.models.probes import tokenizer_probe_strings


def test_probe_set_is_large_deterministic_and_nfc(profile: Profile) -> None:
    probes = tokenizer_probe_strings(profile)
    assert len(probes) >= 1000
    assert probes == tokenizer_probe_strings(profile)
    assert all(unicodedata.is_normalized("NFC", p) for p in probes)


def test_probe_set_covers_every_tag_and_the_odd_text_cases(profile: Profile) -> None:
    probes = tokenizer_probe_strings(profile)
    joined = "".join(probes)
    assert all(tag in joined for tag in profile.all_tags())
    assert any("\n\n" in p for p in probes)
    assert any("   " in p for p in probes)
    assert any(any(ord(ch) > 0x1F000 for ch in p) for p in probes)  # emoji
    assert any(p.isdigit() and len(p) > 10 for p in probes)
    assert sum(p.startswith("<ProteinS>") for p in probes) >= 100
    assert sum(p.startswith("<MaterialS><MetalS>") for p in probes) >= 50
