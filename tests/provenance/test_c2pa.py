"""C2PA Content Credentials read from images signed here, with a throwaway certificate chain."""

from __future__ import annotations

import pytest

from deal.provenance import ProvenanceOptions, badge, read_provenance
from tests.provenance.builders import CAPTURE, GENERATIVE, change_pixels, encode, make_chain, photo, sign

pytest.importorskip("c2pa", reason='c2pa-python is not installed (pip install "deal-forensics[provenance]")')


@pytest.fixture(scope="module")
def chain():
    return make_chain()


@pytest.fixture(scope="module")
def signed(chain) -> bytes:
    return sign(encode(photo(), quality=90), chain, source_type=CAPTURE)


def test_a_signed_image_is_valid_and_untrusted_without_anchors(signed):
    c2pa = read_provenance(signed)["c2pa"]
    assert c2pa["state"] == "valid" and c2pa["trusted"] is False and c2pa["reason"] is None
    assert c2pa["signer"] == "deal test signer (issued by deal tests)"
    assert c2pa["claim_generator"] == "deal-tests-camera 1.0"
    assert c2pa["actions"] == ["c2pa.created"]
    assert c2pa["digital_source_types"] == [CAPTURE] and c2pa["generative_ai"] is False
    assert badge(read_provenance(signed)) == ("untrusted", "C2PA valid, signer not trusted")


def test_trust_anchors_make_the_signer_trusted(signed, chain, tmp_path):
    pem = tmp_path / "anchors.pem"
    pem.write_bytes(chain.root_pem)
    options = ProvenanceOptions.from_pem_file(pem)
    c2pa = read_provenance(signed, options)["c2pa"]
    assert c2pa["state"] == "valid" and c2pa["trusted"] is True
    assert (
        c2pa["trust_anchors_sha256"] == options.trust_anchors_sha256
        and len(options.trust_anchors_sha256) == 64
    )
    # Another chain's root vouches for nobody here.
    other = tmp_path / "other.pem"
    other.write_bytes(make_chain().root_pem)
    assert read_provenance(signed, ProvenanceOptions.from_pem_file(other))["c2pa"]["trusted"] is False


def test_changed_pixels_make_the_manifest_invalid(signed):
    c2pa = read_provenance(change_pixels(signed))["c2pa"]
    assert c2pa["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in c2pa["reason"]
    assert c2pa["signer"] == "deal test signer (issued by deal tests)"  # still said: who signed the original


def test_a_declaration_of_generative_ai_is_reported(chain):
    data = sign(encode(photo(seed=3), quality=90), chain, source_type=GENERATIVE, generator="Adobe Firefly")
    p = read_provenance(data)
    assert p["c2pa"]["generative_ai"] is True and p["c2pa"]["digital_source_types"] == [GENERATIVE]
    assert {"source": "C2PA claim generator", "tool": "Adobe Firefly", "excerpt": "Adobe Firefly 1.0"} in p[
        "generator_traces"
    ]


def test_a_signed_png_is_valid(chain):
    data = sign(encode(photo(seed=4), "PNG"), chain, mime="image/png")
    assert read_provenance(data)["c2pa"]["state"] == "valid"


def test_an_unsigned_image_has_no_manifest():
    p = read_provenance(encode(photo(), quality=90))
    assert p["c2pa"]["state"] == "absent" and p["c2pa"]["reason"] is None
    assert badge(p) == ("absent", "no C2PA")


def _altered(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def test_an_altered_manifest_store_is_present_and_unreadable_never_absent(signed, chain):
    """A manifest whose JUMBF box type was changed is still in the file: "unreadable", with the reason, and
    the badge says so. A tampered "AI-generated" manifest must not pass for a file without one."""
    jumb = signed.index(b"jumb")
    c2pa = read_provenance(_altered(signed, jumb, b"jumx"))["c2pa"]
    assert (c2pa["state"], c2pa["generative_ai"]) == ("unreadable", None)
    assert c2pa["reason"].startswith("the file holds a manifest store that cannot be read (C2paVerify: ")
    assert badge({"c2pa": c2pa}) == ("unreadable", "C2PA present, unreadable")
    ai = sign(encode(photo(seed=3), quality=90), chain, source_type=GENERATIVE, generator="Adobe Firefly")
    assert read_provenance(_altered(ai, ai.index(b"jumb"), b"jumx"))["c2pa"]["state"] == "unreadable"
    png = sign(encode(photo(seed=4), "PNG"), chain, mime="image/png")
    assert read_provenance(_altered(png, png.index(b"jumb"), b"jumx"))["c2pa"]["state"] == "unreadable"


def test_a_damaged_manifest_has_exactly_one_state(signed):
    """Bytes flipped inside the store: unreadable while the library cannot parse it, invalid once it parses
    and the signature fails; a file cut inside the store: unreadable. Never absent."""
    start = signed.index(b"jumb")
    expected = {16: "unreadable", 64: "unreadable", 200: "unreadable", 1000: "unreadable", 2000: "invalid"}
    for offset, state in expected.items():
        flipped = _altered(signed, start + offset, bytes([signed[start + offset] ^ 0xFF]))
        assert read_provenance(flipped)["c2pa"]["state"] == state, offset
    assert read_provenance(signed[: start + 300])["c2pa"]["state"] == "unreadable"


def test_a_truncated_file_without_a_manifest_is_absent():
    """The C2PA library cannot parse a cut file; with no manifest store in its bytes the answer is absent
    (it was "invalid"), whatever the library's error."""
    plain = encode(photo(), quality=90)
    for cut in (300, len(plain) // 2):
        assert read_provenance(plain[:cut])["c2pa"]["state"] == "absent", cut
    assert "no manifest store in the file" in read_provenance(plain[:300])["c2pa"]["reason"]
    png = encode(photo(seed=4), "PNG")
    assert read_provenance(png[:5000])["c2pa"]["state"] == "absent"


def test_the_state_follows_the_error_type_not_its_message(monkeypatch):
    """A ManifestNotFound error whose message says nothing of JUMBF is absent; an error whose message says
    JUMBF is not (the old rule matched the word)."""
    import c2pa

    from deal.provenance import c2pa_manifest

    class Raising:
        def __init__(self, error):
            self.error = error

        def __call__(self, *args, **kwargs):
            raise self.error

    plain = encode(photo(), quality=90)
    monkeypatch.setattr(c2pa, "Reader", Raising(c2pa.C2paError.ManifestNotFound("nothing here")))
    assert c2pa_manifest.read_c2pa(plain, "JPEG")["state"] == "absent"
    monkeypatch.setattr(c2pa, "Reader", Raising(c2pa.C2paError.Verify("bad JUMBF box")))
    assert c2pa_manifest.read_c2pa(b"\xff\xd8\xff\xeb\x00\x10JP" + plain[2:], "JPEG")["state"] == "unreadable"
    monkeypatch.setattr(c2pa, "Reader", Raising(c2pa.C2paError.RemoteManifest("elsewhere")))
    remote = c2pa_manifest.read_c2pa(plain, "JPEG")
    assert remote["state"] == "unreadable" and remote["reason"].startswith("the manifest is remote and is not fetched")


def test_trust_anchors_that_are_not_pem_are_refused_naming_the_file(tmp_path):
    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"anchors\.pem: not a PEM file of certificates"):
        ProvenanceOptions.from_pem_file(bad)
    with pytest.raises(ValueError, match=r"missing\.pem: cannot read the trust anchors"):
        ProvenanceOptions.from_pem_file(tmp_path / "missing.pem")
