"""Generator traces: what image generators and their front-ends leave in a file's metadata.

A trace is a fact about the file's metadata ("a PNG text chunk named 'parameters' holds a Stable Diffusion
prompt"), not a verdict about its pixels: metadata is easy to strip and easy to forge.
"""

from __future__ import annotations

import re
from typing import Any

from deal.provenance.limits import MAX_EXCERPT_CHARS

# PNG text keywords written by generator front-ends -> the tool they point to.
PNG_KEYWORDS = {
    "parameters": "Stable Diffusion web UI (AUTOMATIC1111, Forge, SD.Next or a compatible front-end)",
    "prompt": "ComfyUI (its prompt graph)",
    "workflow": "ComfyUI (its workflow)",
    "invokeai_metadata": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "Dream": "InvokeAI (legacy 'Dream' metadata)",
    "generation_data": "a generator front-end (generation_data)",
}
# Names of generative-AI tools, matched as words in EXIF Software, XMP CreatorTool, PNG Software/Source,
# a C2PA claim generator.
KNOWN_AI_SOFTWARE = (
    "Adobe Firefly", "Firefly", "DALL-E", "DALL·E", "Midjourney", "Stable Diffusion", "StableDiffusion",
    "ComfyUI", "NovelAI", "InvokeAI", "Imagen", "FLUX", "Black Forest Labs", "Leonardo.Ai", "Ideogram",
    "Runway", "Bing Image Creator", "Dreamstudio", "Fooocus", "Automatic1111",
)  # fmt: skip
_AI_PATTERN = re.compile(
    r"(?<![\w])(" + "|".join(re.escape(n) for n in KNOWN_AI_SOFTWARE) + r")(?![\w])", re.I
)
# A1111 writes its parameters in JPEG/WebP EXIF UserComment: "<prompt>\nSteps: 20, Sampler: ..., Seed: ..."
_A1111_PARAMETERS = re.compile(r"Steps: \d+, Sampler: ", re.S)


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_EXCERPT_CHARS else text[: MAX_EXCERPT_CHARS - 1] + "…"


def known_ai_tool(text: str | None) -> str | None:
    """The known generative-AI tool named in `text` (as written there), or None."""
    if not text:
        return None
    m = _AI_PATTERN.search(text[:10_000])
    return m.group(1) if m else None


def png_traces(texts: dict[str, str]) -> list[dict[str, Any]]:
    traces = []
    for key, tool in PNG_KEYWORDS.items():
        if key in texts and texts[key].strip():
            traces.append({"source": f"PNG text chunk {key!r}", "tool": tool, "excerpt": excerpt(texts[key])})
    for key in ("Software", "Source", "Comment", "Description"):
        name = known_ai_tool(texts.get(key))
        if name:
            traces.append({"source": f"PNG text chunk {key!r}", "tool": name, "excerpt": excerpt(texts[key])})
    return traces


def metadata_traces(metadata: dict[str, Any], user_comment: str | None) -> list[dict[str, Any]]:
    """Traces in the EXIF/XMP summary (deal.provenance.exif) and the EXIF UserComment."""
    traces = []
    for key, source in (
        ("software", "EXIF Software"),
        ("creator_tool", "XMP CreatorTool"),
        ("make", "EXIF Make"),
    ):
        name = known_ai_tool(metadata.get(key))
        if name:
            traces.append({"source": source, "tool": name, "excerpt": excerpt(str(metadata[key]))})
    for value in metadata.get("xmp_digital_source_types") or []:
        if value.rsplit("/", 1)[-1] in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"):
            traces.append(
                {"source": "XMP IPTC DigitalSourceType", "tool": "generative AI (declared)", "excerpt": value}
            )
    if user_comment and _A1111_PARAMETERS.search(user_comment[:100_000]):
        traces.append(
            {
                "source": "EXIF UserComment",
                "tool": PNG_KEYWORDS["parameters"],
                "excerpt": excerpt(user_comment),
            }
        )
    return traces
