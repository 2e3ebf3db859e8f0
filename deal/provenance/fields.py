"""Every field of a provenance record, what it means and how to read it: the one place the record is
documented (rendered into docs/provenance.md by fields_markdown, checked by the tests)."""

from __future__ import annotations

# The "how to read this" card: the report's provenance panel and docs/provenance.md show these lines.
HOW_TO_READ = (
    "A missing manifest is not evidence of editing: most cameras, phones, editors and websites write no "
    "Content Credentials, and many platforms strip them. \"no C2PA\" means the provenance is unknown.",
    "\"C2PA valid\" means the bytes are exactly what was signed. It does not say the scene is real, and it "
    "says who signed only when the signer is trusted (on your trust list).",
    "\"C2PA invalid\" means the file changed after it was signed, or the manifest is damaged: read the reason. "
    "\"C2PA present, unreadable\" means the file holds a manifest too damaged or altered to read: a "
    "manifest was there, whatever it declared.",
    "Metadata (EXIF, XMP, PNG text) is a claim anyone can write or strip. A generator trace says the file "
    "went through a generator; no trace proves nothing.",
    "Degradation notes (low quality, very small, upscaled) mean the pixels carry less evidence: they qualify "
    "the verdict, they do not replace it.",
)

# field path in the record's "provenance" object -> (meaning, how to read it)
FIELDS: dict[str, tuple[str, str]] = {
    "c2pa.state": (
        "The Content Credentials (C2PA manifest) of the file: `valid` (signed, and the signature covers "
        "these exact bytes), `invalid` (a manifest is present but does not check out), `unreadable` (the "
        "bytes hold a manifest store, an APP11 JUMBF segment of a JPEG or a caBX chunk of a PNG, that cannot "
        "be read; or the manifest is remote and not fetched), `absent` (no manifest), `unchecked` (not read: "
        "a format C2PA is not read from, or the reader is not installed).",
        "`absent` is the normal case: most cameras, phones, editors and websites write no manifest or strip "
        "it. A missing manifest is not evidence of editing. `invalid` means the file changed after signing or "
        "the manifest is damaged; `unreadable` means a manifest is there but damaged or altered so far that "
        "it cannot be read (an altered \"AI-generated\" declaration does not vanish): read `c2pa.reason`.",
    ),
    "c2pa.trusted": (
        "Whether the signer's certificate chains to one of your trust anchors (--trust-anchors PEM file).",
        "`false` with a `valid` state means the signature is intact but nothing vouches for who signed: "
        "anyone can make a certificate. Without --trust-anchors no signer is trusted.",
    ),
    "c2pa.reason": (
        "Why a manifest is invalid: the validation codes of the C2PA library (for example "
        "`assertion.dataHash.mismatch`: the pixels or bytes changed after signing).",
        "A hash mismatch means the file was modified after it was signed; a signature failure means the "
        "manifest itself was tampered with or damaged.",
    ),
    "c2pa.signer": (
        "The signing certificate's common name and issuer.",
        "Who signed, as the certificate says.",
    ),
    "c2pa.claim_generator": (
        "The software that wrote the manifest (name and version).",
        "For example a camera app, an editor or an image generator.",
    ),
    "c2pa.actions": (
        "The actions the manifest declares (`c2pa.created`, `c2pa.edited`, `c2pa.opened`, ...).",
        "What the signing software says was done to the image. Declared, not measured.",
    ),
    "c2pa.digital_source_types": (
        "The IPTC digital source types the manifest declares (how the content was made).",
        "`digitalCapture` is a camera; `trainedAlgorithmicMedia` is made by generative AI; "
        "`compositeWithTrainedAlgorithmicMedia` is partly generated.",
    ),
    "c2pa.generative_ai": (
        "Whether any assertion declares generative AI (trainedAlgorithmicMedia or "
        "compositeWithTrainedAlgorithmicMedia).",
        "`true` is the signer's own declaration that AI made or changed the content. `false` or `null` "
        "proves nothing: most tools declare nothing.",
    ),
    "c2pa.trust_anchors_sha256": (
        "sha256 of the trust anchors file the run used (null: none).",
        "Says which trust list `c2pa.trusted` was decided against.",
    ),
    "metadata.format / exif / xmp": (
        "The file's format, and whether it has an EXIF block and an XMP packet.",
        "Cameras write EXIF; many websites and messengers strip it. No EXIF says nothing about editing.",
    ),
    "metadata.extension_matches": (
        "Whether the file's name says the format its bytes hold (`.jpg` for JPEG, `.png` for PNG, ...); null "
        "when the name's extension is not an image format deal knows, or for in-memory inputs. A mismatch "
        "is also a note (`format: the file is named .jpg but its bytes are TIFF ...`), the report's flag "
        "`format mismatch` and the CSV's `format_mismatch`.",
        "A renamed file is not an edited one, but it did not come straight from the device or program whose "
        "format its name claims: ask where it has been.",
    ),
    "metadata.make / model": ("EXIF camera maker and model.", "What the file claims; trivially edited."),
    "metadata.software": (
        "EXIF Software: the last program that wrote the file.",
        "An editor's name here (a photo editor, a generator) says the file passed through it.",
    ),
    "metadata.datetime / datetime_original / datetime_digitized": (
        "EXIF dates: last change, capture, digitization (as written, no time zone).",
        "A last-change date later than the capture date suggests the file was re-saved.",
    ),
    "metadata.gps": ("Whether the file has GPS EXIF data.", "Presence only; coordinates are not copied."),
    "metadata.orientation": (
        "EXIF orientation (1: as stored; 6 and 8: rotated). The detector analyses the image as displayed.",
        "Informational.",
    ),
    "metadata.creator_tool": ("XMP CreatorTool: the program that created the file.", "As for `software`."),
    "metadata.editing_software": (
        "The EXIF Software or XMP CreatorTool value when it names a photo editor (Photoshop, Lightroom, "
        "GIMP, Affinity Photo, Pixelmator, Snapseed, ...; the list is deal.provenance.exif."
        "EDITING_APPLICATIONS); null otherwise. The report's table flags it (`editing software`) and the "
        "CSV has it (`editing_software`).",
        "The file was written by an editor, so it was opened and saved again after capture: that is not "
        "evidence of a forgery (most published photos are edited), but it is where a manipulation would "
        "have happened. Its absence proves nothing: the field is easily stripped.",
    ),
    "metadata.xmp_digital_source_types": (
        "IPTC DigitalSourceType values written in XMP.",
        "As for `c2pa.digital_source_types`, but unsigned: anyone can write or remove them.",
    ),
    "metadata.iptc / iptc_byline / iptc_credit": (
        "Whether an IPTC block is present, and its by-line and credit.",
        "Newsroom metadata; often kept through editing.",
    ),
    "generator_traces": (
        "Metadata left by image generators: PNG text chunks of Stable Diffusion front-ends (`parameters`), "
        "ComfyUI (`prompt`, `workflow`), InvokeAI; an A1111 parameter block in EXIF UserComment; a known "
        "generative-AI tool in EXIF Software, XMP CreatorTool or the C2PA claim generator. Each trace gives "
        "its source, the tool it points to and an excerpt.",
        "A trace says the file went through a generator. Its absence says nothing: saving or uploading "
        "removes it.",
    ),
    "jpeg.quality / quality_exact / tables / quality_distance": (
        "The JPEG quality (1-100) whose standard (IJG) tables are closest to the file's; `quality_exact` is "
        "true and `tables` `IJG` when they match exactly (libjpeg, Pillow and many programs); `tables` "
        "`non-standard` when the encoder used tables of its own shape (Photoshop, many cameras), with "
        "`quality_distance` the mean absolute difference of the quantization steps from the closest IJG "
        "tables (0 when exact).",
        "For non-standard tables the quality is only the nearest IJG equivalent (the CSV and report say "
        "\"non-standard tables (closest IJG quality 94, mean step difference 0.99)\"): such a number is not "
        "the encoder's own setting. Low quality (70 and below) erases fine traces; see `degradation`.",
    ),
    "jpeg.subsampling / progressive": (
        "Chroma subsampling (4:4:4, 4:2:2, 4:2:0 or grayscale) and whether the JPEG is progressive.",
        "Informational: they describe the last encoder.",
    ),
    "jpeg.quantization_tables": ("The file's quantization tables (natural order).", "For expert comparison."),
    "jpeg.double_compression": (
        "A heuristic indication that the JPEG was compressed twice, the first time at a coarser step "
        "(periodic gaps in the histograms of its DCT coefficients), with its score and method.",
        "`indicated` says the image was decoded and saved again as JPEG, which is what editing a JPEG and "
        "re-saving it does, but also what re-uploading does. Not indicated proves nothing (a first "
        "compression at higher quality, or a crop or resize in between, leaves no trace). `null`: too few "
        "blocks or too fine a table to tell.",
    ),
    "exif_thumbnail": (
        "The small preview inside the EXIF block: present, its size, the mean difference (0-255) from the "
        "image, and whether they disagree (a different picture or shape).",
        "A thumbnail that shows a different picture often means the pixels were edited and the camera's "
        "EXIF block (with its original preview) was kept.",
    ),
    "degradation.notes": (
        "Conditions that weaken pixel evidence: low JPEG quality, a very small image, little fine detail "
        "(upscaled or smoothed).",
        "They qualify the detector's verdict on this file: a low score is weaker evidence of an unedited "
        "image. They are not a verdict.",
    ),
    "degradation.high_frequency_ratio": (
        "Spectral energy in the finest frequencies over a middle band (natural photographs: 0.08 and above).",
        "Below 0.04 the note about little fine detail is written.",
    ),
    "notes": (
        "Problems met while reading the metadata (a truncated chunk, an oversized block, a malformed EXIF).",
        "The part named was skipped; the rest of the record stands.",
    ),
}


def fields_markdown() -> str:
    """FIELDS as a Markdown table (the reference section of docs/provenance.md)."""
    rows = ["| Field | What it is | How to read it |", "|---|---|---|"]
    for name, (meaning, reading) in FIELDS.items():
        rows.append(f"| `{name}` | {meaning} | {reading} |")
    return "\n".join(rows) + "\n"
