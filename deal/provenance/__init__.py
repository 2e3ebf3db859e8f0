"""Provenance and metadata of an image file, read from its bytes, offline: C2PA Content Credentials,
EXIF/XMP/IPTC, generator traces, JPEG compression traces, the EXIF thumbnail and degradation notes.

    from deal.provenance import read_provenance, ProvenanceOptions
    record = read_provenance(open("photo.jpg", "rb").read(), ProvenanceOptions.from_pem_file("anchors.pem"))

Imports only Pillow, numpy and (for C2PA) c2pa-python. Every field is documented in deal.provenance.fields.
"""

from deal.provenance.fields import FIELDS, fields_markdown
from deal.provenance.options import ProvenanceOptions
from deal.provenance.reader import SECTIONS, OpenedImage, open_image, read_provenance
from deal.provenance.summary import CSV_COLUMNS, badge, csv_fields

__all__ = [
    "CSV_COLUMNS",
    "FIELDS",
    "SECTIONS",
    "OpenedImage",
    "ProvenanceOptions",
    "badge",
    "csv_fields",
    "fields_markdown",
    "open_image",
    "read_provenance",
]
