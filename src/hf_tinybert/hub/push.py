"""Publish a TinyBERT student to the Hugging Face Hub (or any server that speaks its API).

`push_student` uploads, in one commit, what a user needs and nothing else from the student's folder:

    config.json, model.safetensors          the student (safetensors only)
    tokenizer files                          tokenizer.json / vocab.txt / tokenizer_config.json / ...
    configuration_tinybert.py, modeling_tinybert.py
                                             the code `trust_remote_code=True` loads (TinyBERT students)
    README.md                                the model card (rendered from saved facts, kept, or made from the config)
    plain-bert/                              optional: the same weights as a standard `bert` model
    onnx/                                    optional: model.onnx, model_quantized.onnx, config, tokenizer, check

Training leftovers (checkpoints, optimizer states, ``training_args.bin``, the distillation projections)
stay home. The token is passed to the client and nowhere else: not to logs, not to the card, not to
error messages.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from transformers.utils import logging

from .card import CARD_FILE, FACTS_FILE, ModelCardFacts, model_shape, write_model_card

logger = logging.get_logger(__name__)

PLAIN_BERT_FOLDER = "plain-bert"
ONNX_FOLDER = "onnx"
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    "added_tokens.json",
)
TINYBERT_CODE_FILES: tuple[str, ...] = ("configuration_tinybert.py", "modeling_tinybert.py")


@dataclass
class PushResult:
    """What `push_student` uploaded.

    Attributes:
        repo_id: the repository.
        commit_url: the URL of the upload commit, as the server returned it.
        commit_oid: the commit's id.
        files: paths of the uploaded files, relative to the repository root.
    """

    repo_id: str
    commit_url: str
    commit_oid: str
    files: list[str] = field(default_factory=list)


def _scrubbed(message: str, token: str) -> str:
    return message.replace(token, "<token>") if token else message


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or not repo_id:
        raise ValueError(f"Repository id {repo_id!r} is empty; expected 'name' or 'namespace/name'")
    try:
        validate_repo_id(repo_id)
    except ValueError as error:
        raise ValueError(
            f"Repository id {repo_id!r} is not valid: {error} (expected 'name' or 'namespace/name' made of letters, "
            "digits, '-', '_' and '.')"
        ) from None


def _resolve_token(token: str | None) -> str:
    if token is None:
        from huggingface_hub import get_token

        token = get_token()
    if not token:
        raise ValueError(
            "No Hugging Face token: pass token=..., set the HF_TOKEN environment variable or log in with `hf auth login`"
        )
    return token


def _check_student_folder(folder: Path) -> dict:
    if not folder.is_dir():
        raise FileNotFoundError(f"Student folder {str(folder)!r} does not exist")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"No model in {str(folder)!r}: config.json is missing")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        hint = (
            " (pytorch_model.bin found: save with safe_serialization)"
            if (folder / "pytorch_model.bin").is_file()
            else ""
        )
        raise FileNotFoundError(
            f"No safetensors weights in {str(folder)!r}: expected {' or '.join(WEIGHT_FILES)}{hint}"
        )
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        raise FileNotFoundError(f"No tokenizer in {str(folder)!r} (looked for tokenizer.json, vocab.txt)")
    return json.loads(config_path.read_text(encoding="utf-8"))


def _stage_student(folder: Path, staging: Path, config: dict) -> None:
    """Copy the student's files into `staging`, with the remote code of TinyBERT students."""
    names = ["config.json", *TOKENIZER_FILES, *WEIGHT_FILES]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names += sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    for name in names:
        if (folder / name).is_file():
            shutil.copy2(folder / name, staging / name)
    if config.get("model_type") != "tinybert":
        return
    from ..modeling import modeling_tinybert

    package_code = Path(modeling_tinybert.__file__).parent
    for name in TINYBERT_CODE_FILES:
        source = folder / name if (folder / name).is_file() else package_code / name
        shutil.copy2(source, staging / name)
    if not config.get("auto_map"):  # a config saved without TinyBertPreTrainedModel.save_pretrained
        config["auto_map"] = dict(modeling_tinybert.TINYBERT_AUTO_MAP)
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _stage_card(
    folder: Path, staging: Path, config: dict, repo_id: str, facts: ModelCardFacts | None, extras: dict
) -> None:
    """Render the card from facts (given, or saved beside the student) or keep the folder's README.md."""
    if facts is None and (folder / FACTS_FILE).is_file():
        facts = ModelCardFacts.load(folder / FACTS_FILE)
    if facts is None and (folder / CARD_FILE).is_file():
        shutil.copy2(folder / CARD_FILE, staging / CARD_FILE)
        return
    if facts is None:
        from types import SimpleNamespace

        facts = ModelCardFacts(
            student_shape=model_shape(SimpleNamespace(**config)),
            architecture=(config.get("architectures") or [None])[0],
            teacher_id=None,
        )
    facts = dataclasses.replace(facts, model_name=facts.model_name or repo_id.split("/")[-1], repo_id=repo_id, **extras)
    write_model_card(staging, facts)


def push_student(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    include_plain_bert: bool = False,
    include_onnx: bool = False,
    facts: ModelCardFacts | None = None,
    commit_message: str = "Upload TinyBERT student with hf-tinybert",
    revision: str | None = None,
) -> PushResult:
    """Upload a saved student (weights, tokenizer, card, remote code, optional variants) in one commit.

    Args:
        folder: the student's folder (``save_pretrained`` output with its tokenizer).
        repo_id: ``"name"`` or ``"namespace/name"``; created if it does not exist.
        token: a Hub token with write access; default: ``HF_TOKEN`` or the token of ``hf auth login``.
        endpoint: the Hub's URL (default: ``HF_ENDPOINT``, i.e. https://huggingface.co).
        private: create the repository as private.
        include_plain_bert: also upload ``plain-bert/``: the student as a standard ``bert`` model
            (``hf_tinybert.modeling.convert.to_plain_bert``), loadable without remote code.
        include_onnx: also upload ``onnx/``: the folder's own ``onnx/`` export when it has one, otherwise a
            fresh `export_onnx` with int8 quantization.
        facts: the card's facts (e.g. ``ModelCardCallback.facts``); default: ``model_card_facts.json`` in the
            folder, else the folder's ``README.md``, else a card made from the config.
        commit_message: the commit's message.
        revision: the branch to commit to (default: the main branch).

    Returns:
        A `PushResult` with the commit URL and the uploaded files.

    Raises:
        ValueError: no token, or an invalid repository id.
        FileNotFoundError: the folder has no config.json, no safetensors weights or no tokenizer.
    """
    folder = Path(folder)
    _check_repo_id(repo_id)
    config = _check_student_folder(folder)
    token = _resolve_token(token)
    if include_onnx and not (folder / ONNX_FOLDER / "model.onnx").is_file():
        from ..export.onnx import onnx_head

        onnx_head((config.get("architectures") or [None])[0])  # unsupported heads fail before uploading

    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory(prefix="hf_tinybert_push_") as tmp:
        staging = Path(tmp)
        _stage_student(folder, staging, config)
        extras = {"include_plain_bert": False, "include_onnx": include_onnx, "onnx_files": []}
        if include_plain_bert:
            if config.get("model_type") == "tinybert":
                from ..modeling.convert import to_plain_bert

                to_plain_bert(folder, staging / PLAIN_BERT_FOLDER)
                extras["include_plain_bert"] = True
            else:
                logger.info(f"{folder} is already a plain {config.get('model_type')!r} model: no plain-bert/ variant")
        if include_onnx:
            onnx_dir = staging / ONNX_FOLDER
            if (folder / ONNX_FOLDER / "model.onnx").is_file():
                shutil.copytree(folder / ONNX_FOLDER, onnx_dir)
            else:
                from ..export.onnx import export_onnx

                export_onnx(folder, onnx_dir, quantize=True)
            extras["onnx_files"] = sorted(p.name for p in onnx_dir.glob("*.onnx") if p.name != "model.onnx")
        _stage_card(folder, staging, config, repo_id, facts, extras)
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())

        api = HfApi(endpoint=endpoint, token=token)
        logger.info(f"Uploading {len(files)} files from {folder} to {repo_id}")
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(
                repo_id=repo_id,
                folder_path=staging,
                commit_message=commit_message,
                revision=revision,
                repo_type="model",
            )
        except Exception as error:
            message = str(error)
            if token in message:
                raise RuntimeError(f"Upload to {repo_id} failed: {_scrubbed(message, token)}") from None
            raise
    return PushResult(repo_id=repo_id, commit_url=commit.commit_url, commit_oid=commit.oid, files=files)


__all__ = ["ONNX_FOLDER", "PLAIN_BERT_FOLDER", "PushResult", "push_student"]
