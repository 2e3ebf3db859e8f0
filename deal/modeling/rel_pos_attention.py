"""Global attention with SAM's decomposed rel-pos bias, through SDPA or through FlexAttention.

timm's Attention (the SDPA path) builds the decomposed rel-pos bias as a dense (B*heads, N, N) attention
mask: at 1024x1024 (N = 4096) that is 12 GiB per global block at batch 32 in bf16, kept for backward,
and it keeps SDPA off its flash kernels. The FlexAttention path adds the same bias inside the kernel:
score_mod(score, b, h, q, k) = score + rel_h[b, h, q, k // W] + rel_w[b, h, q, k % W], where rel_h
(B, heads, N, H) and rel_w (B, heads, N, W) are the two small tables the dense bias is the sum of.
Gradients flow through the tables to the queries (hence to the block input and the prompts).

How FlexAttention runs (torch 2.14):
- CUDA: torch.compile(flex_attention) generates a fused Triton kernel with a backward pass; inside an
  already compiled model the plain function is traced into it.
- CPU: the public flex_attention refuses tensors that require grad ("does not support backward on
  CPU"); compiled, it is inference only; eager, it materializes the full score matrix. Here the CPU (and
  any non-CUDA device) runs FlexAttention's own reference implementation of the same higher-order op
  (dense, forward and backward), traced with the "eager" backend exactly as flex_attention does in eager
  mode: the score_mod is the one the CUDA kernel runs, so the parity tests on CPU test it, but nothing
  is saved in memory there.

Backends: "sdpa" (timm's path), "flex", "auto" (flex when the attention input needs a gradient, on CUDA
with Triton and FlexAttention importable; SDPA otherwise: inference, the CPU).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from typing import Any

import torch
from timm.models.vision_transformer_sam import Attention, get_rel_pos
from torch import nn

ATTENTION_BACKENDS = ("auto", "sdpa", "flex")

_compiled_flex: Callable[..., torch.Tensor] | None = None
_reference_hop: Callable[..., Any] | None = None


def flex_attention_available(device_type: str = "cuda") -> bool:
    """FlexAttention importable (torch >= 2.5), and on CUDA Triton too (its kernels are Triton)."""
    try:
        from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    if device_type == "cuda":
        return importlib.util.find_spec("triton") is not None
    try:  # the reference path uses two helpers of torch's own flex_attention
        from torch._higher_order_ops.flex_attention import flex_attention as _hop  # noqa: F401
        from torch.nn.attention.flex_attention import (  # noqa: F401
            _apply_kernel_options,
            _create_empty_block_mask,
        )
    except ImportError:
        return False
    return True


def check_backend(backend: str) -> str:
    if backend not in ATTENTION_BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; choose from {list(ATTENTION_BACKENDS)}")
    return backend


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """The backend one call uses: "sdpa" or "flex". "auto" picks flex for a training step on CUDA."""
    if check_backend(backend) != "auto":
        return backend
    needs_grad = torch.is_grad_enabled() and x.requires_grad
    if needs_grad and x.device.type == "cuda" and flex_attention_available("cuda"):
        return "flex"
    return "sdpa"


def decomposed_rel_pos_tables(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """q (B, heads, H*W, C) -> rel_h (B, heads, H*W, H), rel_w (B, heads, H*W, W): the dense bias of
    timm/segment-anything is bias[q, kh*W + kw] = rel_h[q, kh] + rel_w[q, kw]."""
    b, heads, n, c = q.shape
    r_q = q.reshape(b, heads, height, width, c)
    rh = get_rel_pos(height, height, rel_pos_h)  # (H, H, C), resampled for other grids
    rw = get_rel_pos(width, width, rel_pos_w)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh).reshape(b, heads, n, height)
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw).reshape(b, heads, n, width)
    return rel_h, rel_w


def _hop_wrapper(*args: Any) -> Any:
    from torch._higher_order_ops.flex_attention import flex_attention as flex_attention_hop

    return flex_attention_hop(*args)


def _reference_flex(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, score_mod: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """FlexAttention's reference (dense) implementation, forward and backward, on any device."""
    global _reference_hop
    from torch.nn.attention.flex_attention import _apply_kernel_options, _create_empty_block_mask

    if _reference_hop is None:
        # what flex_attention itself does in eager mode: the "eager" backend lifts the tensors the
        # score_mod captures into inputs of the op, so they get gradients
        _reference_hop = torch.compile(_hop_wrapper, backend="eager", fullgraph=True)
    block_mask = _create_empty_block_mask(q, k)
    kernel_options = _apply_kernel_options(q, k, v, False, None, None)
    scale = 1.0 / math.sqrt(q.size(-1))
    out, _, _ = _reference_hop(q, k, v, score_mod, block_mask.as_tuple(), scale, kernel_options)
    return out


def flex_rel_pos_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel_h: torch.Tensor, rel_w: torch.Tensor
) -> torch.Tensor:
    """softmax(q k^T / sqrt(C) + rel_h[.., k // W] + rel_w[.., k % W]) v without a (N, N) bias tensor.

    q, k, v (B, heads, N, C); rel_h (B, heads, N, H); rel_w (B, heads, N, W); N = H * W.
    """
    width = rel_w.shape[-1]

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + rel_h[b, h, q_idx, kv_idx // width] + rel_w[b, h, q_idx, kv_idx % width]

    if q.device.type != "cuda":
        return _reference_flex(q, k, v, score_mod)
    from torch.nn.attention.flex_attention import flex_attention

    if torch.compiler.is_compiling():  # inside a compiled model: traced into its graph
        return flex_attention(q, k, v, score_mod=score_mod)
    global _compiled_flex
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention)
    return _compiled_flex(q, k, v, score_mod=score_mod)


class RelPosAttention(Attention):
    """timm's SAM Attention (same parameters and state-dict keys) with a choice of backend.

    backend "sdpa" is timm's forward unchanged (dense bias as SDPA's mask); "flex" applies the bias
    through FlexAttention's score_mod; "auto" chooses per call (resolve_backend).
    """

    def __init__(
        self, dim: int, num_heads: int, input_size: tuple[int, int], qkv_bias: bool = True, backend: str = "auto"
    ) -> None:
        super().__init__(dim, num_heads=num_heads, qkv_bias=qkv_bias, use_rel_pos=True, input_size=input_size)
        self.backend = check_backend(backend)
        self.last_backend: str | None = None  # what the latest call used (tests, benchmarks)

    @classmethod
    def from_timm(cls, attn: Attention, backend: str = "auto") -> RelPosAttention:
        """The same attention (weights copied) with a backend choice."""
        if not attn.use_rel_pos or not isinstance(attn.q_norm, nn.Identity):
            raise ValueError("RelPosAttention replaces SAM's rel-pos attention without q/k norm only")
        new = cls(
            attn.qkv.in_features,
            attn.num_heads,
            ((attn.rel_pos_h.shape[0] + 1) // 2, (attn.rel_pos_w.shape[0] + 1) // 2),
            qkv_bias=attn.qkv.bias is not None,
            backend=backend,
        )
        new.fused_attn = attn.fused_attn
        new.load_state_dict(attn.state_dict())
        new = new.to(device=attn.qkv.weight.device, dtype=attn.qkv.weight.dtype).train(attn.training)
        for p_new, p_old in zip(new.parameters(), attn.parameters()):
            p_new.requires_grad_(p_old.requires_grad)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        backend = resolve_backend(self.backend, x)
        if self.training and self.attn_drop.p > 0:
            backend = "sdpa"  # FlexAttention has no attention dropout (SAM uses none)
        self.last_backend = backend
        if backend == "sdpa":
            return super().forward(x)
        b, height, width, _ = x.shape
        n = height * width
        qkv = self.qkv(x.reshape(b, n, -1)).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, N, C)
        rel_h, rel_w = decomposed_rel_pos_tables(q, self.rel_pos_h, self.rel_pos_w, height, width)
        out = flex_rel_pos_attention(q, k, v, rel_h, rel_w)
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.proj_drop(self.proj(out)).view(b, height, width, -1)


def set_attention_backend(encoder: nn.Module, backend: str) -> int:
    """Gives every global-attention block of a timm VisionTransformerSAM a RelPosAttention with `backend`
    (windowed blocks keep timm's SDPA attention: their bias is small). Returns the number of blocks."""
    check_backend(backend)
    count = 0
    for block in encoder.blocks:
        if block.window_size > 0 or not getattr(block.attn, "use_rel_pos", False):
            continue
        if isinstance(block.attn, RelPosAttention):
            block.attn.backend = backend
        else:
            block.attn = RelPosAttention.from_timm(block.attn, backend)
        count += 1
    return count
