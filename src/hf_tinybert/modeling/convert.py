"""Checkpoint conversion: original TinyBERT checkpoints in, plain BERT out, students initialised from teachers.

Three jobs, one per public function:

- `convert_original_checkpoint` (and `load_original_checkpoint`, its in-memory half) reads a checkpoint
  written by the official TinyBERT code (huawei-noah/Pretrained-Language-Model) or one of its Hub copies
  and writes a TinyBERT student folder (model type `tinybert`, loadable with `AutoModel*.from_pretrained`).
- `to_plain_bert` (and `as_plain_bert`) relabels a student as a plain `bert` model that anyone can load
  with no custom code: same weights, same outputs.
- `init_student_from_teacher` builds a student with the teacher's width from a subset of its layers
  (DistilBERT-style initialisation); `save_student` writes it with the teacher's tokenizer.

Original checkpoints
--------------------
A folder with `config.json` (no `model_type`, or `model_type: "bert"`; the official code's extra keys `cell`,
`emb_size`, `pre_trained`, `structure` are dropped), the weights as `model.safetensors` or `pytorch_model.bin`
(a pickle: loaded with `torch.load(weights_only=True)`, which refuses anything but tensors), and `vocab.txt`.
Weight names: `bert.*` (LayerNorm `gamma`/`beta` are renamed `weight`/`bias`), `cls.predictions.*` (masked-LM
head), `cls.seq_relationship.*` (next-sentence head: always dropped), `classifier.*` (sequence or token
classification), `qa_outputs.*` (question answering), and the distillation projections `fit_dense.*` or
`fit_denses.N.*`.

Which head the student gets: `head=` if given, else `qa_outputs.*` -> question answering, `classifier.*` ->
sequence classification (token classification when `config.json`'s `architectures` says so; otherwise pass
`head="token-classification"`), otherwise the bare encoder. The masked-LM head of general TinyBERT checkpoints
was never trained by the official code (only the tied decoder is meaningful), so it is kept only with
`head="masked-lm"`.

Distillation projections file
-----------------------------
The projections the official code trains beside the student (W_e, W_h in the paper: `nn.Linear(hidden_size,
fit_size)` maps a student hidden state to the teacher's width) are not part of the student. They are saved next
to it as `distill_projections.safetensors` (`DISTILL_PROJECTIONS_FILE`) so that distillation can resume from
them. Tensors use `torch.nn.Linear`'s layout: `weight` has shape `(fit_size, hidden_size)`, `bias` `(fit_size,)`.

- One projection shared by the embeddings and every layer (the official code's `fit_dense`):
  keys `shared.weight`, `shared.bias`.
- One projection per mapped output (the v2 general checkpoints' `fit_denses.0..M`):
  keys `embeddings.weight`, `embeddings.bias` (was `fit_denses.0`, applied to the embedding output) and
  `layers.{i}.weight`, `layers.{i}.bias` for `i` in `0..num_hidden_layers-1` (was `fit_denses.{i+1}`, applied
  to the output of student layer `encoder.layer[i]`, i.e. `hidden_states[i + 1]`).

The safetensors metadata holds `format` (`"hf-tinybert-distill-projections"`), `format_version` (`"1"`),
`layout` (`"shared"` or `"per-layer"`), `hidden_size`, `fit_size` and `num_hidden_layers` (as strings).
`load_distill_projections` reads and checks such a file; `save_distill_projections` writes one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn
from transformers import (
    AutoConfig,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging

from .layer_map import build_layer_map
from .configuration_tinybert import TinyBertConfig
from .modeling_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
    TinyBertPreTrainedModel,
)

logger = logging.get_logger(__name__)

# head -> (TinyBERT class, plain BERT class with the same weights)
HEAD_CLASSES: dict[str, tuple[type[TinyBertPreTrainedModel], type[PreTrainedModel]]] = {
    "base": (TinyBertModel, BertModel),
    "sequence-classification": (TinyBertForSequenceClassification, BertForSequenceClassification),
    "question-answering": (TinyBertForQuestionAnswering, BertForQuestionAnswering),
    "token-classification": (TinyBertForTokenClassification, BertForTokenClassification),
    "masked-lm": (TinyBertForMaskedLM, BertForMaskedLM),
}
HEADS: tuple[str, ...] = tuple(HEAD_CLASSES)

# architecture name suffix (after "Bert"/"TinyBert") -> head
_HEAD_BY_ARCHITECTURE_SUFFIX: dict[str, str] = {
    "Model": "base",
    "ForSequenceClassification": "sequence-classification",
    "ForQuestionAnswering": "question-answering",
    "ForTokenClassification": "token-classification",
    "ForMaskedLM": "masked-lm",
    "ForPreTraining": "masked-lm",
}

LAYER_STRATEGIES: tuple[str, ...] = ("uniform", "first", "last")

DISTILL_PROJECTIONS_FILE = "distill_projections.safetensors"
DISTILL_PROJECTIONS_FORMAT = "hf-tinybert-distill-projections"

ORIGINAL_WEIGHTS_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
_ORIGINAL_MODEL_TYPES = (None, "bert")
# Fields a TinyBERT config takes from an original config.json (BERT's fields plus the label maps).
_BERT_FIELDS = frozenset(f.name for f in dataclasses.fields(BertConfig)) - {
    "architectures",
    "transformers_version",
    "dtype",
}
_KNOWN_PREFIXES = (
    "bert.",
    "cls.predictions.",
    "cls.seq_relationship.",
    "classifier.",
    "qa_outputs.",
    "fit_dense.",
    "fit_denses.",
)
# Weights of each head outside the encoder.
_HEAD_PREFIXES: dict[str, tuple[str, ...]] = {
    "base": (),
    "sequence-classification": ("classifier.",),
    "token-classification": ("classifier.",),
    "question-answering": ("qa_outputs.",),
    "masked-lm": ("cls.predictions.",),
}


@dataclasses.dataclass
class OriginalCheckpoint:
    """An original TinyBERT checkpoint loaded into our classes (what `load_original_checkpoint` returns).

    Attributes:
        model: the student, a `TinyBertPreTrainedModel` of the chosen head, in eval mode.
        head: the head's name (one of `HEADS`).
        projections: the distillation projections in the `distill_projections.safetensors` layout, or `None`
            when the checkpoint has none.
        projection_layout: `"shared"`, `"per-layer"` or `None`.
        tokenizer: a `BertTokenizerFast` built from the checkpoint's `vocab.txt`, or `None` if it has none.
        dropped_keys: checkpoint weights that are not part of the student (next-sentence head, unused heads,
            projections, buffers).
        initialized_keys: student weights the checkpoint did not have (a head chosen with `head=` that the
            checkpoint lacks); they are randomly initialised.
    """

    model: TinyBertPreTrainedModel
    head: str
    projections: dict[str, torch.Tensor] | None
    projection_layout: str | None
    tokenizer: PreTrainedTokenizerBase | None
    dropped_keys: list[str]
    initialized_keys: list[str]


@dataclasses.dataclass
class ConversionResult:
    """What `convert_original_checkpoint` wrote.

    Attributes:
        output_dir: the student folder.
        head: the head's name (one of `HEADS`).
        model_class: name of the saved class, e.g. `"TinyBertForSequenceClassification"`.
        fit_size: the `fit_size` written into the config.
        projections_file: path of `distill_projections.safetensors`, or `None` if the checkpoint had none.
        tokenizer_saved: whether tokenizer files were written.
        dropped_keys: see `OriginalCheckpoint.dropped_keys`.
        initialized_keys: see `OriginalCheckpoint.initialized_keys`.
    """

    output_dir: Path
    head: str
    model_class: str
    fit_size: int
    projections_file: Path | None
    tokenizer_saved: bool
    dropped_keys: list[str]
    initialized_keys: list[str]


# --------------------------------------------------------------------------------------------------------------
# Original checkpoints in
# --------------------------------------------------------------------------------------------------------------


def load_original_checkpoint(
    checkpoint_dir: str | os.PathLike,
    *,
    head: str | None = None,
    num_labels: int | None = None,
    fit_size: int | None = None,
    do_lower_case: bool | None = None,
) -> OriginalCheckpoint:
    """Load an original TinyBERT checkpoint (official code or Hub copy) into a TinyBERT student, in memory.

    Args:
        checkpoint_dir: folder with `config.json`, `model.safetensors` or `pytorch_model.bin`, and `vocab.txt`.
        head: the student's head, one of `HEADS`; inferred from the weight names when `None` (see the module
            docstring). A head the checkpoint lacks is randomly initialised (listed in `initialized_keys`).
        num_labels: number of labels of a classification head. Read from the `classifier.weight` shape when the
            checkpoint has one (a different value is an error); default 2 otherwise.
        fit_size: the teacher's hidden size, for the config's `fit_size`. Read from the projection weights when
            the checkpoint has them (a different value is an error); default 768 (BERT-base) otherwise.
        do_lower_case: whether the tokenizer lower-cases; default: the checkpoint's `tokenizer_config.json` if
            any, else `True` (the released TinyBERT models are uncased).

    Returns:
        An `OriginalCheckpoint` with the model, the projections and the tokenizer.

    Raises:
        FileNotFoundError: if the folder or its `config.json` / weights file is missing.
        ValueError: for an unsupported `head`/`model_type`/weight name, a pickle that holds more than tensors,
            a weight whose shape does not match the config, or missing encoder weights.
    """
    if head is not None and head not in HEAD_CLASSES:
        raise ValueError(f"Unknown head {head!r}; valid heads are: {', '.join(HEADS)}")
    if num_labels is not None and num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    folder = Path(checkpoint_dir)
    config_dict = _read_original_config(folder)
    state_dict = _normalize_original_keys(_read_original_weights(folder))

    projections, layout, projection_keys = _extract_projections(state_dict, config_dict)
    dropped = list(projection_keys)
    if projections is not None:
        weight_key = "shared.weight" if layout == "shared" else "embeddings.weight"
        found_fit_size = int(projections[weight_key].shape[0])
        if fit_size is not None and fit_size != found_fit_size:
            raise ValueError(
                f"fit_size={fit_size} does not match the checkpoint's projections: their weights have shape "
                f"{tuple(projections[weight_key].shape)}, i.e. they map to fit_size={found_fit_size}"
            )
        fit_size = found_fit_size
    elif fit_size is None:
        fit_size = 768
        logger.info("The checkpoint has no fit_dense projections; fit_size set to 768 (BERT-base teacher).")

    head = head or _infer_head(state_dict, config_dict)
    tiny_cls, _ = HEAD_CLASSES[head]
    num_labels = _resolve_num_labels(head, state_dict, config_dict, num_labels)

    config_kwargs = {k: v for k, v in config_dict.items() if k in _BERT_FIELDS}
    extra = sorted(set(config_dict) - _BERT_FIELDS - {"model_type"})
    if extra:
        logger.info(f"Dropping config.json keys that BERT does not use: {', '.join(extra)}")
    id2label = config_kwargs.pop("id2label", None)
    label2id = config_kwargs.pop("label2id", None)
    if id2label and len(id2label) == num_labels:
        config_kwargs["id2label"] = {int(k): v for k, v in id2label.items()}
        if label2id:
            config_kwargs["label2id"] = label2id
    else:
        config_kwargs["num_labels"] = num_labels
    try:
        config = TinyBertConfig(**config_kwargs, fit_size=fit_size)
    except (StrictDataclassError, TypeError, ValueError) as err:  # strict validation of a hand-written config
        raise ValueError(f"{folder / 'config.json'} is not a valid BERT config: {err}") from err
    model = tiny_cls(config)

    dropped += _drop_unused_keys(state_dict, head, model)
    initialized = _load_checked(model, state_dict, source=str(folder))
    model.eval()

    tokenizer = _read_original_tokenizer(folder, config, do_lower_case)
    return OriginalCheckpoint(
        model=model,
        head=head,
        projections=projections,
        projection_layout=layout,
        tokenizer=tokenizer,
        dropped_keys=sorted(dropped),
        initialized_keys=initialized,
    )


def convert_original_checkpoint(
    checkpoint_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    head: str | None = None,
    num_labels: int | None = None,
    fit_size: int | None = None,
    do_lower_case: bool | None = None,
    overwrite: bool = False,
) -> ConversionResult:
    """Convert an original TinyBERT checkpoint into a TinyBERT student folder.

    The folder holds the model (`config.json` with `model_type: "tinybert"`, `fit_size` and an `auto_map` for
    `trust_remote_code`, the code files, `model.safetensors`), the tokenizer (`save_pretrained` of a
    `BertTokenizerFast` built from `vocab.txt`), and `distill_projections.safetensors` when the checkpoint has
    projections (format in the module docstring).

    Args:
        checkpoint_dir: the original checkpoint folder.
        output_dir: where to write the student; must be empty or absent unless `overwrite=True`.
        head: see `load_original_checkpoint`.
        num_labels: see `load_original_checkpoint`.
        fit_size: see `load_original_checkpoint`.
        do_lower_case: see `load_original_checkpoint`.
        overwrite: replace the contents of a non-empty `output_dir`.

    Returns:
        A `ConversionResult` describing what was written.

    Raises:
        FileExistsError: if `output_dir` is not empty and `overwrite` is `False`.
        FileNotFoundError, ValueError: see `load_original_checkpoint`.
    """
    out = _check_output_dir(output_dir, overwrite, sources=[checkpoint_dir])
    loaded = load_original_checkpoint(
        checkpoint_dir, head=head, num_labels=num_labels, fit_size=fit_size, do_lower_case=do_lower_case
    )
    _clear_output_dir(out)
    loaded.model.save_pretrained(out)
    if loaded.tokenizer is not None:
        loaded.tokenizer.save_pretrained(out)
    projections_file = None
    if loaded.projections is not None:
        projections_file = save_distill_projections(
            loaded.projections,
            out / DISTILL_PROJECTIONS_FILE,
            hidden_size=loaded.model.config.hidden_size,
            num_hidden_layers=loaded.model.config.num_hidden_layers,
        )
    logger.info(f"Converted {checkpoint_dir} to a TinyBERT student ({type(loaded.model).__name__}) in {out}")
    return ConversionResult(
        output_dir=out,
        head=loaded.head,
        model_class=type(loaded.model).__name__,
        fit_size=loaded.model.config.fit_size,
        projections_file=projections_file,
        tokenizer_saved=loaded.tokenizer is not None,
        dropped_keys=loaded.dropped_keys,
        initialized_keys=loaded.initialized_keys,
    )


def _read_original_config(folder: Path) -> dict:
    expected = f"config.json and one of {', '.join(ORIGINAL_WEIGHTS_FILES)} (plus vocab.txt for the tokenizer)"
    if not folder.is_dir():
        raise FileNotFoundError(f"Checkpoint folder {folder} does not exist; expected a folder with {expected}")
    config_path = folder / "config.json"
    if not config_path.is_file():
        found = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(
            f"{folder} is not a TinyBERT checkpoint: no config.json. Expected {expected}; found: {found or 'nothing'}"
        )
    try:
        config_dict = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from err
    model_type = config_dict.get("model_type")
    if model_type == "tinybert":
        raise ValueError(
            f"{folder} is already a TinyBERT student (model_type 'tinybert'): load it with "
            "AutoModel.from_pretrained instead of converting it"
        )
    if model_type not in _ORIGINAL_MODEL_TYPES:
        raise ValueError(
            f"{config_path} has model_type {model_type!r}; original TinyBERT checkpoints have no model_type or "
            "model_type 'bert'"
        )
    return config_dict


def _read_original_weights(folder: Path) -> dict[str, torch.Tensor]:
    safetensors_path = folder / "model.safetensors"
    bin_path = folder / "pytorch_model.bin"
    if safetensors_path.is_file():
        return load_file(safetensors_path, device="cpu")
    if bin_path.is_file():
        try:
            loaded = torch.load(bin_path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{bin_path} holds more than tensors, so it was not loaded: pickles are loaded with "
                f"torch.load(weights_only=True), which refuses arbitrary objects. If you trust the file, load it "
                f"yourself and re-save its state dict with safetensors.torch.save_file as model.safetensors. "
                f"torch said: {str(err).splitlines()[0]}"
            ) from err
        if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
            found = type(loaded).__name__ if not isinstance(loaded, dict) else sorted(loaded)[:10]
            raise ValueError(f"{bin_path} is not a state dict (name -> tensor); found: {found}")
        return loaded
    found = sorted(p.name for p in folder.iterdir())
    raise FileNotFoundError(
        f"{folder} has no weights: expected one of {', '.join(ORIGINAL_WEIGHTS_FILES)}; found: {found}"
    )


def _normalize_original_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename gamma/beta, add the `bert.` prefix to a bare encoder's weights, reject unknown names."""
    if not any(k.startswith("bert.") for k in state_dict) and "embeddings.word_embeddings.weight" in state_dict:
        state_dict = {
            (f"bert.{k}" if k.startswith(("embeddings.", "encoder.", "pooler.")) else k): v
            for k, v in state_dict.items()
        }
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        renamed[key] = value
    if "bert.embeddings.word_embeddings.weight" not in renamed:
        raise ValueError(
            "The checkpoint has no BERT encoder weights: expected names like "
            f"'bert.embeddings.word_embeddings.weight'; found: {_preview(renamed)}"
        )
    unknown = [k for k in renamed if not k.startswith(_KNOWN_PREFIXES)]
    if unknown:
        raise ValueError(
            f"Unsupported weight names in the checkpoint: {_preview(unknown)}. Supported names start with: "
            f"{', '.join(_KNOWN_PREFIXES)}"
        )
    return renamed


def _extract_projections(
    state_dict: dict[str, torch.Tensor], config_dict: dict
) -> tuple[dict[str, torch.Tensor] | None, str | None, list[str]]:
    """Pop `fit_dense.*` / `fit_denses.N.*` and return them renamed to the projections file layout."""
    shared_keys = [k for k in state_dict if k.startswith("fit_dense.")]
    per_layer_keys = [k for k in state_dict if k.startswith("fit_denses.")]
    if shared_keys and per_layer_keys:
        raise ValueError(
            "The checkpoint has both a shared projection (fit_dense.*) and per-layer projections (fit_denses.*); "
            "expected one of them"
        )
    hidden_size = config_dict.get("hidden_size")
    num_layers = config_dict.get("num_hidden_layers")
    if shared_keys:
        if sorted(shared_keys) != ["fit_dense.bias", "fit_dense.weight"]:
            raise ValueError(f"Expected fit_dense.weight and fit_dense.bias; found: {sorted(shared_keys)}")
        tensors = {"shared.weight": state_dict.pop("fit_dense.weight"), "shared.bias": state_dict.pop("fit_dense.bias")}
        _check_projection_shapes({"fit_dense": (tensors["shared.weight"], tensors["shared.bias"])}, hidden_size)
        return tensors, "shared", sorted(shared_keys)
    if per_layer_keys:
        indices = sorted({int(k.split(".")[1]) for k in per_layer_keys if k.split(".")[1].isdigit()})
        expected_keys = sorted(f"fit_denses.{i}.{p}" for i in range(len(indices)) for p in ("weight", "bias"))
        if sorted(per_layer_keys) != expected_keys:
            raise ValueError(
                f"Per-layer projections must be fit_denses.0..N with a weight and a bias each; found: "
                f"{_preview(sorted(per_layer_keys))}"
            )
        if num_layers is not None and len(indices) != num_layers + 1:
            raise ValueError(
                f"The checkpoint has {len(indices)} per-layer projections (fit_denses.0..{len(indices) - 1}); "
                f"expected num_hidden_layers + 1 = {num_layers + 1} (one for the embeddings, one per layer)"
            )
        pairs = {
            f"fit_denses.{i}": (state_dict[f"fit_denses.{i}.weight"], state_dict[f"fit_denses.{i}.bias"])
            for i in indices
        }
        _check_projection_shapes(pairs, hidden_size)
        tensors = {}
        for i in indices:
            name = "embeddings" if i == 0 else f"layers.{i - 1}"
            tensors[f"{name}.weight"] = state_dict.pop(f"fit_denses.{i}.weight")
            tensors[f"{name}.bias"] = state_dict.pop(f"fit_denses.{i}.bias")
        return tensors, "per-layer", sorted(per_layer_keys)
    return None, None, []


def _check_projection_shapes(pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], hidden_size: int | None) -> None:
    fit_sizes = set()
    for name, (weight, bias) in pairs.items():
        if weight.dim() != 2 or (hidden_size is not None and weight.shape[1] != hidden_size):
            raise ValueError(
                f"{name}.weight has shape {tuple(weight.shape)}; expected (fit_size, hidden_size={hidden_size})"
            )
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"{name}.bias has shape {tuple(bias.shape)}; expected ({weight.shape[0]},)")
        fit_sizes.add(int(weight.shape[0]))
    if len(fit_sizes) > 1:
        raise ValueError(f"The projections map to different sizes {sorted(fit_sizes)}; expected one fit_size")


def _infer_head(state_dict: dict[str, torch.Tensor], config_dict: dict) -> str:
    has_qa = any(k.startswith("qa_outputs.") for k in state_dict)
    has_classifier = any(k.startswith("classifier.") for k in state_dict)
    if has_qa and has_classifier:
        raise ValueError(
            "The checkpoint has both qa_outputs.* and classifier.* weights; choose the head with head= "
            f"(one of: {', '.join(HEADS)})"
        )
    hinted = [_head_from_architecture(a) for a in config_dict.get("architectures") or []]
    if has_qa:
        return "question-answering"
    if has_classifier:
        return "token-classification" if "token-classification" in hinted else "sequence-classification"
    return "base"  # an MLM head is kept only on request: the official general distillation never trained it


def _resolve_num_labels(
    head: str, state_dict: dict[str, torch.Tensor], config_dict: dict, num_labels: int | None
) -> int:
    if head == "question-answering":
        return 2  # start and end logits
    weight = state_dict.get("classifier.weight")
    if head in ("sequence-classification", "token-classification") and weight is not None:
        found = int(weight.shape[0])
        if num_labels is not None and num_labels != found:
            raise ValueError(
                f"num_labels={num_labels} does not match the checkpoint: classifier.weight has shape "
                f"{tuple(weight.shape)}, i.e. {found} labels"
            )
        return found
    if num_labels is not None:
        return num_labels
    id2label = config_dict.get("id2label")
    return len(id2label) if id2label else 2


def _drop_unused_keys(state_dict: dict[str, torch.Tensor], head: str, model: PreTrainedModel) -> list[str]:
    """Remove weights the chosen head does not use; return their names."""
    dropped = []
    if head == "masked-lm":
        decoder = state_dict.pop("cls.predictions.decoder.weight", None)
        word_embeddings = state_dict["bert.embeddings.word_embeddings.weight"]
        if decoder is not None and not torch.equal(decoder, word_embeddings):
            logger.warning(
                "cls.predictions.decoder.weight differs from the word embeddings; TinyBERT ties them, so the word "
                "embeddings are used for both."
            )
        decoder_bias = state_dict.pop("cls.predictions.decoder.bias", None)
        if decoder_bias is not None and "cls.predictions.bias" not in state_dict:
            state_dict["cls.predictions.bias"] = decoder_bias
    prefix = "bert." if model.base_model is model else ""  # compare in the checkpoint's naming
    expected = {prefix + k for k in model.state_dict()}
    keep_prefixes = ("bert.",) + _HEAD_PREFIXES[head]
    for key in list(state_dict):
        unused_head = not key.startswith(keep_prefixes)
        absent_buffer = key.endswith("position_ids") and key not in expected
        no_pooler = key.startswith("bert.pooler.") and key not in expected
        if unused_head or absent_buffer or no_pooler:
            dropped.append(key)
            del state_dict[key]
    if dropped:
        logger.info(f"Weights not used by the {head!r} student were dropped: {_preview(dropped)}")
    return dropped


def _load_checked(model: PreTrainedModel, state_dict: dict[str, torch.Tensor], *, source: str) -> list[str]:
    """Load `state_dict` into `model` after checking names and shapes; return the head keys left initialised.

    Names are compared in the checkpoint's naming (`bert.` prefix even for the bare encoder).
    """
    prefix = "bert." if model.base_model is model else ""
    expected = {prefix + k: v for k, v in model.state_dict().items()}
    tied = {prefix + k for k in getattr(model, "_tied_weights_keys", None) or {}}
    unexpected = [k for k in state_dict if k not in expected]
    if unexpected:
        raise ValueError(
            f"Weights in {source} that a {type(model).__name__} with this config does not have: "
            f"{_preview(unexpected)} (check num_hidden_layers and the other sizes in config.json)"
        )
    for key, value in state_dict.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"Shape mismatch for {key}: the checkpoint has {tuple(value.shape)}, the model built from "
                f"config.json expects {tuple(expected[key].shape)}"
            )
    missing = [k for k in expected if k not in state_dict and k not in tied]
    missing_encoder = [k for k in missing if k.startswith(("bert.embeddings.", "bert.encoder."))]
    if missing_encoder:
        raise ValueError(f"The checkpoint in {source} lacks encoder weights: {_preview(missing_encoder)}")
    result = model.load_state_dict({k.removeprefix(prefix): v for k, v in state_dict.items()}, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    if missing:
        logger.warning(
            f"The checkpoint has no weights for these {type(model).__name__} parameters; they are newly "
            f"initialised: {', '.join(missing)}"
        )
    return missing


def _read_original_tokenizer(
    folder: Path, config: TinyBertConfig, do_lower_case: bool | None
) -> PreTrainedTokenizerBase | None:
    vocab = folder / "vocab.txt"
    has_tokenizer_files = (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()
    if not vocab.is_file() and not has_tokenizer_files:
        logger.warning(f"{folder} has no vocab.txt: the converted student is saved without a tokenizer.")
        return None
    if has_tokenizer_files:
        kwargs = {} if do_lower_case is None else {"do_lower_case": do_lower_case}
        tokenizer = BertTokenizerFast.from_pretrained(folder, **kwargs)
    else:
        # `vocab=` (a path or a dict): transformers 5 silently ignores `vocab_file=` here
        tokenizer = BertTokenizerFast(
            vocab=str(vocab),
            do_lower_case=True if do_lower_case is None else do_lower_case,
            model_max_length=config.max_position_embeddings,
        )
    _check_vocab_fits(tokenizer, config.vocab_size, what=f"the tokenizer of {folder}")
    return tokenizer


# --------------------------------------------------------------------------------------------------------------
# Distillation projections file
# --------------------------------------------------------------------------------------------------------------


def save_distill_projections(
    projections: dict[str, torch.Tensor | nn.Linear],
    path: str | os.PathLike,
    *,
    hidden_size: int,
    num_hidden_layers: int,
) -> Path:
    """Write distillation projections in the `distill_projections.safetensors` format (see the module docstring).

    Args:
        projections: either tensors under the file's keys (`shared.weight`, ... or `embeddings.weight`,
            `layers.{i}.weight`, ...) or `nn.Linear` modules under the names `shared` / `embeddings`, `layers.{i}`.
        path: the file to write (conventionally `<student folder>/distill_projections.safetensors`).
        hidden_size: the student's hidden size (input width of every projection).
        num_hidden_layers: the student's number of layers.

    Returns:
        The path written.

    Raises:
        ValueError: if the keys are not one of the two layouts or the shapes disagree with `hidden_size`.
    """
    tensors: dict[str, torch.Tensor] = {}
    for name, value in projections.items():
        if isinstance(value, nn.Linear):
            tensors[f"{name}.weight"] = value.weight.detach()
            tensors[f"{name}.bias"] = value.bias.detach()
        else:
            tensors[name] = value.detach()
    layout, fit_size = _check_projections(tensors, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers)
    metadata = {
        "format": DISTILL_PROJECTIONS_FORMAT,
        "format_version": "1",
        "layout": layout,
        "hidden_size": str(hidden_size),
        "fit_size": str(fit_size),
        "num_hidden_layers": str(num_hidden_layers),
    }
    path = Path(path)
    save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, path, metadata=metadata)
    return path


def load_distill_projections(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a `distill_projections.safetensors` file (or the folder holding one).

    Args:
        path: the file, or a student folder containing `distill_projections.safetensors`.

    Returns:
        `(tensors, metadata)`: tensors under the file's keys and the metadata (`layout`, `hidden_size`,
        `fit_size`, `num_hidden_layers`, ... as strings).

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file is not in this format or its tensors disagree with its metadata.
    """
    path = Path(path)
    if path.is_dir():
        path = path / DISTILL_PROJECTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No distillation projections file at {path}")
    with safe_open(path, framework="pt") as f:
        metadata = dict(f.metadata() or {})
    if metadata.get("format") != DISTILL_PROJECTIONS_FORMAT:
        raise ValueError(
            f"{path} is not a distillation projections file: its metadata 'format' is {metadata.get('format')!r}, "
            f"expected {DISTILL_PROJECTIONS_FORMAT!r}"
        )
    tensors = load_file(path, device="cpu")
    _check_projections(
        tensors, hidden_size=int(metadata["hidden_size"]), num_hidden_layers=int(metadata["num_hidden_layers"])
    )
    return tensors, metadata


def _check_projections(
    tensors: dict[str, torch.Tensor], *, hidden_size: int, num_hidden_layers: int
) -> tuple[str, int]:
    names = sorted({k.rsplit(".", 1)[0] for k in tensors})
    per_layer = sorted(["embeddings"] + [f"layers.{i}" for i in range(num_hidden_layers)])
    if names == ["shared"]:
        layout = "shared"
    elif names == per_layer:
        layout = "per-layer"
    else:
        raise ValueError(
            f"Projection names {names} are neither ['shared'] nor ['embeddings', 'layers.0'.."
            f"'layers.{num_hidden_layers - 1}']"
        )
    pairs = {}
    for name in names:
        if f"{name}.weight" not in tensors or f"{name}.bias" not in tensors:
            raise ValueError(f"Projection {name!r} needs both {name}.weight and {name}.bias")
        pairs[name] = (tensors[f"{name}.weight"], tensors[f"{name}.bias"])
    _check_projection_shapes(pairs, hidden_size)
    return layout, int(next(iter(pairs.values()))[0].shape[0])


# --------------------------------------------------------------------------------------------------------------
# Plain BERT out
# --------------------------------------------------------------------------------------------------------------


def as_plain_bert(student: PreTrainedModel) -> PreTrainedModel:
    """The same weights in transformers' own BERT class of the same head (`BertModel`, `BertFor...`).

    Args:
        student: a TinyBERT model (any head; also one loaded with `trust_remote_code=True`) or a BERT model.

    Returns:
        A `BertModel`/`BertFor...` in eval mode whose config has `model_type "bert"` and no `fit_size`/`auto_map`.

    Raises:
        ValueError: if `student` is not a BERT-family model of one of the supported heads.
    """
    head = head_of(student)
    bert_cls = HEAD_CLASSES[head][1]
    config = BertConfig(**_bert_config_kwargs(student.config.to_dict()))
    bert = bert_cls(config)
    bert.load_state_dict(student.state_dict(), strict=True)
    return bert.eval()


def to_plain_bert(
    student: PreTrainedModel | str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a TinyBERT student as a plain `bert` model that loads without custom code.

    The folder has `config.json` with `model_type "bert"`, no `auto_map` and no `fit_size`, the weights, no
    code files, and the tokenizer: `AutoModelFor...from_pretrained(output_dir)` gives transformers' own
    `BertModel`/`BertFor...` with outputs identical to the student's. Distillation projections are not copied.

    Args:
        student: a TinyBERT model, or the folder of a saved student.
        output_dir: where to write; must be empty or absent unless `overwrite=True`.
        tokenizer: a tokenizer, or a folder to load one from; default: the student's folder when `student` is
            a path (no tokenizer is saved if it has none).
        overwrite: replace the contents of a non-empty `output_dir`.

    Returns:
        `output_dir` as a `Path`.

    Raises:
        FileExistsError: if `output_dir` is not empty and `overwrite` is `False`.
        FileNotFoundError: if `student` is a path without a saved model.
        ValueError: if `student` is not a TinyBERT/BERT model of a supported head.
    """
    sources = [p for p in (student, tokenizer) if isinstance(p, (str, os.PathLike))]
    out = _check_output_dir(output_dir, overwrite, sources=sources)
    if isinstance(student, (str, os.PathLike)):
        if tokenizer is None:
            tokenizer = student if _has_tokenizer_files(Path(student)) else None
        student = load_bert_family_model(student)
    tokenizer = _as_tokenizer(tokenizer)
    bert = as_plain_bert(student)
    if tokenizer is not None:
        _check_vocab_fits(tokenizer, bert.config.vocab_size, what="the tokenizer")
    _clear_output_dir(out)
    bert.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    logger.info(f"Saved the student as a plain {type(bert).__name__} in {out}")
    return out


def _bert_config_kwargs(values: dict) -> dict:
    """The BERT fields of a config dict (drops `fit_size`, `auto_map`, `model_type`, `architectures`, ...)."""
    kwargs = {k: v for k, v in values.items() if k in _BERT_FIELDS}
    if "id2label" in kwargs:
        kwargs["id2label"] = {int(k): v for k, v in kwargs["id2label"].items()}
    return kwargs


# --------------------------------------------------------------------------------------------------------------
# Student initialisation from a teacher
# --------------------------------------------------------------------------------------------------------------


def select_teacher_layers(
    strategy: str | Sequence[int], num_teacher_layers: int, num_layers: int | None = None
) -> list[int]:
    """Which teacher layers initialise the student's layers, numbered 1..N as in the paper and in the
    distillation `layer_map` (layer 0 is the embedding layer, always copied).

    Args:
        strategy: `"uniform"` (TinyBERT's g(m) = m·N/M, the top layer of each of M equal blocks: 4 of 12 ->
            [3, 6, 9, 12]), `"first"` (layers 1..M), `"last"` (the top M layers), or explicit layer numbers.
        num_teacher_layers: N, the teacher's number of layers.
        num_layers: M, the student's number of layers; required for a strategy name, optional (but checked)
            with explicit layers.

    Returns:
        The teacher layer (1-based) for each student layer, in order.

    Raises:
        ValueError: for an unknown strategy, a missing/invalid `num_layers`, or layers out of range or repeated.
    """
    if isinstance(strategy, str):
        if strategy not in LAYER_STRATEGIES:
            raise ValueError(
                f"Unknown layer selection {strategy!r}; valid are: {', '.join(LAYER_STRATEGIES)}, or a list of "
                f"teacher layers (1..{num_teacher_layers})"
            )
        if num_layers is None:
            raise ValueError(f"layers={strategy!r} needs num_layers (the student's number of layers)")
        if not 1 <= num_layers <= num_teacher_layers:
            raise ValueError(
                f"num_layers must be between 1 and the teacher's {num_teacher_layers} layers, got {num_layers}"
            )
        return build_layer_map(num_layers, num_teacher_layers, strategy)
    layers = [int(i) for i in strategy]
    if not layers:
        raise ValueError("layers is empty; give at least one teacher layer")
    if num_layers is not None and num_layers != len(layers):
        raise ValueError(f"num_layers={num_layers} but {len(layers)} teacher layers were given: {layers}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"Teacher layers repeat: {layers}; give each layer at most once")
    return build_layer_map(len(layers), num_teacher_layers, layers)


def init_student_from_teacher(
    teacher: PreTrainedModel | str | os.PathLike,
    layers: str | Sequence[int] = "uniform",
    num_layers: int | None = None,
    *,
    head: str | None = None,
    student_config: TinyBertConfig | None = None,
) -> TinyBertPreTrainedModel:
    """Build a TinyBERT student of the teacher's width from a subset of the teacher's layers.

    The student copies the teacher's embeddings, the chosen layers, the pooler when both have one, and the
    head's weights when the teacher has the same head with the same shapes (otherwise the head is newly
    initialised). This needs equal hidden sizes (DistilBERT-style); a narrower student has to be trained with
    general distillation instead.

    Args:
        teacher: a BERT-family model (`BertModel`, `BertFor...`, or a TinyBERT model), or its folder.
        layers: `"uniform"`, `"first"`, `"last"` or explicit teacher layers numbered 1..N (see
            `select_teacher_layers`).
        num_layers: the student's number of layers; default `len(layers)` for explicit indices, else
            `student_config.num_hidden_layers` if given.
        head: the student's head, one of `HEADS`; default: the teacher's.
        student_config: optional config for the student (e.g. other dropout); its vocabulary and sizes must
            equal the teacher's. Default: the teacher's config.

    Returns:
        The student (a `TinyBertPreTrainedModel`), in eval mode, with `fit_size` = the teacher's hidden size.

    Raises:
        ValueError: for an unknown head or layer selection, a non-BERT teacher, or a `student_config` whose
            vocabulary or sizes differ from the teacher's.
    """
    if head is not None and head not in HEAD_CLASSES:
        raise ValueError(f"Unknown head {head!r}; valid heads are: {', '.join(HEADS)}")
    if isinstance(teacher, (str, os.PathLike)):
        teacher = load_bert_family_model(teacher)
    teacher_head = head_of(teacher)
    head = head or teacher_head
    t_config = teacher.config

    if student_config is not None:
        _check_student_config(student_config, t_config)
        if num_layers is None and isinstance(layers, str):
            num_layers = student_config.num_hidden_layers
    indices = select_teacher_layers(layers, t_config.num_hidden_layers, num_layers)
    if student_config is not None and student_config.num_hidden_layers != len(indices):
        raise ValueError(
            f"student_config has num_hidden_layers={student_config.num_hidden_layers} but {len(indices)} teacher "
            f"layers were chosen: {indices}"
        )

    kwargs = _bert_config_kwargs((student_config or t_config).to_dict())
    kwargs.update(num_hidden_layers=len(indices), fit_size=t_config.hidden_size)
    config = TinyBertConfig(**kwargs)
    student = HEAD_CLASSES[head][0](config)

    s_base, t_base = student.base_model, teacher.base_model
    s_base.embeddings.load_state_dict(t_base.embeddings.state_dict())
    for s_index, t_layer in enumerate(indices):
        s_base.encoder.layer[s_index].load_state_dict(t_base.encoder.layer[t_layer - 1].state_dict())
    if getattr(s_base, "pooler", None) is not None and getattr(t_base, "pooler", None) is not None:
        s_base.pooler.load_state_dict(t_base.pooler.state_dict())
    if head == teacher_head and head != "base":
        _copy_head(student, teacher, head)
    elif head != "base":
        logger.info(f"The teacher has no {head!r} head: the student's head is newly initialised.")
    logger.info(f"Initialised a {len(indices)}-layer student from teacher layers {indices}")
    return student.eval()


def save_student(
    model: PreTrainedModel,
    output_dir: str | os.PathLike,
    *,
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a student with its tokenizer (e.g. the teacher's, after `init_student_from_teacher`).

    Args:
        model: the student.
        output_dir: where to write; must be empty or absent unless `overwrite=True`.
        tokenizer: a tokenizer, or a folder to load one from (e.g. the teacher's folder); `None` saves none.
        overwrite: replace the contents of a non-empty `output_dir`.

    Returns:
        `output_dir` as a `Path`.

    Raises:
        FileExistsError: if `output_dir` is not empty and `overwrite` is `False`.
        ValueError: if the tokenizer's vocabulary is larger than the student's (naming both sizes).
    """
    sources = [tokenizer] if isinstance(tokenizer, (str, os.PathLike)) else []
    out = _check_output_dir(output_dir, overwrite, sources=sources)
    tokenizer = _as_tokenizer(tokenizer)
    if tokenizer is not None:
        _check_vocab_fits(tokenizer, model.config.vocab_size, what="the tokenizer")
    _clear_output_dir(out)
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    return out


def _check_student_config(student_config: TinyBertConfig, teacher_config) -> None:
    if student_config.vocab_size != teacher_config.vocab_size:
        raise ValueError(
            f"Vocabulary mismatch: the teacher has vocab_size={teacher_config.vocab_size}, student_config has "
            f"vocab_size={student_config.vocab_size}; a student initialised from a teacher uses its vocabulary"
        )
    if student_config.hidden_size != teacher_config.hidden_size:
        raise ValueError(
            f"Hidden size mismatch: the teacher has hidden_size={teacher_config.hidden_size}, student_config has "
            f"hidden_size={student_config.hidden_size}. Layers can only be copied between models of the same "
            "width; train a narrower student with general distillation instead (start from a random or a "
            "converted general TinyBERT student)."
        )
    fields = ("intermediate_size", "num_attention_heads", "max_position_embeddings", "type_vocab_size")
    differ = [
        f"{f} (teacher {getattr(teacher_config, f)}, student {getattr(student_config, f)})"
        for f in fields
        if getattr(student_config, f) != getattr(teacher_config, f)
    ]
    if differ:
        raise ValueError(f"student_config differs from the teacher in {', '.join(differ)}; layers cannot be copied")


def _copy_head(student: PreTrainedModel, teacher: PreTrainedModel, head: str) -> None:
    module_name = {
        "sequence-classification": "classifier",
        "token-classification": "classifier",
        "question-answering": "qa_outputs",
        "masked-lm": "cls",
    }[head]
    t_state = getattr(teacher, module_name).state_dict()
    s_module = getattr(student, module_name)
    s_state = s_module.state_dict()
    mismatched = [
        f"{module_name}.{k}: teacher {tuple(v.shape)}, student {tuple(s_state[k].shape)}"
        for k, v in t_state.items()
        if k in s_state and v.shape != s_state[k].shape
    ]
    if mismatched:
        logger.warning(f"Head shapes differ, so the student's head is newly initialised: {'; '.join(mismatched)}")
        return
    if head == "masked-lm":
        # the decoder weight is tied to the (already copied) word embeddings
        t_state = {k: v for k, v in t_state.items() if k != "predictions.decoder.weight"}
    s_module.load_state_dict(t_state, strict=False)


# --------------------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------------------


def head_of(model: PreTrainedModel) -> str:
    """The head of a BERT-family model (TinyBERT classes derive from BERT's, so both work).

    Args:
        model: a `BertModel`/`BertFor...` or TinyBERT model.

    Returns:
        One of `HEADS`.

    Raises:
        ValueError: for any other model.
    """
    for head, (_, bert_cls) in HEAD_CLASSES.items():
        if isinstance(model, bert_cls):
            return head
    valid = ", ".join(bert_cls.__name__ for _, bert_cls in HEAD_CLASSES.values())
    raise ValueError(f"Expected a BERT-family model ({valid} or their TinyBERT versions); got {type(model).__name__}")


def load_bert_family_model(path: str | os.PathLike) -> PreTrainedModel:
    """Load a saved BERT or TinyBERT model with the class its `config.json` names (`architectures`).

    Args:
        path: a folder written by `save_pretrained` (model type `bert` or `tinybert`).

    Returns:
        The model, in eval mode.

    Raises:
        FileNotFoundError: if `path` has no `config.json`.
        ValueError: if the model type is not `bert`/`tinybert`.
    """
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json; expected a folder written by save_pretrained")
    config = AutoConfig.from_pretrained(folder)
    if config.model_type not in ("bert", "tinybert"):
        raise ValueError(f"{folder} holds a {config.model_type!r} model; expected model_type 'bert' or 'tinybert'")
    architectures = config.architectures or []
    head = _head_from_architecture(architectures[0]) if architectures else None
    if head is None:
        logger.warning(f"{folder}: architectures {architectures} name no known head; loading the bare encoder.")
        head = "base"
    tiny_cls, bert_cls = HEAD_CLASSES[head]
    model_cls = tiny_cls if config.model_type == "tinybert" else bert_cls
    return model_cls.from_pretrained(folder).eval()


def _head_from_architecture(name: str) -> str | None:
    for prefix in ("TinyBert", "Bert"):
        if name.startswith(prefix):
            return _HEAD_BY_ARCHITECTURE_SUFFIX.get(name[len(prefix) :])
    return None


def _has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def _as_tokenizer(tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None) -> PreTrainedTokenizerBase | None:
    if tokenizer is None or isinstance(tokenizer, PreTrainedTokenizerBase):
        return tokenizer
    folder = Path(tokenizer)
    if not _has_tokenizer_files(folder):
        raise FileNotFoundError(
            f"No tokenizer in {folder}: expected tokenizer.json, tokenizer_config.json or vocab.txt"
        )
    return AutoTokenizer.from_pretrained(folder)


def _check_vocab_fits(tokenizer: PreTrainedTokenizerBase, vocab_size: int, *, what: str) -> None:
    if len(tokenizer) > vocab_size:
        raise ValueError(
            f"Vocabulary mismatch: {what} has {len(tokenizer)} tokens but the model's vocab_size is {vocab_size}; "
            "token ids beyond the embedding table would fail"
        )


def _check_output_dir(
    output_dir: str | os.PathLike, overwrite: bool, *, sources: Sequence[str | os.PathLike] = ()
) -> Path:
    """Refuse a non-empty output folder unless `overwrite`, and never one that holds an input."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"Output path {out} exists and is not a folder")
    resolved = out.resolve()
    for source in sources:
        source_path = Path(source).resolve()
        if resolved == source_path or resolved in source_path.parents:
            raise ValueError(f"Output folder {out} would contain the input {source}; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Output folder {out} is not empty; pass overwrite=True (CLI: --overwrite) to replace its contents"
        )
    return out


def _clear_output_dir(out: Path) -> None:
    """Empty (or create) the output folder, so no stale file of an earlier run survives beside the new ones."""
    if out.is_dir():
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _preview(keys: Sequence[str], limit: int = 10) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


__all__ = [
    "DISTILL_PROJECTIONS_FILE",
    "HEADS",
    "HEAD_CLASSES",
    "LAYER_STRATEGIES",
    "ConversionResult",
    "OriginalCheckpoint",
    "as_plain_bert",
    "convert_original_checkpoint",
    "head_of",
    "init_student_from_teacher",
    "load_bert_family_model",
    "load_distill_projections",
    "load_original_checkpoint",
    "save_distill_projections",
    "save_student",
    "select_teacher_layers",
    "to_plain_bert",
]
