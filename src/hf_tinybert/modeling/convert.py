"""Checkpoint conversion in memory: original TinyBERT checkpoints in, plain BERT out.

`load_original_checkpoint` reads a checkpoint of the official TinyBERT code (huawei-noah/Pretrained-Language-Model)
or a Hub copy of one: `config.json` (no `model_type`, or `"bert"`; the extra keys `cell`, `emb_size`,
`pre_trained`, `structure` are dropped), `model.safetensors` or `pytorch_model.bin` (loaded with
`torch.load(weights_only=True)`, which refuses anything but tensors) and `vocab.txt`. Weight names: `bert.*` or a
bare encoder's `embeddings.*`/`encoder.*`/`pooler.*` (`from_pretrained` renames LayerNorm `gamma`/`beta`),
`cls.predictions.*` (masked LM), `cls.seq_relationship.*` (next sentence: always dropped), `classifier.*`,
`qa_outputs.*`, and the projections `fit_dense.*` (returned in `HiddenProjections` mode "shared": `shared.*`) or
`fit_denses.0..M.*` (mode "per_layer": `embeddings.*` from `fit_denses.0`, `layers.{i}.*` from `fit_denses.{i+1}`).
`hf_tinybert.stages.convert_original_checkpoint` writes the result as a student folder.

The head: `head=` if given, else `qa_outputs.*` -> question answering, `classifier.*` -> sequence classification
(token classification when `architectures` says so), otherwise the bare encoder. The masked-LM head of general
checkpoints was never trained by the official code (only its tied decoder is meaningful): it is kept only with
`head="masked-lm"`.

`as_plain_bert` / `to_plain_bert` relabel a student as transformers' own BERT class: same weights, same outputs,
loadable with no custom code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoTokenizer,
    BertConfig,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging

from ..utils import check_output_dir, clear_output_dir
from .configuration_tinybert import TinyBertConfig
from .heads import HEADS, Head, bert_head_of, head_from_architecture
from .modeling_tinybert import TinyBertPreTrainedModel

logger = logging.get_logger(__name__)

ORIGINAL_WEIGHTS_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
# Fields a TinyBERT config takes from an original config.json (BERT's fields plus the label maps).
_BERT_FIELDS = frozenset(f.name for f in dataclasses.fields(BertConfig)) - {
    "architectures",
    "transformers_version",
    "dtype",
}
_HEAD_PREFIXES = tuple(dict.fromkeys(p for head in HEADS.values() for p in head.checkpoint_prefixes))
_KNOWN_PREFIXES = ("bert.", *_HEAD_PREFIXES, "cls.seq_relationship.", "fit_dense.", "fit_denses.")


@dataclasses.dataclass
class OriginalCheckpoint:
    """An original TinyBERT checkpoint loaded into our classes (what `load_original_checkpoint` returns).

    Attributes:
        model: the student, a `TinyBertPreTrainedModel` of the chosen head, in eval mode.
        head: the head's name (a key of `HEADS`).
        projections: the distillation projections under `HiddenProjections`' names, or `None` if it has none.
        projection_mode: `"shared"`, `"per_layer"` or `None`.
        tokenizer: a `BertTokenizerFast` built from the checkpoint's `vocab.txt`, or `None` if it has none.
        dropped_keys: checkpoint weights that are not part of the student (next-sentence head, unused heads,
            projections, a pooler the head has not).
        initialized_keys: student weights the checkpoint did not have (a head chosen with `head=` that the
            checkpoint lacks); they are randomly initialised.
    """

    model: TinyBertPreTrainedModel
    head: str
    projections: dict[str, torch.Tensor] | None
    projection_mode: str | None
    tokenizer: PreTrainedTokenizerBase | None
    dropped_keys: list[str]
    initialized_keys: list[str]


def load_original_checkpoint(
    checkpoint_dir: str | os.PathLike,
    *,
    head: str | None = None,
    num_labels: int | None = None,
    fit_size: int | None = None,
    do_lower_case: bool | None = None,
) -> OriginalCheckpoint:
    """Load an original TinyBERT checkpoint (official code or Hub copy) into a TinyBERT student, in memory: an
    `OriginalCheckpoint` with the model, the projections and the tokenizer.

    Args:
        checkpoint_dir: folder with `config.json`, `model.safetensors` or `pytorch_model.bin`, and `vocab.txt`.
        head: the student's head, a key of `HEADS`; inferred from the weight names when `None` (see the module
            docstring). A head the checkpoint lacks is randomly initialised (listed in `initialized_keys`).
        num_labels: number of labels of a classification head. Read from the `classifier.weight` shape when the
            checkpoint has one (a different value is an error); default 2 otherwise.
        fit_size: the teacher's hidden size, for the config's `fit_size`. Read from the projection weights when
            the checkpoint has them (a different value is an error); default 768 (BERT-base) otherwise.
        do_lower_case: whether the tokenizer lower-cases; default: the checkpoint's `tokenizer_config.json` if
            any, else `True` (the released TinyBERT models are uncased).

    Raises:
        FileNotFoundError: if the folder or its `config.json` / weights file is missing.
        ValueError: for an unsupported `head`/`model_type`/weight name, a pickle that holds more than tensors,
            a weight whose shape does not match the config, or missing encoder weights.
    """
    if head is not None and head not in HEADS:
        raise ValueError(f"Unknown head {head!r}; valid heads are: {', '.join(HEADS)}")
    if num_labels is not None and num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    folder = Path(checkpoint_dir)
    config_dict = _read_original_config(folder)
    state_dict = _read_original_weights(folder)

    projections, mode, dropped = _pop_projections(state_dict, config_dict)
    if projections is not None:
        weight = next(iter(projections.values()))
        if fit_size is not None and fit_size != weight.shape[0]:
            raise ValueError(
                f"fit_size={fit_size} does not match the checkpoint's projections: their weights have shape "
                f"{tuple(weight.shape)}, i.e. they map to fit_size={weight.shape[0]}"
            )
        fit_size = int(weight.shape[0])
    elif fit_size is None:
        fit_size = 768
        logger.info("The checkpoint has no fit_dense projections; fit_size set to 768 (BERT-base teacher).")

    spec = HEADS[head] if head else _infer_head(state_dict, config_dict)
    config = _original_config(folder, config_dict, spec, state_dict, num_labels, fit_size)
    unused = [key for key in state_dict if not key.startswith(("bert.", *spec.checkpoint_prefixes))]
    dropped += unused
    for key in unused:
        del state_dict[key]
    decoder = state_dict.pop("cls.predictions.decoder.weight", None)  # tied to the word embeddings
    if decoder is not None and not torch.equal(decoder, state_dict["bert.embeddings.word_embeddings.weight"]):
        logger.warning("cls.predictions.decoder.weight differs from the word embeddings; TinyBERT ties them.")

    model, info = spec.tinybert_class.from_pretrained(
        None, config=config, state_dict=state_dict, output_loading_info=True, ignore_mismatched_sizes=True
    )
    prefix = "bert." if model.base_model is model else ""  # report names as the checkpoint has them
    if info["mismatched_keys"]:
        shapes = [f"{prefix}{k} {tuple(a)} vs {tuple(b)}" for k, a, b in sorted(info["mismatched_keys"], key=str)]
        raise ValueError(
            f"Shape mismatch between the checkpoint and the model built from config.json (checkpoint vs model): "
            f"{_preview(shapes)}"
        )
    no_pooler = sorted(k for k in info["unexpected_keys"] if k.startswith("bert.pooler."))
    unexpected = sorted(set(info["unexpected_keys"]) - set(no_pooler))
    if unexpected:
        raise ValueError(
            f"Weights in {folder} that a {type(model).__name__} with this config does not have: "
            f"{_preview(unexpected)} (check num_hidden_layers and the other sizes in config.json)"
        )
    missing = sorted(prefix + k for k in info["missing_keys"])
    missing_encoder = [k for k in missing if k.startswith(("bert.embeddings.", "bert.encoder."))]
    if missing_encoder:
        raise ValueError(f"The checkpoint in {folder} lacks encoder weights: {_preview(missing_encoder)}")
    if dropped or no_pooler:
        logger.info(f"Weights not used by the {spec.name!r} student were dropped: {_preview(dropped + no_pooler)}")
    return OriginalCheckpoint(
        model=model.eval(),
        head=spec.name,
        projections=projections,
        projection_mode=mode,
        tokenizer=_read_original_tokenizer(folder, config, do_lower_case),
        dropped_keys=sorted(dropped + no_pooler),
        initialized_keys=missing,
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
    if model_type not in (None, "bert"):
        raise ValueError(
            f"{config_path} has model_type {model_type!r}; original TinyBERT checkpoints have no model_type or "
            "model_type 'bert'"
        )
    return config_dict


def _read_original_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The weights, with a bare encoder's names given the `bert.` prefix; unknown names are refused."""
    bin_path = folder / "pytorch_model.bin"
    if (folder / "model.safetensors").is_file():
        state_dict = load_file(folder / "model.safetensors", device="cpu")
    elif bin_path.is_file():
        try:
            state_dict = torch.load(bin_path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{bin_path} holds more than tensors, so it was not loaded: pickles are loaded with "
                f"torch.load(weights_only=True), which refuses arbitrary objects. If you trust the file, load it "
                f"yourself and re-save its state dict with safetensors.torch.save_file as model.safetensors. "
                f"torch said: {str(err).splitlines()[0]}"
            ) from err
        if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            found = sorted(state_dict)[:10] if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{bin_path} is not a state dict (name -> tensor); found: {found}")
    else:
        found = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(
            f"{folder} has no weights: expected one of {', '.join(ORIGINAL_WEIGHTS_FILES)}; found: {found}"
        )
    if "embeddings.word_embeddings.weight" in state_dict and not any(k.startswith("bert.") for k in state_dict):
        bare = ("embeddings.", "encoder.", "pooler.")
        state_dict = {(f"bert.{k}" if k.startswith(bare) else k): v for k, v in state_dict.items()}
    if "bert.embeddings.word_embeddings.weight" not in state_dict:
        raise ValueError(
            "The checkpoint has no BERT encoder weights: expected names like "
            f"'bert.embeddings.word_embeddings.weight'; found: {_preview(state_dict)}"
        )
    unknown = [k for k in state_dict if not k.startswith(_KNOWN_PREFIXES)]
    if unknown:
        raise ValueError(
            f"Unsupported weight names in the checkpoint: {_preview(unknown)}. Supported names start with: "
            f"{', '.join(_KNOWN_PREFIXES)}"
        )
    return state_dict


def _pop_projections(
    state_dict: dict[str, torch.Tensor], config_dict: dict
) -> tuple[dict[str, torch.Tensor] | None, str | None, list[str]]:
    """Take `fit_dense.*` / `fit_denses.N.*` out of `state_dict`, renamed to `HiddenProjections`' names."""
    keys = sorted(k for k in state_dict if k.startswith(("fit_dense.", "fit_denses.")))
    if not keys:
        return None, None, []
    hidden_size, num_layers = config_dict.get("hidden_size"), config_dict.get("num_hidden_layers")
    if any(k.startswith("fit_dense.") for k in keys):
        if keys != ["fit_dense.bias", "fit_dense.weight"]:
            raise ValueError(
                "Expected one shared projection (fit_dense.weight, fit_dense.bias) or per-layer projections "
                f"(fit_denses.N.*); found: {_preview(keys)}"
            )
        names, mode = {"fit_dense": "shared"}, "shared"
    else:
        count = len(keys) // 2
        if keys != sorted(f"fit_denses.{i}.{p}" for i in range(count) for p in ("weight", "bias")):
            raise ValueError(
                f"Per-layer projections must be fit_denses.0..N with a weight and a bias each; found: {_preview(keys)}"
            )
        if num_layers is not None and count != num_layers + 1:
            raise ValueError(
                f"The checkpoint has {count} per-layer projections (fit_denses.0..{count - 1}); expected "
                f"num_hidden_layers + 1 = {num_layers + 1} (one for the embeddings, one per layer)"
            )
        names = {f"fit_denses.{i}": ("embeddings" if i == 0 else f"layers.{i - 1}") for i in range(count)}
        mode = "per_layer"
    tensors = {}
    for old, new in names.items():
        tensors |= {f"{new}.weight": state_dict.pop(f"{old}.weight"), f"{new}.bias": state_dict.pop(f"{old}.bias")}
    shapes = {(tuple(tensors[f"{n}.weight"].shape), tuple(tensors[f"{n}.bias"].shape)) for n in names.values()}
    (weight, bias), *others = shapes
    if others or len(weight) != 2 or bias != weight[:1] or hidden_size not in (None, weight[1]):
        raise ValueError(
            f"The projections {', '.join(names)} have the shapes (weight, bias) {sorted(shapes)}; expected "
            f"(fit_size, hidden_size={hidden_size}) and (fit_size,), with one fit_size for all"
        )
    return tensors, mode, keys


def _infer_head(state_dict: dict[str, torch.Tensor], config_dict: dict) -> Head:
    has_qa = any(k.startswith("qa_outputs.") for k in state_dict)
    has_classifier = any(k.startswith("classifier.") for k in state_dict)
    if has_qa and has_classifier:
        raise ValueError(
            "The checkpoint has both qa_outputs.* and classifier.* weights; choose the head with head= "
            f"(one of: {', '.join(HEADS)})"
        )
    if has_qa:
        return HEADS["question-answering"]
    if has_classifier:
        hinted = [head_from_architecture(a) for a in config_dict.get("architectures") or []]
        return HEADS["token-classification" if HEADS["token-classification"] in hinted else "sequence-classification"]
    return HEADS["base"]  # an MLM head is kept only on request: the official general distillation never trained it


def _original_config(
    folder: Path, config_dict: dict, head: Head, state_dict: dict, num_labels: int | None, fit_size: int
) -> TinyBertConfig:
    """The student's config: config.json's BERT fields, the label count of the head, `fit_size`."""
    weight = state_dict.get("classifier.weight")
    if head.name == "question-answering":
        num_labels = 2  # start and end logits
    elif head.uses_labels and weight is not None:
        if num_labels is not None and num_labels != weight.shape[0]:
            raise ValueError(
                f"num_labels={num_labels} does not match the checkpoint: classifier.weight has shape "
                f"{tuple(weight.shape)}, i.e. {weight.shape[0]} labels"
            )
        num_labels = int(weight.shape[0])
    elif num_labels is None:
        num_labels = len(config_dict.get("id2label") or {}) or 2
    kwargs = bert_config_kwargs(config_dict)
    extra = sorted(set(config_dict) - _BERT_FIELDS - {"model_type"})
    if extra:
        logger.info(f"Dropping config.json keys that BERT does not use: {', '.join(extra)}")
    if len(kwargs.get("id2label") or {}) != num_labels:
        kwargs.pop("id2label", None), kwargs.pop("label2id", None)
        kwargs["num_labels"] = num_labels
    try:
        return TinyBertConfig(**kwargs, fit_size=fit_size)
    except (StrictDataclassError, TypeError, ValueError) as err:  # strict validation of a hand-written config
        raise ValueError(f"{folder / 'config.json'} is not a valid BERT config: {err}") from err


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
    check_vocab_fits(tokenizer, config.vocab_size, what=f"the tokenizer of {folder}")
    return tokenizer


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
    bert = bert_head_of(student).bert_class(BertConfig(**bert_config_kwargs(student.config.to_dict())))
    bert.load_state_dict(student.state_dict(), strict=True)
    return bert.eval()


def to_plain_bert(
    student: PreTrainedModel | str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a TinyBERT student as a plain `bert` model (`model_type "bert"`, no `auto_map`, `fit_size` or code
    files; distillation projections are not copied) with its tokenizer: `AutoModelFor...from_pretrained(output_dir)`
    gives transformers' own `BertModel`/`BertFor...` with outputs identical to the student's.

    Args:
        student: a TinyBERT model, or the folder of a saved student.
        output_dir: where to write; must be empty or absent unless `overwrite=True`.
        tokenizer: a tokenizer, or a folder to load one from; default: the student's folder when `student` is
            a path (no tokenizer is saved if it has none).
        overwrite: replace the contents of a non-empty `output_dir`.

    Raises:
        OutputExistsError: if `output_dir` is not empty and `overwrite` is `False`, or holds an input.
        FileNotFoundError: if `student` is a path without a saved model.
        ValueError: if `student` is not a TinyBERT/BERT model of a supported head.
    """
    sources = [p for p in (student, tokenizer) if isinstance(p, (str, os.PathLike))]
    out = check_output_dir(output_dir, overwrite, sources=sources)
    if isinstance(student, (str, os.PathLike)):
        if tokenizer is None and _has_tokenizer_files(Path(student)):
            tokenizer = student
        student = load_bert_family_model(student)
    bert = as_plain_bert(student)
    save_model_folder(bert, out, tokenizer=tokenizer)
    logger.info(f"Saved the student as a plain {type(bert).__name__} in {out}")
    return out


# --------------------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------------------


def load_bert_family_model(path: str | os.PathLike) -> PreTrainedModel:
    """Load a saved BERT or TinyBERT model, in eval mode, with the class its `config.json` names (`architectures`).

    Args:
        path: a folder written by `save_pretrained` (model type `bert` or `tinybert`), or a Hub id.

    Raises:
        FileNotFoundError: if `path` is a folder without `config.json`.
        ValueError: if the model type is not `bert`/`tinybert`.
    """
    folder = Path(path)
    local = folder.exists() or folder.is_absolute() or str(path).startswith(".")  # else a Hub id
    if local and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json; expected a folder written by save_pretrained")
    config = AutoConfig.from_pretrained(path)
    if config.model_type not in ("bert", "tinybert"):
        raise ValueError(f"{path} holds a {config.model_type!r} model; expected model_type 'bert' or 'tinybert'")
    architectures = config.architectures or []
    head = head_from_architecture(architectures[0]) if architectures else HEADS["base"]
    if head is None:
        logger.warning(f"{path}: architectures {architectures} name no known head; loading the bare encoder.")
        head = HEADS["base"]
    model_cls = head.tinybert_class if config.model_type == "tinybert" else head.bert_class
    return model_cls.from_pretrained(path).eval()


def bert_config_kwargs(values: dict) -> dict:
    """The BERT fields of a config dict (drops `fit_size`, `auto_map`, `model_type`, `architectures`, ...)."""
    kwargs = {k: v for k, v in values.items() if k in _BERT_FIELDS}
    if kwargs.get("id2label"):
        kwargs["id2label"] = {int(k): v for k, v in kwargs["id2label"].items()}
    return kwargs


def as_tokenizer(tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None) -> PreTrainedTokenizerBase | None:
    """`tokenizer` itself, or the tokenizer of a folder (FileNotFoundError if it has none) or Hub id."""
    if tokenizer is None or isinstance(tokenizer, PreTrainedTokenizerBase):
        return tokenizer
    if Path(tokenizer).is_dir() and not _has_tokenizer_files(Path(tokenizer)):
        raise FileNotFoundError(
            f"No tokenizer in {tokenizer}: expected tokenizer.json, tokenizer_config.json or vocab.txt"
        )
    return AutoTokenizer.from_pretrained(tokenizer)


def check_vocab_fits(tokenizer: PreTrainedTokenizerBase, vocab_size: int, *, what: str = "the tokenizer") -> None:
    """Raise a ValueError naming both sizes when `tokenizer` has more tokens than the model's embeddings."""
    if len(tokenizer) > vocab_size:
        raise ValueError(
            f"Vocabulary mismatch: {what} has {len(tokenizer)} tokens but the model's vocab_size is {vocab_size}; "
            "token ids beyond the embedding table would fail"
        )


def save_model_folder(
    model: PreTrainedModel, out: str | os.PathLike, *, tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None
) -> Path:
    """Empty (or create) the checked output folder `out` and write the model and its tokenizer into it
    (nothing is written when the tokenizer's vocabulary is larger than the model's: a ValueError)."""
    tokenizer = as_tokenizer(tokenizer)
    if tokenizer is not None:
        check_vocab_fits(tokenizer, model.config.vocab_size)
    out = clear_output_dir(out)
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    return out


def _has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def _preview(keys: Sequence[str], limit: int = 10) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


__all__ = ["OriginalCheckpoint", "as_plain_bert", "load_bert_family_model", "load_original_checkpoint", "to_plain_bert"]
