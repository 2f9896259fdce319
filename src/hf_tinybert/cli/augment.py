"""Augment training data with TinyBERT's word replacement (masked LM, word vectors or teacher embeddings).

Reads examples from a GLUE-style .tsv, .csv, .jsonl/.json file or a save_to_disk folder, augments the given
text column(s) with Algorithm 1 of the TinyBERT paper and writes the result with the input's columns: a
.tsv/.csv/.jsonl/.json --output_file or a save_to_disk --output_dir. Candidate sources: single-piece words get
--masked_lm predictions; other words get neighbours in --word_vectors (GloVe/word2vec text), else in the input
embeddings of --teacher, else of --masked_lm. With only --teacher it runs fully offline.

Example (offline, SST-2):
  hf-tinybert augment --input ../shared/data/glue/SST-2/train.tsv --text_columns sentence \\
      --teacher TEACHER_DIR --output_file aug.tsv --max_examples 200
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class AugmentArguments:
    """Where the data comes from and goes, and which models give the candidates."""

    input: str = field(
        metadata={"help": "Examples: a .tsv (GLUE format: header, no quoting), .csv, .jsonl/.json file or a folder."}
    )
    text_columns: list[str] = field(
        metadata={"help": "Text column(s) to augment, each separately (two for sentence pairs)."}
    )
    output_file: str | None = field(
        default=None, metadata={"help": "Write a .tsv (GLUE format), .csv or .jsonl/.json file."}
    )
    output_dir: str | None = field(default=None, metadata={"help": "Write a datasets save_to_disk folder."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Replace an existing --output_file or non-empty --output_dir."}
    )
    masked_lm: str | None = field(
        default=None, metadata={"help": "AutoModelForMaskedLM path or Hub id for single-piece words."}
    )
    word_vectors: str | None = field(
        default=None, metadata={"help": "GloVe / word2vec text file: neighbours for multi-piece words."}
    )
    word_vectors_max_words: int = field(
        default=100_000, metadata={"help": "Read only the first N word vectors (official code: 100000)."}
    )
    teacher: str | None = field(
        default=None,
        metadata={"help": "Teacher path: its input-embedding table gives neighbours (offline fallback)."},
    )
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "Student tokenizer (default: the teacher's, else the masked LM's); vocabularies must match."},
    )
    split: str | None = field(default=None, metadata={"help": "Split to read when --input is a DatasetDict folder."})
    max_examples: int | None = field(default=None, metadata={"help": "Augment only the first N examples."})
    batch_size: int = field(default=256, metadata={"help": "Examples per batch (does not change the result)."})
    num_proc: int | None = field(default=None, metadata={"help": "Processes (does not change the result)."})
    mlm_max_tokens_per_forward: int = field(
        default=2048, metadata={"help": "Token budget of one masked-LM forward (does not change the result)."}
    )
    device: str | None = field(default=None, metadata={"help": "Device of the masked LM, e.g. cuda:0."})


def build_parser():
    """The `HfArgumentParser` of `hf-tinybert augment` (AugmentArguments + AugmentationConfig)."""
    from transformers import HfArgumentParser

    from hf_tinybert.data.augment import AugmentationConfig

    parser = HfArgumentParser((AugmentArguments, AugmentationConfig), prog="hf-tinybert augment")
    parser.description = __doc__.split("\n\n")[0]
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `hf-tinybert augment`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, config = parser.parse_args_into_dataclasses(args=argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return int(exit_.code or 0)
    except ValueError as err:  # AugmentationConfig's checks
        print(f"hf-tinybert augment: error: {err}", file=sys.stderr)
        return 2

    from hf_tinybert.data.augment import augment_dataset, build_candidate_sources
    from hf_tinybert.data.table_files import check_output_path, load_table, save_table

    try:
        if (args.output_file is None) == (args.output_dir is None):
            raise ValueError("give exactly one of --output_file (.tsv/.csv/.jsonl/.json) and --output_dir")
        if args.masked_lm is None and args.word_vectors is None and args.teacher is None:
            raise ValueError(
                "no candidate source: give --masked_lm, --word_vectors and/or --teacher (the teacher's input "
                "embeddings work offline)"
            )
        if args.max_examples is not None and args.max_examples < 1:
            raise ValueError(f"--max_examples must be >= 1, got {args.max_examples}")
        if args.output_file is not None and not args.output_file.lower().endswith((".tsv", ".csv", ".jsonl", ".json")):
            raise ValueError(f"--output_file {args.output_file!r} must end in .tsv, .csv, .jsonl or .json")
        output = check_output_path(args.output_file or args.output_dir, overwrite=args.overwrite_output_dir)
        dataset = load_table(args.input, split=args.split, string_columns=args.text_columns)
        for column in args.text_columns:
            if column not in dataset.column_names:
                raise ValueError(
                    f"text column {column!r} is not in {args.input}; its columns are: {', '.join(dataset.column_names)}"
                )
        if args.max_examples is not None and args.max_examples < len(dataset):
            dataset = dataset.select(range(args.max_examples))
        sources = build_candidate_sources(
            args.masked_lm,
            args.word_vectors,
            args.teacher,
            tokenizer=args.tokenizer,
            word_vectors_max_words=args.word_vectors_max_words,
            mlm_max_tokens_per_forward=args.mlm_max_tokens_per_forward,
            device=args.device,
        )
        tokenizer = args.tokenizer or args.teacher or args.masked_lm
        print("Candidate sources: " + ", ".join(source.describe() for source in sources))
        augmented = augment_dataset(
            dataset,
            args.text_columns,
            sources,
            config,
            tokenizer=tokenizer,
            batch_size=args.batch_size,
            num_proc=args.num_proc,
        )
        save_table(augmented, output, overwrite=args.overwrite_output_dir)
    except (ValueError, OSError) as err:  # bad input; OSError: a model path / Hub id that cannot be loaded
        print(f"hf-tinybert augment: error: {err}", file=sys.stderr)
        return 2
    print(
        f"Augmented {len(dataset)} examples into {len(augmented)} rows ({len(augmented) / max(1, len(dataset)):.1f}x): {output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
