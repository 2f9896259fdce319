"""Convert checkpoints: original TinyBERT in, plain BERT out, or a student initialised from a teacher.

Four conversions, one sub-command each:

  hf-tinybert convert from-original CHECKPOINT_DIR --output_dir OUT [--head HEAD] [--num_labels N]
      an official TinyBERT checkpoint (or Hub copy) -> a TinyBERT student folder, with the tokenizer and
      distill_projections.safetensors (its fit_dense projections) beside it
  hf-tinybert convert to-bert STUDENT_DIR --output_dir OUT
      a TinyBERT student -> a plain `bert` model that loads without custom code
  hf-tinybert convert from-teacher TEACHER_DIR --output_dir OUT --layers uniform|first|last|2,4,6 [--num_layers M]
      a BERT teacher -> a student of the same width made of a subset of its layers (numbered 1..N), with the
      teacher's tokenizer (or --tokenizer DIR)
  hf-tinybert convert slice-teacher TEACHER --output_dir OUT [--preset tinybert-4l-312d] [--layers uniform]
      a pre-trained teacher -> a narrower student cut out of it (weight selection), with its tokenizer and
      distillation projections: a starting point for general distillation that learns in minutes on a CPU

Each refuses a non-empty --output_dir unless --overwrite is given.
"""

from __future__ import annotations

import argparse
import sys

from hf_tinybert.modeling.configuration_tinybert import TINYBERT_PRESETS
from hf_tinybert.modeling.convert import HEADS, LAYER_STRATEGIES


def _layers(value: str) -> str | list[int]:
    if value in LAYER_STRATEGIES:
        return value
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither one of {', '.join(LAYER_STRATEGIES)} nor comma-separated teacher layers (1..N) like 2,4,6"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hf-tinybert convert` (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="hf-tinybert convert",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `hf-tinybert convert <conversion> --help` for its options.",
    )
    sub = parser.add_subparsers(
        dest="conversion", metavar="{from-original,to-bert,from-teacher,slice-teacher}", required=True
    )

    original = sub.add_parser(
        "from-original",
        help="an original TinyBERT checkpoint (official code or Hub copy) -> a TinyBERT student folder",
        description="Convert an original TinyBERT checkpoint (config.json, pytorch_model.bin or model.safetensors, "
        "vocab.txt) into a TinyBERT student folder. Its fit_dense/fit_denses projections are saved beside the "
        "student as distill_projections.safetensors.",
    )
    original.add_argument("checkpoint_dir", help="folder of the original checkpoint")
    original.add_argument(
        "--head",
        choices=HEADS,
        default=None,
        help="the student's head (default: inferred from the weight names; a general checkpoint gives 'base')",
    )
    original.add_argument("--num_labels", type=int, default=None, help="labels of a classification head")
    original.add_argument(
        "--fit_size", type=int, default=None, help="teacher hidden size when the checkpoint has no projections"
    )
    case = original.add_mutually_exclusive_group()
    case.add_argument("--lower_case", dest="do_lower_case", action="store_true", default=None, help="uncased vocab")
    case.add_argument("--cased", dest="do_lower_case", action="store_false", help="cased vocab (no lower-casing)")

    to_bert = sub.add_parser(
        "to-bert",
        help="a TinyBERT student -> a plain `bert` model that loads without custom code",
        description="Save a TinyBERT student as transformers' own BertModel/BertFor... (model_type 'bert', no "
        "auto_map, no code files); outputs are identical.",
    )
    to_bert.add_argument("student_dir", help="folder of a saved TinyBERT student")

    teacher = sub.add_parser(
        "from-teacher",
        help="a BERT teacher -> a same-width student built from a subset of its layers",
        description="Initialise a student from a subset of a teacher's layers (DistilBERT-style; needs the same "
        "hidden size: for a narrower student use general distillation). The teacher's embeddings, pooler and "
        "head are copied and its tokenizer is saved with the student.",
    )
    teacher.add_argument("teacher_dir", help="folder of the teacher (a BERT or TinyBERT model)")
    teacher.add_argument(
        "--layers",
        type=_layers,
        default="uniform",
        help="'uniform' (TinyBERT's mapping: the top layer of each block), 'first', 'last', or teacher layers "
        "numbered 1..N such as 2,4,6 (default: uniform)",
    )
    teacher.add_argument("--num_layers", type=int, default=None, help="student layers (needed with a layer strategy)")
    teacher.add_argument("--head", choices=HEADS, default=None, help="the student's head (default: the teacher's)")
    teacher.add_argument(
        "--tokenizer", default=None, help="folder of the tokenizer to save with the student (default: teacher_dir)"
    )

    sliced = sub.add_parser(
        "slice-teacher",
        help="a pre-trained teacher -> a narrower student cut out of its weights (weight selection)",
        description="Cut a student of a preset's shape out of a pre-trained teacher: uniformly chosen layers, the "
        "first hidden units, the first dimensions of each head, the first feed-forward units (Xu et al., 2024). "
        "Needs the teacher's head count, vocabulary and at least the student's width and depth. The projections "
        "to the teacher's width are saved beside it, so `general-distill --student_model OUT` starts from here.",
    )
    sliced.add_argument("teacher", help="folder or Hub id of the pre-trained teacher")
    sliced.add_argument("--preset", choices=sorted(TINYBERT_PRESETS), default="tinybert-4l-312d", help="student shape")
    sliced.add_argument(
        "--layers", choices=LAYER_STRATEGIES, default="uniform", help="which teacher layers (default: uniform)"
    )

    for command in (original, to_bert, teacher, sliced):
        command.add_argument("--output_dir", required=True, help="folder to write the result to")
        command.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty output_dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `hf-tinybert convert`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return int(exit_.code or 0)

    from hf_tinybert.modeling import convert

    try:
        if args.conversion == "from-original":
            result = convert.convert_original_checkpoint(
                args.checkpoint_dir,
                args.output_dir,
                head=args.head,
                num_labels=args.num_labels,
                fit_size=args.fit_size,
                do_lower_case=args.do_lower_case,
                overwrite=args.overwrite,
            )
            print(f"Saved a {result.model_class} (fit_size {result.fit_size}) to {result.output_dir}")
            if result.projections_file is not None:
                print(f"Distillation projections: {result.projections_file}")
            if not result.tokenizer_saved:
                print("Warning: the checkpoint has no vocab.txt, so no tokenizer was saved.")
            if result.initialized_keys:
                print(f"Newly initialised (not in the checkpoint): {', '.join(result.initialized_keys)}")
            if result.dropped_keys:
                print(f"Not part of the student: {', '.join(result.dropped_keys)}")
        elif args.conversion == "to-bert":
            out = convert.to_plain_bert(args.student_dir, args.output_dir, overwrite=args.overwrite)
            print(f"Saved a plain BERT model to {out}")
        elif args.conversion == "slice-teacher":
            from hf_tinybert.modeling import save_sliced_student

            out = save_sliced_student(args.teacher, args.output_dir, args.preset, args.layers, overwrite=args.overwrite)
            print(f"Saved a {args.preset} student sliced from {args.teacher} to {out}")
        else:
            student = convert.init_student_from_teacher(args.teacher_dir, args.layers, args.num_layers, head=args.head)
            out = convert.save_student(
                student, args.output_dir, tokenizer=args.tokenizer or args.teacher_dir, overwrite=args.overwrite
            )
            print(
                f"Saved a {student.config.num_hidden_layers}-layer {type(student).__name__} initialised from "
                f"{args.teacher_dir} to {out}"
            )
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"hf-tinybert convert: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
