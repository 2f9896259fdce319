"""Publish a student to the Hugging Face Hub: weights, tokenizer, model card, remote code, optional variants.

  hf-tinybert push STUDENT_DIR --repo_id NAMESPACE/NAME [--include_plain_bert] [--include_onnx] [--private]

The token comes from HF_TOKEN or `hf auth login` (or --token, which other users of the machine can see in
the process list). --endpoint points at another Hub-compatible server. Only the student's files are
uploaded: safetensors weights, config, tokenizer, README.md (model card), the TinyBERT code files for
trust_remote_code, and optionally plain-bert/ (a standard `bert` copy) and onnx/ (an ONNX export with int8).
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hf-tinybert push`."""
    parser = argparse.ArgumentParser(
        prog="hf-tinybert push",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("student_dir", help="folder of the saved student with its tokenizer")
    parser.add_argument("--repo_id", required=True, help="'name' or 'namespace/name'; created if missing")
    parser.add_argument("--token", default=None, help="Hub token with write access (default: HF_TOKEN / hf auth login)")
    parser.add_argument("--endpoint", default=None, help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--include_plain_bert", action="store_true", help="also upload plain-bert/ (no remote code)")
    parser.add_argument("--include_onnx", action="store_true", help="also upload onnx/ (fp32 + int8 ONNX export)")
    parser.add_argument("--commit_message", default="Upload TinyBERT student with hf-tinybert", help="commit message")
    parser.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `hf-tinybert push`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)

    from hf_tinybert.hub.push import push_student

    try:
        result = push_student(
            args.student_dir,
            args.repo_id,
            token=args.token,
            endpoint=args.endpoint,
            private=args.private,
            include_plain_bert=args.include_plain_bert,
            include_onnx=args.include_onnx,
            commit_message=args.commit_message,
            revision=args.revision,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"hf-tinybert push: error: {err}", file=sys.stderr)
        return 2
    print(f"Pushed {len(result.files)} files to {result.repo_id}: {result.commit_url}")
    for name in result.files:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
