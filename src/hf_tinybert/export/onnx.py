"""Export BERT-family models (TinyBERT students, plain `bert` models) to ONNX, and check the export.

The export goes through ``torch.onnx.export(dynamo=False, opset_version=17)`` with dynamic batch and
sequence axes (optimum 2.x moved its exporter to ``optimum-onnx``, whose only release needs
transformers < 4.58: no install this package supports can use it). Optional steps: graph fusion with
ONNX Runtime's transformer optimizer and dynamic int8 quantization. The exportable tasks are the
pipeline tags of the heads in ``hf_tinybert.modeling.heads`` that have ONNX outputs.

The output folder has the layout optimum's ``ORTModelFor...`` classes load::

    config.json, tokenizer files, model.onnx [, model_optimized.onnx] [, model_quantized.onnx], export_check.json

Every export checks itself: the largest absolute difference between the outputs of PyTorch and of each
ONNX file, and, given labelled examples, the label agreement and the accuracy of each file. The check
is returned and written to ``export_check.json``.
"""

from __future__ import annotations

import logging as py_logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.utils import logging

from ..modeling.heads import HEADS, Head, head_from_architecture
from ..utils import check_output_dir, clear_output_dir, write_json
from .eval_set import EvalSet, load_eval_set

logger = logging.get_logger(__name__)

ONNX_FILE = "model.onnx"
OPTIMIZED_FILE = "model_optimized.onnx"
QUANTIZED_FILE = "model_quantized.onnx"
CHECK_FILE = "export_check.json"
DEFAULT_OPSET = 17
INPUT_NAMES: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("bert", "tinybert")
# Largest |PyTorch - ONNX| accepted for the fp32 files, relative to the largest |PyTorch output| when that is
# above 1 (measured: ~1e-7 absolute on BERT-base shapes with outputs of order 1).
FP32_TOLERANCE = 1e-4
EXPORTERS: tuple[str, ...] = ("auto", "torch")  # "auto" is torch: no supported install has optimum's exporter
WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "vocab.txt")
# The files an export writes into its folder (and deletes there first when overwriting).
EXPORT_FILES: tuple[str, ...] = (ONNX_FILE, OPTIMIZED_FILE, QUANTIZED_FILE, CHECK_FILE)
# Exportable task (a pipeline tag) -> its head: the heads with ONNX outputs.
_TASK_HEADS: dict[str, Head] = {head.pipeline_tag: head for head in HEADS.values() if head.onnx_outputs}
#: The exportable tasks: "text-classification", "question-answering", "feature-extraction".
ONNX_TASKS: tuple[str, ...] = tuple(_TASK_HEADS)


@dataclass
class ExportResult:
    """What `export_onnx` wrote and what its self-check found.

    Attributes:
        output_dir: the export folder.
        files: ONNX variant (``"fp32"``, ``"optimized"``, ``"int8"``) -> path of its file.
        check: the self-check, as written to ``export_check.json`` (see `export_onnx`).
    """

    output_dir: Path
    files: dict[str, Path]
    check: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every fp32 ONNX file matches PyTorch within `FP32_TOLERANCE` (scaled by the outputs' size)."""
        return bool(self.check.get("passed"))


# --------------------------------------------------------------------------------------------- tasks


def onnx_head(architecture: str | None) -> Head:
    """The head a model class name (``config.architectures[0]``) exports as; its ``pipeline_tag`` is the ONNX task.

    Args:
        architecture: a class name such as ``"TinyBertForSequenceClassification"`` or ``"BertModel"``; None
            (a config without `architectures`) means the bare encoder.

    Raises:
        ValueError: the architecture has no exportable task.
    """
    head = head_from_architecture(architecture)
    if head is not None and head.onnx_outputs:
        return head
    raise ValueError(
        f"Architecture {architecture!r} is not supported for ONNX export; supported are *ForSequenceClassification "
        f"(text-classification), *ForQuestionAnswering (question-answering) and BertModel/TinyBertModel "
        f"(feature-extraction). Pass task='feature-extraction' to export only its encoder."
    )


def _task_head(task: str) -> Head:
    if task not in _TASK_HEADS:
        raise ValueError(f"Unknown ONNX task {task!r}; valid tasks are: {', '.join(ONNX_TASKS)}")
    return _TASK_HEADS[task]


def _check_model_type(config: PretrainedConfig) -> None:
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"Model type {config.model_type!r} is not supported for ONNX export; supported model types are: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )


def _output_names(model: PreTrainedModel, task: str) -> tuple[str, ...]:
    names = _task_head(task).onnx_outputs
    if task == "feature-extraction" and getattr(model, "pooler", None) is None:
        names = tuple(n for n in names if n != "pooler_output")
    return names


# ----------------------------------------------------------------------------------- low-level steps


class _OnnxGraphModule(torch.nn.Module):
    """Positional inputs and a tuple of named outputs, as the ONNX graph will have them."""

    def __init__(self, model: PreTrainedModel, output_names: Sequence[str]):
        super().__init__()
        self.model = model
        self.output_names = tuple(output_names)

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
        )
        return tuple(out[name] for name in self.output_names)


def _dynamic_axes(output_names: Sequence[str]) -> dict[str, dict[int, str]]:
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in INPUT_NAMES}
    for name in output_names:
        axes[name] = (
            {0: "batch_size"} if name in ("logits", "pooler_output") else {0: "batch_size", 1: "sequence_length"}
        )
    return axes


def torch_to_onnx(
    model: PreTrainedModel, onnx_path: str | os.PathLike, *, task: str | None = None, opset: int = DEFAULT_OPSET
) -> tuple[str, ...]:
    """Write one ONNX file for a BERT-family model with ``torch.onnx.export(dynamo=False)``.

    The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, shape batch x sequence,
    both axes dynamic) and returns the task's outputs under optimum's names. The model is traced with
    eager attention (which ONNX Runtime's optimizer can fuse) and in eval mode; its attention
    implementation and train/eval mode are restored afterwards.

    Args:
        model: a BERT or TinyBERT model (bare encoder, sequence classification or question answering).
        onnx_path: file to write.
        task: one of `ONNX_TASKS`; by default taken from the model's class.
        opset: ONNX opset version.

    Returns:
        The names of the graph's outputs.

    Raises:
        ValueError: unsupported model type, architecture or task.
    """
    _check_model_type(model.config)
    task = task or onnx_head(type(model).__name__).pipeline_tag
    _task_head(task)
    output_names = _output_names(model, task)
    was_training, attn = model.training, model.config._attn_implementation
    model.eval()
    if attn != "eager":
        model.set_attn_implementation("eager")
    wrapper = _OnnxGraphModule(model, output_names).eval()
    generator = torch.Generator().manual_seed(0)
    dummy_ids = torch.randint(0, model.config.vocab_size, (2, 16), generator=generator)
    dummy = (dummy_ids, torch.ones_like(dummy_ids), torch.zeros_like(dummy_ids))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                wrapper,
                dummy,
                os.fspath(onnx_path),
                dynamo=False,
                opset_version=opset,
                input_names=list(INPUT_NAMES),
                output_names=list(output_names),
                dynamic_axes=_dynamic_axes(output_names),
                do_constant_folding=True,
            )
    finally:
        if attn != "eager":
            model.set_attn_implementation(attn)
        model.train(was_training)
    return output_names


def optimize_onnx(
    onnx_path: str | os.PathLike, output_path: str | os.PathLike, *, num_heads: int, hidden_size: int
) -> dict[str, int]:
    """Fuse attention, LayerNorm and GELU subgraphs with ``onnxruntime.transformers.optimizer``.

    Args:
        onnx_path: the fp32 model exported by `torch_to_onnx`.
        output_path: file to write the fused model to.
        num_heads: attention heads of the model (``config.num_attention_heads``).
        hidden_size: hidden size of the model (``config.hidden_size``).

    Returns:
        Fused operator -> count (only the operators that were fused at least once).
    """
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(os.fspath(onnx_path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
    optimized.save_model_to_file(os.fspath(output_path))
    return {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}


def cpu_has_vnni() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8), from /proc/cpuinfo;
    True where that cannot be read (ARM and other machines whose int8 kernels do not saturate the same way)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None)
    except OSError:
        return True
    if flags is None:
        return True
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


def quantize_onnx(
    onnx_path: str | os.PathLike, output_path: str | os.PathLike, reduce_range: bool | None = None
) -> None:
    """Dynamic int8 quantization (int8 weights, activations quantized at run time) of an ONNX model.

    Weights are quantized per output channel: as fast as per-tensor scales here, and on a MiniLM-L6 fine-tuned
    on SST-2 it kept 97.1 % of dev labels instead of 95.4 %.

    Args:
        onnx_path: an fp32 model (plain or fused).
        output_path: file to write the int8 model to.
        reduce_range: quantize weights to 7 bits. ONNX Runtime's u8s8 kernels on x86 CPUs without VNNI add pairs of
            8-bit products in saturating 16-bit sums; 7-bit weights cannot saturate them (ONNX Runtime's advice for
            such machines). Default (None): on when this CPU has no VNNI (`cpu_has_vnni`).
    """
    if reduce_range is None:
        reduce_range = not cpu_has_vnni()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = py_logging.getLogger()
    advice = _DropMessage("consider to run pre-processing before quantization")
    root.addFilter(advice)  # ONNX Runtime's advice on the root logger, about static quantization of CNNs
    try:
        quantize_dynamic(
            os.fspath(onnx_path),
            os.fspath(output_path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
            # fused models hold contrib ops whose output types shape inference cannot tell
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(advice)


class _DropMessage(py_logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: py_logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def onnx_session(onnx_path: str | os.PathLike, *, threads: int | None = None, spinning: bool = True):
    """An ``onnxruntime.InferenceSession`` on the CPU.

    Args:
        onnx_path: the ONNX file.
        threads: intra-op threads; None lets ONNX Runtime use all cores.
        spinning: let idle worker threads spin (faster back-to-back runs, but they compete with other work
            in the process for a moment after each run).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(os.fspath(onnx_path), options, providers=["CPUExecutionProvider"])


def onnx_feed(session, encodings: dict) -> dict[str, np.ndarray]:
    """The inputs a session takes, as int64 arrays, from a tokenizer's (or hand-made) encodings.

    Missing ``token_type_ids`` are zeros; inputs the session does not declare are dropped.
    """
    arrays = {
        k: np.asarray(v.cpu().numpy() if isinstance(v, torch.Tensor) else v, dtype=np.int64)
        for k, v in encodings.items()
    }
    feed = {}
    for node in session.get_inputs():
        if node.name in arrays:
            feed[node.name] = arrays[node.name]
        elif node.name == "token_type_ids":
            feed[node.name] = np.zeros_like(arrays["input_ids"])
        else:
            raise ValueError(f"ONNX model needs input {node.name!r}; the encodings have: {', '.join(arrays)}")
    return feed


# ------------------------------------------------------------------------------------------- checks


def _random_encodings(config: PretrainedConfig, batch_size: int, seq_len: int, seed: int) -> dict[str, torch.Tensor]:
    """Token ids with ragged padding and two segments: inputs of another shape than the traced one."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.vocab_size, (batch_size, seq_len), generator=generator)
    mask = torch.ones_like(ids)
    for row in range(1, batch_size):
        mask[row, seq_len - row * max(1, seq_len // (2 * batch_size)) :] = 0
    types = torch.zeros_like(ids)
    if getattr(config, "type_vocab_size", 1) > 1:
        types[:, seq_len // 2 :] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _torch_outputs(model: PreTrainedModel, encodings: dict, output_names: Sequence[str]) -> list[np.ndarray]:
    with torch.inference_mode():
        out = model(**{k: torch.as_tensor(v) for k, v in encodings.items()}, return_dict=True)
    return [out[name].float().numpy() for name in output_names]


def _max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float(max(np.abs(x - y).max() for x, y in zip(a, b)))


def check_export(
    model: PreTrainedModel,
    onnx_files: dict[str, Path],
    *,
    task: str,
    tokenizer=None,
    eval_set: EvalSet | None = None,
    batch_size: int = 32,
    max_length: int = 128,
) -> dict:
    """Compare each ONNX file with the PyTorch model it came from.

    Without `eval_set`, the inputs are random token ids in two shapes unlike the traced one (3 x 19 and
    1 x 7, with padding), which also exercises the dynamic axes. With `eval_set` (text classification
    only), the inputs are its examples, tokenized with `tokenizer`, and the check adds each file's
    accuracy, its label agreement with PyTorch and its accuracy drop.

    Args:
        model: the PyTorch model (any attention implementation).
        onnx_files: variant name -> ONNX file.
        task: the exported task.
        tokenizer: the model's tokenizer (needed with `eval_set`).
        eval_set: labelled examples, or None.
        batch_size: examples per forward pass.
        max_length: longest tokenized example; longer ones are truncated.

    Returns:
        ``{"inputs": ..., "pytorch": {"max_abs_output", "accuracy"?, "predicted_label_counts"?},
        "variants": {name: {"file", "size_bytes", "max_abs_diff", "label_agreement"?, "accuracy"?,
        "accuracy_drop"?}}, "tolerance", "passed"}``, where
        ``tolerance`` is `FP32_TOLERANCE` times the largest absolute PyTorch output (when above 1) and ``passed``
        says whether every fp32 file is within it.
    """
    output_names = _output_names(model, task)
    was_training = model.training
    model.eval()
    sessions = {name: onnx_session(path, spinning=False) for name, path in onnx_files.items()}
    if eval_set is not None:
        batches = []
        for start in range(0, len(eval_set), batch_size):
            pairs = None if eval_set.text_pairs is None else eval_set.text_pairs[start : start + batch_size]
            batches.append(
                dict(
                    tokenizer(
                        eval_set.texts[start : start + batch_size],
                        pairs,
                        padding=True,
                        truncation=True,
                        max_length=max_length,
                        return_tensors="pt",
                    )
                )
            )
        inputs_note = f"{len(eval_set)} examples of {eval_set.source}"
    else:
        batches = [_random_encodings(model.config, 3, 19, seed=1), _random_encodings(model.config, 1, 7, seed=2)]
        inputs_note = "random token ids, batch 3 x seq 19 and batch 1 x seq 7, with padding"

    diffs = dict.fromkeys(sessions, 0.0)
    scale = 0.0
    predictions: dict[str, list[np.ndarray]] = {"pytorch": [], **{name: [] for name in sessions}}
    for encodings in logging.tqdm(batches, desc="checking export", disable=len(batches) < 4):
        reference = _torch_outputs(model, encodings, output_names)
        scale = max(scale, float(max(np.abs(r).max() for r in reference)))
        if eval_set is not None:
            predictions["pytorch"].append(reference[0].argmax(-1))
        for name, session in sessions.items():
            outputs = session.run(list(output_names), onnx_feed(session, encodings))
            diffs[name] = max(diffs[name], _max_abs_diff(outputs, reference))
            if eval_set is not None:
                predictions[name].append(outputs[0].argmax(-1))
    model.train(was_training)

    tolerance = FP32_TOLERANCE * max(1.0, scale)
    check: dict = {"inputs": inputs_note, "pytorch": {"max_abs_output": scale}, "variants": {}, "tolerance": tolerance}
    labels = np.asarray(eval_set.labels) if eval_set is not None else None
    if labels is not None:
        reference_pred = np.concatenate(predictions["pytorch"])
        check["pytorch"]["accuracy"] = float((reference_pred == labels).mean())
        classes, counts = np.unique(reference_pred, return_counts=True)
        check["pytorch"]["predicted_label_counts"] = {str(c): int(n) for c, n in zip(classes, counts)}
    for name, path in onnx_files.items():
        entry = {"file": path.name, "size_bytes": path.stat().st_size, "max_abs_diff": diffs[name]}
        if labels is not None:
            pred = np.concatenate(predictions[name])
            entry["label_agreement"] = float((pred == reference_pred).mean())
            entry["accuracy"] = float((pred == labels).mean())
            entry["accuracy_drop"] = check["pytorch"]["accuracy"] - entry["accuracy"]
        check["variants"][name] = entry
    fp32 = [v["max_abs_diff"] for k, v in check["variants"].items() if k != "int8"]
    check["passed"] = all(d <= tolerance for d in fp32)
    return check


# ----------------------------------------------------------------------------------------- the export


def _check_model_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"Model folder {str(folder)!r} does not exist")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"No model in {str(folder)!r}: config.json is missing (found: {_listing(folder)})")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise FileNotFoundError(
            f"No model weights in {str(folder)!r}: expected one of {', '.join(WEIGHT_FILES)} (found: {_listing(folder)})"
        )


def _listing(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    return ", ".join(names) if names else "nothing"


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def export_onnx(
    model: str | os.PathLike | PreTrainedModel,
    output_dir: str | os.PathLike,
    *,
    tokenizer=None,
    task: str | None = None,
    optimize: bool = False,
    quantize: bool = False,
    eval_set: str | os.PathLike | tuple[Sequence, Sequence] | EvalSet | None = None,
    max_eval_examples: int | None = None,
    opset: int = DEFAULT_OPSET,
    exporter: str = "auto",
    overwrite: bool = False,
    batch_size: int = 32,
    max_length: int = 128,
) -> ExportResult:
    """Export a BERT-family model to ONNX in optimum's layout and check the export against PyTorch.

    Writes ``model.onnx`` (fp32), optionally ``model_optimized.onnx`` (fused) and ``model_quantized.onnx``
    (dynamic int8, quantized from ``model.onnx``), ``config.json``, the tokenizer, and ``export_check.json``.
    Every input is validated before the model is loaded.

    Args:
        model: a saved model folder (config.json + weights) or a loaded `PreTrainedModel`. Model types
            ``bert`` and ``tinybert``; architectures bare encoder, sequence classification, question answering.
        output_dir: the export folder.
        tokenizer: a tokenizer or its folder; by default the one saved in the model folder.
        task: one of `ONNX_TASKS` (``"text-classification"``, ``"question-answering"``,
            ``"feature-extraction"``); by default taken from ``config.architectures``.
        optimize: also write a fused model (ONNX Runtime transformer optimizer, ``model_type="bert"``).
        quantize: also write a dynamic int8 model.
        eval_set: labelled examples for the check (text classification only): a GLUE-style TSV path or
            ``(texts_or_pairs, labels)``; see `load_eval_set`.
        max_eval_examples: check on the first examples of `eval_set` only.
        opset: ONNX opset version.
        exporter: ``"torch"`` or ``"auto"`` (the same): ``torch.onnx.export``. ``"optimum"`` is refused: optimum's
            exporter (optimum-onnx) needs transformers < 4.58.
        overwrite: replace the export in a non-empty `output_dir` (only the files an export writes are deleted
            first: `EXPORT_FILES`, then config and tokenizer files are replaced).
        batch_size: examples per forward pass in the check.
        max_length: tokenized length limit in the check.

    Returns:
        An `ExportResult`; ``result.check`` is what ``export_check.json`` holds.

    Raises:
        FileNotFoundError: no model (config.json, weights) or no tokenizer, or a missing eval-set file.
        ValueError: unsupported model type / architecture / task / exporter, a bad eval set, or a non-empty
            `output_dir` without `overwrite` (an `OutputExistsError`).
    """
    if exporter == "optimum":
        raise ValueError(
            "exporter='optimum' is not available: optimum 2 moved its ONNX exporter to optimum-onnx, whose only "
            "release (0.1.0) requires transformers < 4.58 and fails to import with the transformers 5 this package "
            "needs. Use exporter='torch' (the default 'auto' is the same): torch.onnx.export, checked against PyTorch."
        )
    if exporter not in EXPORTERS:
        raise ValueError(f"Unknown exporter {exporter!r}; valid exporters are: {', '.join(EXPORTERS)}")
    output_dir = Path(output_dir)
    model_dir: Path | None = None
    if isinstance(model, PreTrainedModel):
        config = model.config
        if tokenizer is None:
            raise ValueError("A loaded model needs tokenizer= (a tokenizer or its folder) to export beside it")
    else:
        model_dir = Path(model)
        _check_model_folder(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        if tokenizer is None and not _has_tokenizer(model_dir):
            raise FileNotFoundError(
                f"No tokenizer in {str(model_dir)!r} (looked for {', '.join(TOKENIZER_FILES)}); "
                "pass tokenizer= with a tokenizer folder"
            )
    if isinstance(tokenizer, (str, os.PathLike)) and not (Path(tokenizer).is_dir() and _has_tokenizer(Path(tokenizer))):
        raise FileNotFoundError(f"No tokenizer in {str(tokenizer)!r} (looked for {', '.join(TOKENIZER_FILES)})")
    _check_model_type(config)
    architecture = type(model).__name__ if isinstance(model, PreTrainedModel) else (config.architectures or [None])[0]
    if task is None:
        task = onnx_head(architecture).pipeline_tag
    head = _task_head(task)
    if (
        isinstance(model, PreTrainedModel)
        and task != "feature-extraction"
        and task != onnx_head(architecture).pipeline_tag
    ):
        raise ValueError(
            f"Task {task!r} does not match the loaded {architecture}; pass task=None or 'feature-extraction'"
        )
    examples = None
    if eval_set is not None:
        if task != "text-classification":
            raise ValueError(f"An eval set checks text-classification exports only; this export's task is {task!r}")
        examples = load_eval_set(
            eval_set, label2id=config.label2id, num_labels=config.num_labels, max_examples=max_eval_examples
        )
    check_output_dir(output_dir, overwrite)
    clear_output_dir(output_dir, names=EXPORT_FILES)  # an earlier export's files; nothing else in the folder

    # heavy work from here on
    if model_dir is not None:
        model = head.auto_class.from_pretrained(model_dir)
    elif task == "feature-extraction":
        model = model.base_model  # the encoder of a loaded model with a head
    if not hasattr(tokenizer, "save_pretrained"):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer if tokenizer is not None else model_dir)
    was_training = model.training
    model.eval()
    try:
        logger.info(f"Exporting {type(model).__name__} ({task}) to {output_dir / ONNX_FILE}")
        torch_to_onnx(model, output_dir / ONNX_FILE, task=task, opset=opset)
        files = {"fp32": output_dir / ONNX_FILE}
        fused: dict[str, int] | None = None
        if optimize:
            logger.info("Fusing the ONNX graph (attention, LayerNorm, GELU)")
            files["optimized"] = output_dir / OPTIMIZED_FILE
            fused = optimize_onnx(
                files["fp32"], files["optimized"], num_heads=config.num_attention_heads, hidden_size=config.hidden_size
            )
        if quantize:
            logger.info("Quantizing to dynamic int8")
            files["int8"] = output_dir / QUANTIZED_FILE
            quantize_onnx(files["fp32"], files["int8"])
        model.config.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        check = check_export(
            model,
            files,
            task=task,
            tokenizer=tokenizer,
            eval_set=examples,
            batch_size=batch_size,
            max_length=max_length,
        )
    finally:
        model.train(was_training)
    check = {
        "task": task,
        "model_type": config.model_type,
        "architecture": type(model).__name__,
        "exporter": "torch.onnx.export(dynamo=False)",
        "opset": opset,
        "fused_operators": fused,
        **check,
    }
    write_json(output_dir / CHECK_FILE, check)
    if not check["passed"]:
        logger.warning(
            f"ONNX export differs from PyTorch by more than {check['tolerance']:.3g}: see {output_dir / CHECK_FILE}"
        )
    return ExportResult(output_dir=output_dir, files=files, check=check)


__all__ = [
    "CHECK_FILE",
    "EXPORTERS",
    "EXPORT_FILES",
    "FP32_TOLERANCE",
    "ONNX_FILE",
    "ONNX_TASKS",
    "OPTIMIZED_FILE",
    "QUANTIZED_FILE",
    "SUPPORTED_MODEL_TYPES",
    "ExportResult",
    "check_export",
    "export_onnx",
    "onnx_feed",
    "onnx_head",
    "onnx_session",
    "optimize_onnx",
    "quantize_onnx",
    "torch_to_onnx",
]
