"""Publish a student to the Hugging Face Hub: weights, tokenizer, model card, remote code, optional variants.

  hf-tinybert push STUDENT_DIR --repo_id NAMESPACE/NAME [--include_plain_bert] [--include_onnx] [--private]

The token comes from HF_TOKEN or `hf auth login` (or --token, which other users of the machine can see in
the process list). --endpoint points at another Hub-compatible server. Only the student's files are
uploaded: safetensors weights, config, tokenizer, README.md (model card), the TinyBERT code files for
trust_remote_code, and optionally plain-bert/ (a standard `bert` copy) and onnx/ (an ONNX export with int8).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import command
from .arguments import parse_arguments


@dataclass
class PushArguments:
    """What `hf-tinybert push` uploads, and where."""

    student_dir: str = field(metadata={"help": "Folder of the saved student with its tokenizer."})
    repo_id: str = field(metadata={"help": "'name' or 'namespace/name'; created if missing."})
    token: str | None = field(
        default=None, metadata={"help": "Hub token with write access (default: HF_TOKEN / hf auth login)."}
    )
    endpoint: str | None = field(
        default=None, metadata={"help": "Hub URL (default: HF_ENDPOINT or https://huggingface.co)."}
    )
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    include_plain_bert: bool = field(default=False, metadata={"help": "Also upload plain-bert/ (no remote code)."})
    include_onnx: bool = field(default=False, metadata={"help": "Also upload onnx/ (fp32 + int8 ONNX export)."})
    commit_message: str = field(
        default="Upload TinyBERT student with hf-tinybert", metadata={"help": "Commit message."}
    )
    revision: str | None = field(default=None, metadata={"help": "Branch to commit to (default: main)."})


@command("push")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert push`; returns the exit status."""
    (args,) = parse_arguments(
        (PushArguments,), argv, "hf-tinybert push", __doc__, positionals={"student_dir": "STUDENT_DIR"}
    )

    from hf_tinybert.hub.push import push_student

    values = dataclasses.asdict(args)
    result = push_student(values.pop("student_dir"), values.pop("repo_id"), **values)
    print(f"Pushed {len(result.files)} files to {result.repo_id}: {result.commit_url}")
    for name in result.files:
        print(f"  {name}")
    return 0
