"""What the provenance reader is told: the trust anchors (root certificates) C2PA signers are checked
against."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PEM_CERT = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class ProvenanceOptions:
    """trust_anchors: PEM text of the root certificates to trust (None: no C2PA signer is trusted, a good
    signature is reported "valid" with the signer untrusted). enabled: False skips provenance entirely."""

    trust_anchors: str | None = None
    enabled: bool = True

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike | None) -> ProvenanceOptions:
        """Options trusting the certificates of a PEM file (None: trust none). ValueError naming the file."""
        if path is None:
            return cls()
        try:
            text = Path(path).read_text(encoding="ascii", errors="strict")
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: cannot read the trust anchors ({type(err).__name__}: {err})") from err
        if _PEM_CERT not in text:
            raise ValueError(f"{path}: not a PEM file of certificates (no '{_PEM_CERT}' line)")
        return cls(trust_anchors=text)

    def made(self, provenance: dict[str, Any] | None) -> bool:
        """Whether a record's provenance is what these options read (so a resumed run can keep it): none
        when disabled, else one read with the same trust anchors."""
        if not self.enabled:
            return provenance is None
        c2pa = (provenance or {}).get("c2pa")
        return isinstance(c2pa, dict) and c2pa.get("trust_anchors_sha256") == self.trust_anchors_sha256

    @property
    def trust_anchors_sha256(self) -> str | None:
        """sha256 of the trust anchors' PEM text (recorded, so a run says which trust list it used)."""
        return hashlib.sha256(self.trust_anchors.encode()).hexdigest() if self.trust_anchors else None
