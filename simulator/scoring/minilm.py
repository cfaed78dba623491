"""A BERT encoder forward pass in plain torch, for all-MiniLM-L6-v2's weights.

transformers' BertModel gives the same numbers (tests/test_minilm.py compares them), but importing its
modelling code costs 3–4 s on two cores before a single reply can be scored; this module needs only torch
and safetensors. Import it inside functions only: it imports torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors.torch import load_file

from simulator.scoring.packing import read_config


class MiniLM(torch.nn.Module):
    """Encoder-only BERT: embeddings, then `layers` of self-attention + feed-forward, post-LayerNorm."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor], device: torch.device):
        """config as from `packing.read_config`, which checks it is a BERT this forward implements."""
        super().__init__()
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.max_positions = int(config["max_position_embeddings"])
        self.w = {k: v.float().contiguous().to(device) for k, v in weights.items() if not k.startswith("pooler.")}

    def _norm(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(
            x, (self.hidden,), self.w[f"{prefix}.weight"], self.w[f"{prefix}.bias"], self.eps
        )

    def _dense(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.w[f"{prefix}.weight"], self.w[f"{prefix}.bias"])

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """The hidden states after the embeddings (index 0) and after each layer, each (batch, tokens, hidden).

        attention_mask is (batch, tokens), 1 for real tokens and 0 for padding; or, for packed rows,
        (batch, tokens, tokens), true where a token may attend to another (see `packing.pack`).
        """
        w = self.w
        batch, length = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(length, device=input_ids.device)[None]
        x = w["embeddings.word_embeddings.weight"][input_ids]
        x = x + w["embeddings.position_embeddings.weight"][position_ids]
        x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
        x = self._norm(x, "embeddings.LayerNorm")
        states = [x]
        head_dim = self.hidden // self.heads
        # Padding tokens (and, in packed rows, the other texts' tokens) are never attended to.
        allowed = attention_mask[:, None, None, :] if attention_mask.dim() == 2 else attention_mask[:, None]
        mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(~allowed.bool(), torch.finfo(x.dtype).min)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            attended = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, scale=1.0 / math.sqrt(head_dim)
            )
            attended = attended.transpose(1, 2).reshape(batch, length, self.hidden)
            x = self._norm(x + self._dense(attended, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            inner = torch.nn.functional.gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._dense(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
            states.append(x)
        return states


def load(folder: Path, device: torch.device, adapter=None) -> MiniLM:
    """The encoder, with `adapter` (an `adapter.Adapter`) merged into its weights when given. The tokenizer is
    `packing.load_tokenizer`'s: this forward takes packed rows."""
    weights = load_file(str(folder / "model.safetensors"))
    if adapter is not None:
        weights = {name: torch.from_numpy(adapter.merged(name, w.float().numpy())) for name, w in weights.items()}
    return MiniLM(read_config(folder), weights, device)
