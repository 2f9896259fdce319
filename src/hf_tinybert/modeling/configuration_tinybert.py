"""Configuration of TinyBERT students.

This file is copied next to saved students by ``save_pretrained`` so that they load with
``trust_remote_code=True`` on machines without ``hf_tinybert``: it must only import from
``transformers``/``huggingface_hub`` and use relative imports for anything of ours.
"""

# No `from __future__ import annotations` here: `@strict` validates field types only when the
# annotations are real types, not strings (with the future import `fit_size="abc"` was accepted).
from huggingface_hub.dataclasses import strict
from transformers import BertConfig

# The paper's two student shapes (Jiao et al., 2020, section 4.1).
TINYBERT_PRESETS: dict[str, dict[str, int]] = {
    "tinybert-4l-312d": {
        "num_hidden_layers": 4,
        "hidden_size": 312,
        "intermediate_size": 1200,
        "num_attention_heads": 12,
    },
    "tinybert-6l-768d": {
        "num_hidden_layers": 6,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_attention_heads": 12,
    },
}


@strict
class TinyBertConfig(BertConfig):
    r"""Configuration of a TinyBERT student: a BERT encoder plus what distillation needs to know.

    Every [`BertConfig`] field is accepted with the same meaning. Extra fields:

    Args:
        fit_size (`int`, defaults to 768):
            Hidden size of the teacher the student is made for, as recorded by `from_preset(name, teacher_config)`,
            checkpoint conversion and teacher weight selection: the width its distillation projections (W_e, W_h in
            the paper, not part of the model) map to. `DistillationTrainer` maps to its teacher's actual hidden
            size; when that differs from `fit_size` it warns before training and records the teacher's size here.

    Examples:

    ```python
    >>> from hf_tinybert import TinyBertConfig, TinyBertModel
    >>> config = TinyBertConfig.from_preset("tinybert-4l-312d", fit_size=384)
    >>> model = TinyBertModel(config)
    ```
    """

    model_type = "tinybert"

    fit_size: int = 768

    @classmethod
    def from_preset(cls, name: str, teacher_config=None, **overrides) -> "TinyBertConfig":
        """Build the config of one of the paper's student shapes; any field can be overridden.

        Args:
            name: one of `TINYBERT_PRESETS` (`"tinybert-4l-312d"`, `"tinybert-6l-768d"`).
            teacher_config: the teacher's config (any encoder family), whose vocabulary size, positions, token
                types and special-token ids (pad, bos, eos, sep, cls) the student takes, with `fit_size` = the
                teacher's hidden size.
            **overrides: config fields that replace the preset's (and teacher's) values (`num_labels`, ...).

        Raises:
            ValueError: if `name` is not a known preset.
        """
        if name not in TINYBERT_PRESETS:
            raise ValueError(
                f"Unknown TinyBERT preset {name!r}; valid presets are: {', '.join(sorted(TINYBERT_PRESETS))}"
            )
        from_teacher = {}
        if teacher_config is not None:
            from_teacher = {
                "vocab_size": teacher_config.vocab_size,
                "max_position_embeddings": teacher_config.max_position_embeddings,
                # teachers without token types (DistilBERT, ModernBERT) get BERT's 2, which token_type_ids=0 uses
                "type_vocab_size": getattr(teacher_config, "type_vocab_size", None) or 2,
                "fit_size": teacher_config.hidden_size,
            }
            for token in ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
                if getattr(teacher_config, token, None) is not None:
                    from_teacher[token] = getattr(teacher_config, token)
        return cls(**{**TINYBERT_PRESETS[name], **from_teacher, **overrides})


__all__ = ["TINYBERT_PRESETS", "TinyBertConfig"]
