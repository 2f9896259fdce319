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

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hf-tinybert export`."""
    from hf_tinybert.export.onnx import DEFAULT_OPSET, EXPORTERS, ONNX_TASKS

    parser = argparse.ArgumentParser(
        prog="hf-tinybert export",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_dir", help="folder of a saved model (config.json, weights, tokenizer)")
    parser.add_argument("--output_dir", required=True, help="folder to write the export to")
    parser.add_argument("--task", choices=list(ONNX_TASKS), default=None, help="default: from config.architectures")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder)")
    parser.add_argument("--optimize", action="store_true", help="also write model_optimized.onnx (fused graph)")
    parser.add_argument("--quantize", action="store_true", help="also write model_quantized.onnx (dynamic int8)")
    parser.add_argument(
        "--eval_set",
        default=None,
        help="GLUE-style TSV (e.g. glue/SST-2/dev.tsv) to check accuracy and label agreement on (text classification)",
    )
    parser.add_argument("--max_eval_examples", type=int, default=None, help="check on the first N examples only")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default: {DEFAULT_OPSET})")
    parser.add_argument("--exporter", choices=EXPORTERS, default="auto", help="auto: optimum if compatible, else torch")
    parser.add_argument(
        "--overwrite_output_dir", "--overwrite", action="store_true", help="replace an export in a non-empty output_dir"
    )
    return parser


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


def main(argv: list[str] | None = None) -> int:
    """Run `hf-tinybert export`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)

    from hf_tinybert.export.onnx import CHECK_FILE, export_onnx

    try:
        result = export_onnx(
            args.model_dir,
            args.output_dir,
            tokenizer=args.tokenizer,
            task=args.task,
            optimize=args.optimize,
            quantize=args.quantize,
            eval_set=args.eval_set,
            max_eval_examples=args.max_eval_examples,
            opset=args.opset,
            exporter=args.exporter,
            overwrite=args.overwrite_output_dir,
        )
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"hf-tinybert export: error: {err}", file=sys.stderr)
        return 2
    print(f"Exported {result.check['architecture']} ({result.check['task']}) to {result.output_dir}")
    print(format_check(result.check))
    print(f"Check saved to {result.output_dir / CHECK_FILE}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
