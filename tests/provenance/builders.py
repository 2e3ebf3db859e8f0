"""Provenance fixtures made at test time: a throwaway C2PA certificate chain and signed images, JPEGs at
known qualities, PNGs with generator text chunks, EXIF blocks with thumbnails, damaged metadata."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.inference.conftest import smooth_image

GENERATIVE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass
class Chain:
    """A root CA and an ES256 signing certificate it issued (PEM); the signer's private key (PEM)."""

    root_pem: bytes
    chain_pem: bytes  # signing certificate, then the root
    key_pem: bytes


def make_chain(common_name: str = "deal test signer") -> Chain:
    """A root CA (self-signed, CA:true, keyCertSign) and an end-entity signing certificate with what C2PA
    requires of one: ECDSA P-256 (ES256), digitalSignature key usage, an emailProtection EKU, CA:false,
    subject and authority key identifiers, valid now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "deal tests"),
            ]
        )

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name("deal test root"))
        .issuer_name(name("deal test root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Chain(root.public_bytes(pem), cert.public_bytes(pem) + root.public_bytes(pem), key_pem)


def encode(array: np.ndarray, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kwargs)
    return buf.getvalue()


def sign(
    data: bytes,
    chain: Chain,
    *,
    mime: str = "image/jpeg",
    source_type: str = CAPTURE,
    generator: str = "deal-tests-camera",
) -> bytes:
    """`data` with a C2PA manifest (one c2pa.created action of `source_type`) signed by `chain`."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "test image",
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        alg=b"es256", sign_cert=chain.chain_pem, private_key=chain.key_pem, ta_url=None
    )
    settings = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"remote_manifest_fetch": False}}
    with (
        c2pa.Context.from_dict(settings) as context,
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(manifest, context) as builder,
    ):
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def jpeg_scan_range(data: bytes) -> tuple[int, int]:
    """[start, end) of the entropy-coded data of a baseline JPEG (after SOS, before EOI)."""
    sos = data.rindex(b"\xff\xda")
    length = struct.unpack(">H", data[sos + 2 : sos + 4])[0]
    return sos + 2 + length, data.rindex(b"\xff\xd9")


def change_pixels(data: bytes) -> bytes:
    """A JPEG whose entropy-coded data has one byte changed in its middle (the pixels change; every
    marker, and so the C2PA manifest, is left as it was)."""
    start, end = jpeg_scan_range(data)
    i = (start + end) // 2
    b = bytearray(data)
    b[i] = 0x00 if b[i] not in (0x00, 0xFF) else 0x11
    if b[i - 1] == 0xFF:
        b[i] = 0x00
    return bytes(b)


def png_chunk(kind: bytes, body: bytes, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    return struct.pack(">I", length) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_with_chunks(array: np.ndarray, chunks: list[bytes], *, truncate: bool = False) -> bytes:
    """A PNG of `array` with `chunks` inserted after IHDR (and cut right after them when truncate)."""
    data = encode(array, "PNG")
    ihdr_end = 8 + 8 + 13 + 4
    inserted = b"".join(chunks)
    return data[:ihdr_end] + inserted + (b"" if truncate else data[ihdr_end:])


def itxt(keyword: str, text: str, compressed: bool = True) -> bytes:
    payload = zlib.compress(text.encode()) if compressed else text.encode()
    return png_chunk(
        b"iTXt", keyword.encode() + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00" + payload
    )


def exif_block(
    *,
    thumbnail: bytes | None = None,
    make: str = "TestCam",
    software: str | None = None,
    user_comment: str | None = None,
    gps: bool = False,
    orientation: int | None = None,
) -> bytes:
    """An EXIF APP1 payload ("Exif\\0\\0" + little-endian TIFF), built by hand so that tests control every
    byte: IFD0 (Make, Software, Orientation, the Exif and GPS IFD pointers), an Exif IFD (UserComment),
    a GPS IFD, and IFD1 pointing at `thumbnail`."""
    ascii_tags = [(0x010F, make.encode() + b"\x00")]
    if software:
        ascii_tags.append((0x0131, software.encode() + b"\x00"))
    entries0 = len(ascii_tags) + (orientation is not None) + 1 + gps  # + Exif IFD pointer
    ifd0 = 8
    data_at = ifd0 + 2 + 12 * entries0 + 4
    blobs = b""
    head = []
    for tag, value in ascii_tags:
        head.append(struct.pack("<HHII", tag, 2, len(value), data_at + len(blobs)))
        blobs += value
    if orientation is not None:
        head.append(struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0))
    comment = (b"ASCII\x00\x00\x00" + user_comment.encode()) if user_comment else b"ASCII\x00\x00\x00"
    exif_ifd = data_at + len(blobs)
    exif_ifd_bytes_len = 2 + 12 + 4
    comment_at = exif_ifd + exif_ifd_bytes_len
    gps_ifd = comment_at + len(comment)
    gps_len = 2 + 12 + 4
    ifd1 = gps_ifd + (gps_len if gps else 0)
    head.append(struct.pack("<HHII", 0x8769, 4, 1, exif_ifd))
    if gps:
        head.append(struct.pack("<HHII", 0x8825, 4, 1, gps_ifd))
    next_ifd = ifd1 if thumbnail is not None else 0
    tiff = b"II*\x00" + struct.pack("<I", ifd0) + struct.pack("<H", entries0) + b"".join(head)
    tiff += struct.pack("<I", next_ifd) + blobs
    tiff += (
        struct.pack("<H", 1)
        + struct.pack("<HHII", 0x9286, 7, len(comment), comment_at)
        + struct.pack("<I", 0)
    )
    tiff += comment
    if gps:
        tiff += (
            struct.pack("<H", 1) + struct.pack("<HHIBBBB", 0x0000, 1, 4, 2, 2, 0, 0) + struct.pack("<I", 0)
        )
    if thumbnail is not None:
        thumb_at = ifd1 + 2 + 24 + 4
        tiff += struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
        tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail)) + struct.pack("<I", 0) + thumbnail
    return b"Exif\x00\x00" + tiff


def photo(h: int = 192, w: int = 256, seed: int = 0) -> np.ndarray:
    return smooth_image(h, w, seed)


def pink_noise(h: int, w: int, seed: int) -> np.ndarray:
    """An HxWx3 uint8 image with the 1/f amplitude spectrum of natural photographs (random phases)."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / f
    gray = np.real(np.fft.ifft2(spectrum))
    gray = np.clip((gray - gray.mean()) / gray.std() * 40 + 128, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
