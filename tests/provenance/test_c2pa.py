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


def test_a_damaged_manifest_is_a_state_never_a_crash(signed):
    start = signed.index(b"jumb")
    for offset in (16, 64, 200, 400):
        damaged = bytearray(signed)
        damaged[start + offset] ^= 0xFF
        c2pa = read_provenance(bytes(damaged))["c2pa"]
        assert c2pa["state"] in ("invalid", "absent"), (offset, c2pa)
    cut = read_provenance(signed[: start + 300])
    assert cut["c2pa"]["state"] in ("invalid", "absent")


def test_trust_anchors_that_are_not_pem_are_refused_naming_the_file(tmp_path):
    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"anchors\.pem: not a PEM file of certificates"):
        ProvenanceOptions.from_pem_file(bad)
    with pytest.raises(ValueError, match=r"missing\.pem: cannot read the trust anchors"):
        ProvenanceOptions.from_pem_file(tmp_path / "missing.pem")
