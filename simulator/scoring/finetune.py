"""Training the encoder adapter (imports torch, transformers and peft: training time only, imported lazily by
train.py): LoRA updates learned together with provisional heads.

The model is transformers' `BertModel` (the installed package's weights, `minilm.bert`) wrapped by peft's LoRA
(`AdapterSettings.rank`, lora_alpha = scale * rank, the linear layers `adapter.TARGETS`, no dropout); only the
LoRA matrices and the heads train. Each step takes the replies to a few customer lines, encodes the lines and
the replies' sentences with the adapted encoder (sentences alone, as at scoring time: packed several to a row
with a block-diagonal mask and restarting positions, `minilm.packed_hidden_states`), builds the heads' features
from them (the same recipe as `heads.build_features`), and minimises the heads' cross-entropy plus a
distillation term that keeps each text's last-layer embedding close to the base model's. The provisional heads
are thrown away: `train.py` fits the shipped heads afterwards on the adapted encoder's features, as it does for
the base model. The result is an `adapter.Adapter` carrying peft's own config; `adapter.save_adapter` writes it
as a peft folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import peft
import torch

from simulator.scoring import minilm
from simulator.scoring.adapter import TARGETS, Adapter
from simulator.scoring.data import Example
from simulator.scoring.encoder import LAYERS, MAX_TOKENS, ROW_TOKENS, available_cpus, model_dir
from simulator.scoring.packing import load_tokenizer, pack


@dataclass(frozen=True)
class AdapterSettings:
    """Chosen on grouped CV folds of the train split (models/MODEL_CARD.md)."""

    rank: int = 8
    scale: float = 2.0
    epochs: int = 4
    learning_rate: float = 5e-3
    head_learning_rate: float = 1e-3
    head_weight_decay: float = 0.1
    feature_dropout: float = 0.3
    distill_weight: float = 2.0
    """Weight of (1 - cosine) between adapted and base last-layer embeddings, against the heads' loss."""
    lines_per_step: int = 3
    """Customer lines per optimiser step (with all of their replies)."""
    flag_weight: float = 1.0
    """Weight of the red flags' binary cross-entropy (rows labelled for red flags only), against the criteria's."""
    seed: int = 0


def fit_adapter(
    examples: Sequence[Example],
    levels: dict[str, int],
    recipe: Sequence[str],
    *,
    flags: Sequence[str] = (),
    settings: AdapterSettings = AdapterSettings(),
    log: Callable[[str], None] | None = None,
) -> Adapter:
    """Learn an adapter from labelled `examples` for criteria `levels` (criterion id -> top level) and, where rows
    are labelled for them, the red flags `flags`: a blaming clause in a warm reply is a few words in a mean, and
    the encoder has to learn to make them count for the flag (and the empathy cap) to see them."""
    from simulator.scoring.model import reply_sentences

    say = log or (lambda _msg: None)
    rng = np.random.default_rng(settings.seed)
    torch.set_num_threads(max(1, min(8, available_cpus())))
    folder = model_dir()
    tokenizer = load_tokenizer(folder, MAX_TOKENS)
    model = lora_model(folder, settings.rank, settings.scale, seed=settings.seed)
    criteria = list(levels)
    targets = torch.tensor([[e.labels[c] for c in criteria] for e in examples])
    flag_known = torch.tensor([e.red_flags is not None for e in examples])
    flag_targets = torch.tensor([[float(f in (e.red_flags or ())) for f in flags] for e in examples]).reshape(
        len(examples), len(flags))
    raised = flag_targets[flag_known].sum(dim=0)
    flags_learned = [k for k in range(len(flags)) if raised[k] > 0]
    # positives are rare (a few percent): weighting them by the negatives' share keeps the flag from being ignored
    flag_pos_weight = ((flag_known.sum() - raised) / raised.clamp(min=1)).clamp(max=20.0)
    sentences = [reply_sentences(e.reply) for e in examples]

    def pooled(encoder: torch.nn.Module, texts: list[str]) -> torch.Tensor:
        """(len(texts), len(LAYERS), D) normalised mean poolings, as Encoder computes them."""
        token_ids = [e.ids for e in tokenizer.encode_batch(texts)]
        packed = pack(token_ids, ROW_TOKENS)
        pool = torch.from_numpy(packed.pooling_matrix())
        hidden = minilm.packed_hidden_states(encoder, torch.from_numpy(packed.input_ids),
                                             torch.from_numpy(packed.allowed), torch.from_numpy(packed.position_ids))
        out = torch.stack([pool @ hidden[layer].reshape(pool.shape[1], -1) for layer in LAYERS], dim=1)
        return torch.nn.functional.normalize(out, dim=-1)

    def features(vectors: torch.Tensor, index: dict[str, int], rows: Sequence[int]) -> torch.Tensor:
        return torch.stack([
            _recipe_features(recipe, vectors[index[examples[r].context]],
                             vectors[[index[s] for s in sentences[r]]])
            for r in rows
        ])

    def texts_of(rows: Sequence[int]) -> list[str]:
        return list(dict.fromkeys(t for r in rows for t in (examples[r].context, *sentences[r])))

    # The base model's embeddings (peft's adapter switched off): the distillation targets, and the features'
    # standardisation (as the heads'). Not inference_mode: these tensors take part in the training graph.
    with torch.no_grad(), model.disable_adapter():
        every = list(range(len(examples)))
        texts = texts_of(every)
        base_vectors = torch.cat([pooled(model, texts[i : i + 64]) for i in range(0, len(texts), 64)])
        base_index = {t: i for i, t in enumerate(texts)}
        base_features = features(base_vectors, base_index, every)
    mean = base_features.mean(dim=0)
    scale = base_features.std(dim=0).clamp(min=1e-6)
    heads = torch.nn.ModuleList(torch.nn.Linear(base_features.shape[1], levels[c] + 1) for c in criteria)
    flag_heads = torch.nn.ModuleList(torch.nn.Linear(base_features.shape[1], 1) for _ in flags)

    groups: dict[str, list[int]] = {}
    for row, example in enumerate(examples):
        groups.setdefault(example.context, []).append(row)
    batches_of_lines = list(groups.values())
    steps = settings.epochs * math.ceil(len(batches_of_lines) / settings.lines_per_step)
    optimiser = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": settings.learning_rate,
         "weight_decay": 0.0},
        {"params": [*heads.parameters(), *flag_heads.parameters()], "lr": settings.head_learning_rate,
         "weight_decay": settings.head_weight_decay},
    ])
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[settings.learning_rate, settings.head_learning_rate], total_steps=steps, pct_start=0.1
    )
    say(f"fine-tuning the encoder adapter (rank {settings.rank}) on {len(examples)} rows, "
        f"{settings.epochs} epochs of {math.ceil(len(batches_of_lines) / settings.lines_per_step)} steps"
        + (f"; red flags {', '.join(flags[k] for k in flags_learned)} from {int(flag_known.sum())} rows"
           if flags_learned else "") + "…")
    for epoch in range(settings.epochs):
        order = rng.permutation(len(batches_of_lines))
        losses: list[float] = []
        flag_losses: list[float] = []
        drift: list[float] = []
        for start in range(0, len(order), settings.lines_per_step):
            rows = [r for g in order[start : start + settings.lines_per_step] for r in batches_of_lines[g]]
            texts = texts_of(rows)
            index = {t: i for i, t in enumerate(texts)}
            adapted = pooled(model, texts)
            reference = base_vectors[[base_index[t] for t in texts], -1]
            x = (features(adapted, index, rows) - mean) / scale
            x = torch.nn.functional.dropout(x, settings.feature_dropout, training=True)
            y = targets[rows]
            loss_heads = sum(
                torch.nn.functional.cross_entropy(head(x), y[:, k]) for k, head in enumerate(heads)
            ) / len(heads)
            known = flag_known[rows]
            loss_flags = torch.zeros(())
            if flags_learned and bool(known.any()):
                xk = x[known]
                loss_flags = sum(
                    torch.nn.functional.binary_cross_entropy_with_logits(
                        flag_heads[k](xk)[:, 0], flag_targets[rows][known][:, k], pos_weight=flag_pos_weight[k])
                    for k in flags_learned
                ) / len(flags_learned)
            distance = (1 - (adapted[:, -1] * reference).sum(dim=-1)).mean()
            loss = loss_heads + settings.flag_weight * loss_flags + settings.distill_weight * distance
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss_heads.detach()))
            flag_losses.append(float(loss_flags.detach()))
            drift.append(float(distance.detach()))
        say(f"  epoch {epoch + 1}: heads' loss {np.mean(losses):.3f}, red flags' {np.mean(flag_losses):.3f}, "
            f"mean cosine to the base embeddings {1 - np.mean(drift):.4f}")
    return to_adapter(model, meta={
        "rank": settings.rank,
        "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
        "rows": len(examples),
        "criteria": criteria,
        "red_flags": [flags[k] for k in flags_learned],
        "trained_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })


def _recipe_features(recipe: Sequence[str], context: torch.Tensor, sentences: torch.Tensor) -> torch.Tensor:
    """One row of `heads.build_features` in torch: context (L, D), sentences (k, L, D)."""
    smax = sentences.max(dim=0).values
    smin = sentences.min(dim=0).values
    smean = sentences.mean(dim=0)
    blocks = []
    for item in recipe:
        name, _, layer_text = item.partition("@")
        at = LAYERS.index(int(layer_text))
        blocks.append({
            "c": lambda: context[at],
            "x": lambda: smean[at] * context[at],
            "smax": lambda: smax[at],
            "smin": lambda: smin[at],
            "smean": lambda: smean[at],
        }[name]())
    return torch.cat(blocks)


def lora_model(folder: Path, rank: int, scale: float, *, seed: int = 0) -> peft.PeftModel:
    """transformers' BertModel wrapped by peft's LoRA on TARGETS: `W x + scale * B (A x)`; only A and B train.

    A starts as it did before the move to peft (normal, std 1/sqrt(in), drawn layer by layer in TARGETS order
    from torch's generator seeded with `seed`, which the loop's feature dropout then goes on using), B at zero:
    training starts from the base model exactly, and the tuned learning rates keep their meaning."""
    config = peft.LoraConfig(r=rank, lora_alpha=scale * rank, target_modules=list(TARGETS), lora_dropout=0.0,
                             bias="none")
    with warnings.catch_warnings():  # peft asks transformers a question transformers 5 has renamed
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        model = peft.get_peft_model(minilm.bert(folder), config)
    model.eval()  # BERT's own dropout off; the LoRA parameters still get gradients
    base = model.get_base_model()
    torch.manual_seed(seed)
    with torch.no_grad():
        for i in range(base.config.num_hidden_layers):
            for target in TARGETS:
                layer = base.get_submodule(f"encoder.layer.{i}.{target}")
                a = layer.lora_A["default"].weight
                a.copy_(torch.randn(a.shape) / math.sqrt(a.shape[1]))
                torch.nn.init.zeros_(layer.lora_B["default"].weight)
    return model


def to_adapter(model: peft.PeftModel, meta: dict) -> Adapter:
    """The trained matrices as an `adapter.Adapter` (numpy), with the adapter_config.json peft writes."""
    base = model.get_base_model()
    down: dict[str, np.ndarray] = {}
    up: dict[str, np.ndarray] = {}
    for name, module in base.named_modules():
        if isinstance(module, peft.tuners.lora.LoraLayer) and "default" in module.lora_A:
            down[f"{name}.weight"] = module.lora_A["default"].weight.detach().cpu().numpy().copy()
            up[f"{name}.weight"] = module.lora_B["default"].weight.detach().cpu().numpy().copy()
    lora = model.peft_config["default"]
    with tempfile.TemporaryDirectory() as folder:
        lora.save_pretrained(folder)
        config = json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8"))
    return Adapter(scale=lora.lora_alpha / lora.r, down=down, up=up, meta=meta, config=config)
