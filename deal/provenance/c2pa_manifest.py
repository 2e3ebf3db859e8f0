"""C2PA Content Credentials: the manifest's state, signer, claim generator, actions and any declaration of
generative AI, read with the official bindings (c2pa-python), offline.

The reader is built with remote manifest fetching and OCSP fetching off: a manifest that lives on a server
(only a URL in the file) is reported as such and never fetched. Trust anchors are optional PEM text (the
root certificates an analyst trusts); without them a correctly signed manifest is "valid" with
`trusted: false` ("valid, but the signer is not on your trust list"), never "invalid".

When the library cannot read a file, its error's type (never its message) decides, together with what the
bytes hold: a manifest store in the file (an APP11 JUMBF segment in a JPEG, a caBX chunk in a PNG, a C2PA
chunk in a WebP) that cannot be read is "unreadable" (present, unreadable: damaged or altered); no store
and the library finding none, or failing on a damaged file that holds none, is "absent".
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from deal.provenance.limits import MAX_C2PA_FILE_BYTES, MAX_SEGMENTS
from deal.provenance.png_text import png_chunks

# IPTC digital source types that declare generative AI (https://cv.iptc.org/newscodes/digitalsourcetype/).
GENERATIVE_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
# Pillow's format name -> the MIME type c2pa-python reads.
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # a JPEG with a second picture (cameras' depth or preview): Pillow's name for it
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
}
# A failure code that does not make a manifest invalid: the signature is good, the signer is not trusted.
_UNTRUSTED = "signingCredential.untrusted"
_MAX_ACTIONS = 50


def sniff_format(data: bytes) -> str | None:
    """Pillow's format name of a file from its first bytes (for files Pillow itself cannot open)."""
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"GIF8":
        return "GIF"
    return None


def _jpeg_has_jumbf(data: bytes) -> bool:
    """Whether a JPEG's header segments (before the scan) hold an APP11 segment of JUMBF boxes (its common
    identifier "JP", ISO 19566-5), where C2PA stores the manifest store; a segment cut short counts."""
    pos = 2
    for _ in range(MAX_SEGMENTS):
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: the header is over
            return False
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xEB and data[pos + 4 : pos + 6] == b"JP":
            return True
        pos += 2 + length
    return False


def _webp_has_c2pa(data: bytes) -> bool:
    pos = 12
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > len(data):
            return False
        kind, (size,) = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])
        if kind == b"C2PA":
            return True
        pos += 8 + size + (size & 1)
    return False


def manifest_store_in(data: bytes, image_format: str | None) -> bool | None:
    """Whether the file's bytes hold an embedded C2PA manifest store, readable or not (JPEG: an APP11 JUMBF
    segment; PNG: a caBX chunk; WebP: a C2PA chunk); None for a format where this is not looked for.

    Looked for by hand: the C2PA library says only that it could not read a file, not whether a store is
    there; an altered store must not pass for a file without one."""
    if image_format in ("JPEG", "MPO"):
        return _jpeg_has_jumbf(data)
    if image_format == "PNG":
        return any(chunk.kind == b"caBX" for chunk in png_chunks(data))
    if image_format == "WEBP":
        return _webp_has_c2pa(data)
    return None


def _settings(trust_anchors: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True},
    }
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return settings


def empty_c2pa(state: str, reason: str | None = None) -> dict[str, Any]:
    """The c2pa section with nothing read: state "absent", "unchecked" or "unreadable" (present, unreadable)."""
    return {
        "state": state,
        "trusted": None,
        "reason": reason,
        "signer": None,
        "claim_generator": None,
        "actions": [],
        "digital_source_types": [],
        "generative_ai": None,
    }


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        info = infos[0]
        name = str(info.get("name", "")).strip()
        version = str(info.get("version", "")).strip()
        return f"{name} {version}".strip() or None
    generator = manifest.get("claim_generator")
    return str(generator) if generator else None


def _signer(manifest: dict[str, Any]) -> str | None:
    sig = manifest.get("signature_info")
    if not isinstance(sig, dict):
        return None
    parts = [str(sig[k]) for k in ("common_name", "issuer") if sig.get(k)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"{parts[0]} (issued by {parts[1]})"


def _walk_source_types(obj: Any, found: list[str], depth: int = 0) -> None:
    """Every digitalSourceType value anywhere in an assertion's data (actions, ingredients, metadata)."""
    if depth > 20:
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.lower().endswith("digitalsourcetype") and isinstance(value, str):
                found.append(value)
            else:
                _walk_source_types(value, found, depth + 1)
    elif isinstance(obj, list):
        for value in obj[:1000]:
            _walk_source_types(value, found, depth + 1)


def _summarize(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    actions: list[str] = []
    source_types: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        if label.startswith("c2pa.actions") and isinstance(data, dict):
            for action in data.get("actions") or []:
                if isinstance(action, dict) and action.get("action") and len(actions) < _MAX_ACTIONS:
                    actions.append(str(action["action"]))
        _walk_source_types(data, source_types)
    unique_types = sorted(set(source_types))
    return actions, unique_types


def _failures(results: Any) -> list[str]:
    """The validation failures of the active manifest, "code: explanation", untrusted signer left out."""
    if not isinstance(results, dict):
        return []
    active = results.get("activeManifest") or {}
    out = []
    for item in active.get("failure") or []:
        if isinstance(item, dict) and item.get("code") != _UNTRUSTED:
            code, why = item.get("code", "?"), item.get("explanation")
            out.append(f"{code}: {why}" if why else str(code))
    return out


def _unread(err: Exception, store: bool | None, c2pa: Any) -> dict[str, Any]:
    """The section of a file the library could not read, by the error's type and whether the bytes hold a
    manifest store (manifest_store_in)."""
    what = f"{type(err).__name__.lstrip('_')}: {str(err)[:200]}"
    if isinstance(err, c2pa.C2paError.RemoteManifest):
        return empty_c2pa("unreadable", f"the manifest is remote and is not fetched ({what})")
    if store:
        return empty_c2pa("unreadable", f"the file holds a manifest store that cannot be read ({what})")
    if isinstance(err, c2pa.C2paError.ManifestNotFound):
        return empty_c2pa("absent")
    if store is False:
        return empty_c2pa("absent", f"no manifest store in the file; the C2PA library could not parse it ({what})")
    return empty_c2pa("unreadable", f"the C2PA library could not read the file ({what})")


def read_c2pa(data: bytes, image_format: str | None, trust_anchors: str | None = None) -> dict[str, Any]:
    """The C2PA section of a file's provenance (see deal.provenance.fields for every key).

    Args:
        data: the file's bytes.
        image_format: Pillow's format name ("JPEG", "PNG", ...); other formats are "unchecked".
        trust_anchors: PEM text of the root certificates to trust; None: no signer is trusted.
    """
    mime = MIME_TYPES.get(image_format or "")
    if mime is None:
        return empty_c2pa("unchecked", f"C2PA is not read from {image_format or 'this'} files")
    if len(data) > MAX_C2PA_FILE_BYTES:
        return empty_c2pa("unchecked", f"file over {MAX_C2PA_FILE_BYTES // 2**20} MiB: C2PA not read")
    try:
        import c2pa
    except ImportError:
        return empty_c2pa(
            "unchecked", 'c2pa-python is not installed (pip install "deal-forensics[provenance]")'
        )
    try:
        with (
            c2pa.Context.from_dict(_settings(trust_anchors)) as context,
            c2pa.Reader(mime, io.BytesIO(data), context=context) as reader,
        ):
            remote = reader.get_remote_url() if not reader.is_embedded() else None
            state = reader.get_validation_state()
            store = json.loads(reader.json())
            results = reader.get_validation_results()
    except Exception as err:  # noqa: BLE001 - any error of the native reader is a state, never a crash
        return _unread(err, manifest_store_in(data, image_format), c2pa)
    manifests = store.get("manifests") if isinstance(store, dict) else None
    active = (manifests or {}).get(store.get("active_manifest")) if isinstance(store, dict) else None
    if not isinstance(active, dict):
        reason = "no active manifest" + (f" (remote manifest at {remote}, not fetched)" if remote else "")
        return empty_c2pa("invalid", reason)
    actions, source_types = _summarize(active)
    failures = _failures(results)
    section = empty_c2pa("invalid" if state == "Invalid" or failures else "valid")
    section.update(
        trusted=state == "Trusted",
        reason="; ".join(failures) or None,
        signer=_signer(active),
        claim_generator=_claim_generator(active),
        actions=actions,
        digital_source_types=source_types,
        generative_ai=any(t.rsplit("/", 1)[-1] in GENERATIVE_SOURCE_TYPES for t in source_types),
    )
    if section["state"] == "invalid" and not section["reason"]:
        section["reason"] = f"the C2PA library reports the manifest {state!r}"
    return section
