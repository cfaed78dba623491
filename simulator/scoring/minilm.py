"""all-MiniLM-L6-v2 as transformers' `BertModel`, taking packed rows: the torch backend (CUDA, or
FRONTLINE_BACKEND=torch) and the model that `finetune.py` trains and `onnx_export.py` exports.

Packed rows (`packing.pack`) hold several texts each; the (rows, tokens, tokens) `allowed` mask becomes the
4D additive mask transformers takes as it is, and the restarting position ids go in as `position_ids`, so each
text is encoded as if it were alone (tests/model/test_minilm.py checks it). Importing transformers' modelling
code costs seconds, which is why the CPU path runs an ONNX graph instead. Import this module inside functions
only: it imports torch and transformers.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import torch
import transformers

from simulator.scoring.packing import read_config

ATTENTION = "sdpa"
"""transformers' attention implementation: torch's scaled_dot_product_attention, which takes the float mask."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without transformers' load report (the pooler weights this model does not use) and progress bar."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def bert(folder: Path, *, attention: str = ATTENTION) -> transformers.BertModel:
    """The base model from the installed package's folder (never downloaded), float32, in eval mode (no dropout:
    training updates the adapter's parameters, not the model's behaviour)."""
    read_config(folder)  # refuse what is not the BERT the other backend implements
    with _quiet():
        model = transformers.BertModel.from_pretrained(
            str(folder), local_files_only=True, dtype=torch.float32, add_pooling_layer=False,
            attn_implementation=attention,
        )
    return model.eval()


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(rows, 1, tokens, tokens): 0 where a token may attend to another (`allowed`, (rows, tokens, tokens)),
    the dtype's lowest value elsewhere. Not -inf: a padding token, which may attend to nothing, then gets a
    uniform (ignored) attention instead of NaN."""
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return mask.masked_fill(~allowed.bool(), torch.finfo(dtype).min)[:, None]


def packed_hidden_states(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
    position_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """The hidden states of `model` (a BertModel, or peft's wrapper of one): index 0 after the embeddings, i after
    layer i, each (rows, tokens, hidden). attention_mask is (rows, tokens), 1 for real tokens, or for packed
    rows (rows, tokens, tokens), true where a token may attend to another."""
    if attention_mask.dim() == 3:
        attention_mask = additive_mask(attention_mask)
    return model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
        token_type_ids=torch.zeros_like(input_ids), output_hidden_states=True,
    ).hidden_states


class MiniLM(torch.nn.Module):
    """The encoder's callable: (input_ids, attention_mask, position_ids) -> hidden states indexed by layer."""

    def __init__(self, model: transformers.BertModel):
        super().__init__()
        self.bert = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        return packed_hidden_states(self.bert, input_ids, attention_mask, position_ids)


def merge_adapter(model: transformers.BertModel, adapter) -> transformers.BertModel:
    """Add `adapter`'s update (an `adapter.Adapter`) to the weights it names, as the ONNX path merges it."""
    with torch.no_grad():
        for name in adapter.down:
            parameter = model.get_parameter(name)
            merged = adapter.merged(name, parameter.detach().cpu().numpy())
            parameter.copy_(torch.from_numpy(merged))
    return model


def load(folder: Path, device: torch.device, adapter=None) -> MiniLM:
    """The encoder, with `adapter` (an `adapter.Adapter`) merged into its weights when given. The tokenizer is
    `packing.load_tokenizer`'s: this forward takes packed rows."""
    model = bert(folder)
    if adapter is not None:
        merge_adapter(model, adapter)
    return MiniLM(model.to(device)).eval()
