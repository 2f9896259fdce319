"""Export a model to ONNX (fp32, optionally fused and int8) and check the export against PyTorch.

  hf-tinybert export MODEL_DIR --output_dir OUT [--quantize] [--optimize] [--eval_set dev.tsv]

MODEL_DIR is a saved BERT or TinyBERT model (bare encoder, sequence classification or question answering)
with its tokenizer. OUT gets model.onnx [, model_optimized.onnx, model_quantized.onnx], config.json, the
tokenizer (the layout optimum's ORTModel classes load) and export_check.json: the largest |PyTorch - ONNX|
output difference of each file and, with --eval_set, each file's accuracy and label agreement with PyTorch.
Exit status 1 when an fp32 file differs from PyTorch by more than the tolerance (1e-4, relative to the
largest output when that is above 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import command
from .arguments import parse_arguments


@dataclass
class ExportArguments:
    """What `hf-tinybert export` exports and checks."""

    model_dir: str = field(metadata={"help": "Folder of a saved model (config.json, weights, tokenizer)."})
    output_dir: str = field(metadata={"help": "Folder to write the export to."})
    task: str | None = field(
        default=None,
        metadata={
            "help": "text-classification, question-answering or feature-extraction (default: from the config's "
            "architectures)."
        },
    )
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer folder (default: the model folder)."})
    optimize: bool = field(default=False, metadata={"help": "Also write model_optimized.onnx (fused graph)."})
    quantize: bool = field(default=False, metadata={"help": "Also write model_quantized.onnx (dynamic int8)."})
    eval_set: str | None = field(
        default=None,
        metadata={"help": "GLUE-style TSV (e.g. glue/SST-2/dev.tsv) to check accuracy and label agreement on."},
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"aliases": ["--max_eval_examples"], "help": "Check on the first N examples only."}
    )
    opset: int | None = field(default=None, metadata={"help": "ONNX opset (default: the exporter's default)."})
    exporter: str = field(default="auto", metadata={"help": "auto or torch (torch.onnx)."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"aliases": ["--overwrite"], "help": "Replace an export in a non-empty output_dir."}
    )


def format_check(check: dict) -> str:
    """The export check as a few human-readable lines."""
    lines = [f"Export check ({check['inputs']}; exporter {check['exporter']}, opset {check['opset']}):"]
    if "accuracy" in check.get("pytorch", {}):
        lines.append(f"  pytorch{'':<25} accuracy {100 * check['pytorch']['accuracy']:.2f}")
    for name, entry in check["variants"].items():
        line = f"  {name:<10}{entry['file']:<22} max |delta| {entry['max_abs_diff']:.3g}"
        line += f"  size {entry['size_bytes'] / 2**20:.1f} MB"
        if "accuracy" in entry:
            line += (
                f"  accuracy {100 * entry['accuracy']:.2f} (drop {100 * entry['accuracy_drop']:.2f} points)"
                f"  label agreement {100 * entry['label_agreement']:.2f} %"
            )
        lines.append(line)
    verdict = "passed" if check["passed"] else "FAILED"
    lines.append(f"  fp32 files within {check['tolerance']:.3g} of PyTorch: {verdict}")
    return "\n".join(lines)


@command("export")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert export`; returns the exit status."""
    (args,) = parse_arguments(
        (ExportArguments,), argv, "hf-tinybert export", __doc__, positionals={"model_dir": "MODEL_DIR"}
    )

    from hf_tinybert.export.onnx import CHECK_FILE, DEFAULT_OPSET, export_onnx

    result = export_onnx(
        args.model_dir,
        args.output_dir,
        tokenizer=args.tokenizer,
        task=args.task,
        optimize=args.optimize,
        quantize=args.quantize,
        eval_set=args.eval_set,
        max_eval_examples=args.max_eval_samples,
        opset=args.opset or DEFAULT_OPSET,
        exporter=args.exporter,
        overwrite=args.overwrite_output_dir,
    )
    print(f"Exported {result.check['architecture']} ({result.check['task']}) to {result.output_dir}")
    print(format_check(result.check))
    print(f"Check saved to {result.output_dir / CHECK_FILE}")
    return 0 if result.passed else 1
