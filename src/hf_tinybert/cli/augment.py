"""Augment training data with TinyBERT's word replacement (masked LM, word vectors or teacher embeddings).

Reads examples from a GLUE-style .tsv, .csv, .jsonl/.json file or a save_to_disk folder, augments the given
text column(s) with Algorithm 1 of the TinyBERT paper and writes the result with the input's columns: a
.tsv/.csv/.jsonl/.json --output_file or a save_to_disk --output_dir. Candidate sources: single-piece words get
--masked_lm predictions; other words get neighbours in --word_vectors (GloVe/word2vec text), else in the input
embeddings of --teacher, else of --masked_lm. With only --teacher it runs fully offline.

Example (offline, SST-2):
  hf-tinybert augment --input ../shared/data/glue/SST-2/train.tsv --text_columns sentence \\
      --teacher TEACHER_DIR --output_file aug.tsv --max_train_samples 200
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import command
from .arguments import parse_arguments, split_list


@dataclass
class AugmentArguments:
    """Where the data comes from and goes, and which models give the candidates."""

    input: str = field(
        metadata={"help": "Examples: a .tsv (GLUE format: header, no quoting), .csv, .jsonl/.json file or a folder."}
    )
    text_columns: list[str] = field(
        metadata={"help": "Text column(s) to augment, each separately (two for sentence pairs): a b or a,b."}
    )
    output_file: str | None = field(
        default=None, metadata={"help": "Write a .tsv (GLUE format), .csv or .jsonl/.json file."}
    )
    output_dir: str | None = field(default=None, metadata={"help": "Write a datasets save_to_disk folder."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"aliases": ["--overwrite"], "help": "Replace an existing --output_file or non-empty --output_dir."},
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
    max_train_samples: int | None = field(
        default=None, metadata={"aliases": ["--max_examples"], "help": "Augment only the first N examples."}
    )
    batch_size: int = field(default=256, metadata={"help": "Examples per batch (does not change the result)."})
    num_proc: int | None = field(default=None, metadata={"help": "Processes (does not change the result)."})
    mlm_max_tokens_per_forward: int = field(
        default=2048, metadata={"help": "Token budget of one masked-LM forward (does not change the result)."}
    )
    device: str | None = field(default=None, metadata={"help": "Device of the masked LM, e.g. cuda:0."})


@command("augment")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert augment`; returns the exit status."""
    from hf_tinybert.data.augment import AugmentationConfig

    args, config = parse_arguments((AugmentArguments, AugmentationConfig), argv, "hf-tinybert augment", __doc__)

    from hf_tinybert.data.augment import augment_dataset, build_candidate_sources
    from hf_tinybert.data.table_files import check_output_path, load_table, save_table

    text_columns = split_list(args.text_columns)
    if (args.output_file is None) == (args.output_dir is None):
        raise ValueError("give exactly one of --output_file (.tsv/.csv/.jsonl/.json) and --output_dir")
    if args.masked_lm is None and args.word_vectors is None and args.teacher is None:
        raise ValueError(
            "no candidate source: give --masked_lm, --word_vectors and/or --teacher (the teacher's input "
            "embeddings work offline)"
        )
    if args.max_train_samples is not None and args.max_train_samples < 1:
        raise ValueError(f"--max_train_samples must be >= 1, got {args.max_train_samples}")
    if args.output_file is not None and not args.output_file.lower().endswith((".tsv", ".csv", ".jsonl", ".json")):
        raise ValueError(f"--output_file {args.output_file!r} must end in .tsv, .csv, .jsonl or .json")
    output = check_output_path(args.output_file or args.output_dir, overwrite=args.overwrite_output_dir)
    dataset = load_table(args.input, split=args.split, string_columns=text_columns)
    for column in text_columns:
        if column not in dataset.column_names:
            raise ValueError(
                f"text column {column!r} is not in {args.input}; its columns are: {', '.join(dataset.column_names)}"
            )
    if args.max_train_samples is not None and args.max_train_samples < len(dataset):
        dataset = dataset.select(range(args.max_train_samples))
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
        text_columns,
        sources,
        config,
        tokenizer=tokenizer,
        batch_size=args.batch_size,
        num_proc=args.num_proc,
    )
    save_table(augmented, output, overwrite=args.overwrite_output_dir)
    print(
        f"Augmented {len(dataset)} examples into {len(augmented)} rows ({len(augmented) / max(1, len(dataset)):.1f}x): {output}"
    )
    return 0
