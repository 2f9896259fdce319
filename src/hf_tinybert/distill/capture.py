"""What TinyBERT distils from one forward pass of an encoder, captured where every architecture has it right.

- Embeddings and hidden states: what the model's own `output_hidden_states` reports (index 0 is what the encoder
  receives, e.g. after ELECTRA's `embeddings_project`; the last layer's is after the final LayerNorm of pre-LN
  models). The capture asks the backbone for just the mapped indices where transformers can select them
  (`output_hidden_states=[0, 3, 6, ...]`), so the teacher's other layers are freed as usual.
- Attention: the query and key each layer hands to transformers' attention interface (`ALL_ATTENTION_FUNCTIONS`),
  i.e. after the model's own position transforms (rotary embeddings in ModernBERT, ESM), per head, with the
  model's own `scaling`. Inside the `with` block the interface entry of the model's implementation (sdpa, eager,
  flash, ...) is wrapped by a recorder that stores (query, key) and calls the original, so the fast kernels stay
  and the model classes are untouched. The i-th call is layer i (an encoder calls self-attention once per layer
  in order; ALBERT's shared layer too); the count is checked.

Models outside the interface (DeBERTa, MPNet, RoFormer, Megatron-BERT, ConvBERT) compute their
scores themselves: their attention cannot be captured this way (`attention_capture_support`), and the trainer
refuses an attention loss for them before training. Everything is removed when the block ends, so
gradient-checkpointing recomputation and later forwards are untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

_ACTIVE_RECORDER: contextvars.ContextVar[_AttentionRecorder | None] = contextvars.ContextVar(
    "hf_tinybert_attention_recorder", default=None
)


@dataclass
class CapturedActivations:
    """Tensors captured from one forward pass. Layer keys are 1-based Transformer layer numbers.

    `embeddings` and `hidden_states[m]` are (B, S, H); `queries[m]` and `keys[m]` are (B, h, S, d) per head, as the
    attention function received them, with the model's scaling folded into the queries (scores = q kᵀ / √d).
    """

    embeddings: torch.Tensor | None = None
    hidden_states: dict[int, torch.Tensor] = field(default_factory=dict)
    queries: dict[int, torch.Tensor] = field(default_factory=dict)
    keys: dict[int, torch.Tensor] = field(default_factory=dict)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP (`.module`) and peft (`get_base_model()`) wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def backbone_of(model: nn.Module) -> nn.Module:
    """The encoder inside `model` (through DDP/FSDP `.module`, peft and task heads): its `base_model`."""
    model = unwrap(model)
    return getattr(model, "base_model", model)


_USES_ATTENTION_INTERFACE: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def attention_capture_support(model: nn.Module) -> str | None:
    """None when the model's attention goes through transformers' attention interface (so Q and K can be captured),
    else the reason it cannot. Decided from the attention modules' own modeling files (a TinyBERT model's layers are
    BERT's)."""
    backbone = backbone_of(model)
    model_type = getattr(backbone.config, "model_type", type(backbone).__name__)
    if backbone not in _USES_ATTENTION_INTERFACE:  # decided once per model: captures run on every step
        _USES_ATTENTION_INTERFACE[backbone] = any(
            "Attention" in type(module).__name__
            and hasattr(sys.modules.get(type(module).__module__), "ALL_ATTENTION_FUNCTIONS")
            for module in backbone.modules()
        )
    if not _USES_ATTENTION_INTERFACE[backbone]:
        return (
            f"{type(backbone).__name__} (model_type {model_type!r}) computes its attention scores itself, outside "
            "transformers' attention interface (e.g. relative-position or disentangled scores), so TinyBERT's "
            "attention-score loss cannot be captured for it"
        )
    return None


def _eager_function_of(module: nn.Module):
    """The `eager_attention_forward` of the modeling file that defines `module`'s class."""
    function = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if function is None:
        raise ValueError(f"{type(module).__module__} has no eager_attention_forward to wrap")
    return function


class _AttentionRecorder:
    def __init__(self, layers: set[int], captured: CapturedActivations):
        self.layers, self.captured, self.calls = layers, captured, 0

    def record(self, query: torch.Tensor, key: torch.Tensor, scaling) -> None:
        self.calls += 1
        if self.calls not in self.layers:
            return
        head_dim = query.shape[-1]
        if scaling is not None and abs(float(scaling) - head_dim**-0.5) > 1e-6 * head_dim**-0.5:
            query = query * (float(scaling) * head_dim**0.5)  # scores are q kᵀ / √d in the losses
        self.captured.queries[self.calls] = query
        self.captured.keys[self.calls] = key


@contextlib.contextmanager
def record_attention(implementation: str, recorder: _AttentionRecorder):
    """Wrap the attention interface's `implementation` entry so that this context's calls are recorded."""
    previous = ALL_ATTENTION_FUNCTIONS._local_mapping.get(implementation)
    original = ALL_ATTENTION_FUNCTIONS._global_mapping.get(implementation) if previous is None else previous

    def recording_attention(module, query, key, value, attention_mask, *args, **kwargs):
        active = _ACTIVE_RECORDER.get()
        if active is not None:
            active.record(query, key, kwargs.get("scaling"))
        function = original if original is not None else _eager_function_of(module)
        return function(module, query, key, value, attention_mask, *args, **kwargs)

    ALL_ATTENTION_FUNCTIONS[implementation] = recording_attention
    token = _ACTIVE_RECORDER.set(recorder)
    try:
        yield
    finally:
        _ACTIVE_RECORDER.reset(token)
        if previous is None:
            del ALL_ATTENTION_FUNCTIONS[implementation]
        else:
            ALL_ATTENTION_FUNCTIONS[implementation] = previous


def _selects_hidden_states(backbone: nn.Module) -> bool:
    """Whether transformers can return only some hidden states of this backbone (`output_hidden_states=[...]`)."""
    try:
        from transformers.utils.output_capturing import _CAN_RECORD_REGISTRY
    except ImportError:  # an older transformers
        return False
    return "hidden_states" in (_CAN_RECORD_REGISTRY.get(backbone) or {})


class LayerCapture:
    """Context manager that captures the mapped layers' embeddings, hidden states and attention Q/K of one forward.

    Args:
        model: the model (possibly wrapped in DDP/peft, with a task head) whose encoder is captured.
        layers: 1-based Transformer layers to capture.
        embeddings: capture the encoder's input (hidden state 0).
        hidden_states: capture the layers' outputs, as `output_hidden_states` reports them.
        attention: capture the layers' per-head query and key, as the attention function receives them.

    Raises:
        ValueError: for a layer the model does not have; for attention on a model outside the attention interface;
            after the forward, when the model did not call the attention interface once per layer.

    Example:
        >>> with LayerCapture(model, layers=[2, 4]) as captured:
        ...     model(**batch)
        >>> captured.hidden_states[4].shape
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[int],
        embeddings: bool = True,
        hidden_states: bool = True,
        attention: bool = True,
    ):
        self.backbone = backbone_of(model)
        self.layers = sorted(set(layers))
        self.num_layers = self.backbone.config.num_hidden_layers
        bad = [layer for layer in self.layers if not 1 <= layer <= self.num_layers]
        if bad:
            raise ValueError(f"Cannot capture layers {bad}: the model has layers 1..{self.num_layers}")
        if attention:
            reason = attention_capture_support(model)
            if reason is not None:
                raise ValueError(reason)
        self.capture_embeddings = embeddings
        self.capture_hidden_states = hidden_states
        self.capture_attention = attention
        self.captured = CapturedActivations()
        self._stack: contextlib.ExitStack | None = None
        self._recorder: _AttentionRecorder | None = None

    def _wanted_hidden_states(self) -> list[int]:
        return ([0] if self.capture_embeddings else []) + (self.layers if self.capture_hidden_states else [])

    def _add_output_hidden_states(self, module, args, kwargs):
        if kwargs.get("output_hidden_states") is True:
            return args, kwargs
        wanted = self._wanted_hidden_states()
        kwargs = {**kwargs, "output_hidden_states": wanted if _selects_hidden_states(module) else True}
        return args, kwargs

    def _store_hidden_states(self, module, args, kwargs, output) -> None:
        self._forward_ran = True
        if not self._wanted_hidden_states():
            return
        states = output.get("hidden_states") if isinstance(output, dict) else getattr(output, "hidden_states", None)
        if states is None:
            raise ValueError(f"{type(module).__name__} returned no hidden_states for output_hidden_states")
        if len(states) != self.num_layers + 1:
            raise ValueError(
                f"{type(module).__name__} reported {len(states)} hidden states for {self.num_layers} layers "
                f"(expected {self.num_layers + 1}: the encoder's input and every layer's output)"
            )
        if self.capture_embeddings:
            self.captured.embeddings = states[0]
        if self.capture_hidden_states:
            for layer in self.layers:
                self.captured.hidden_states[layer] = states[layer]

    def __enter__(self) -> CapturedActivations:
        self.captured = CapturedActivations()
        self._stack = contextlib.ExitStack()
        self._forward_ran = False
        if self._wanted_hidden_states():
            pre = self.backbone.register_forward_pre_hook(self._add_output_hidden_states, with_kwargs=True)
            self._stack.callback(pre.remove)
        post = self.backbone.register_forward_hook(self._store_hidden_states, with_kwargs=True)
        self._stack.callback(post.remove)
        if self.capture_attention:
            self._recorder = _AttentionRecorder(set(self.layers), self.captured)
            implementation = self.backbone.config._attn_implementation or "eager"
            self._stack.enter_context(record_attention(implementation, self._recorder))
        return self.captured

    def __exit__(self, exc_type, *exc) -> None:
        self._stack.close()
        recorder, self._recorder = self._recorder, None
        if exc_type is None and recorder is not None and self._forward_ran and recorder.calls != self.num_layers:
            raise ValueError(
                f"{type(self.backbone).__name__} called the attention interface {recorder.calls} times in one forward "
                f"for {self.num_layers} layers: its calls cannot be matched to layers (cross-attention or "
                "a model this capture does not support)"
            )


def _backbone_inputs(backbone: nn.Module, batch: dict) -> dict:
    import inspect

    accepted = set(inspect.signature(backbone.forward).parameters)
    return {k: v for k, v in batch.items() if k in accepted and k not in ("labels", "output_hidden_states")}


@contextlib.contextmanager
def _eager_attention(backbone: nn.Module):
    original = backbone.config._attn_implementation
    backbone.set_attn_implementation("eager")
    try:
        yield
    finally:
        backbone.set_attn_implementation(original)


def check_capture(model: nn.Module, batch: dict, layers: Iterable[int], attention: bool, tolerance: float = 1e-4):
    """Compare what `LayerCapture` captures on `batch` with what the model itself reports (eval mode, no gradients):
    the hidden states with its `output_hidden_states` in its own attention implementation, and the softmax of the
    captured scores with its attention weights in an eager forward with `output_attentions` (the only
    implementation that returns them). Two or three extra forwards, once, in float32 (a bf16/fp16 model is upcast for
    them and cast back, which restores its weights exactly).

    Returns the largest differences found, {"hidden": ..., "attention": ...}.

    Raises:
        ValueError: when the captured hidden states, or the softmax of the captured scores over the real keys, differ
            from the model's own by more than `tolerance` (relative to their scale): training would distil wrong
            targets.
    """
    backbone = backbone_of(model)
    layers = sorted(set(layers))
    inputs = _backbone_inputs(backbone, batch)
    mask = inputs.get("attention_mask")
    model_type = getattr(backbone.config, "model_type", type(backbone).__name__)
    name = f"{type(backbone).__name__} (model_type {model_type!r})"
    found = {"hidden": 0.0, "attention": 0.0}
    was_training = backbone.training
    dtype = next(backbone.parameters()).dtype
    backbone.eval()
    if dtype in (torch.bfloat16, torch.float16):
        backbone.float()  # compare in float32 (bf16/fp16 -> float32 -> back is exact), not the dtype's rounding
    try:
        with (
            torch.no_grad(),
            torch.autocast(next(backbone.parameters()).device.type, enabled=False),
            _without_prepared_autocast(backbone),
        ):
            with LayerCapture(backbone, layers, attention=False) as captured:
                backbone(**inputs)
            reference = backbone(**inputs, output_hidden_states=True)
            for index, tensor in [(0, captured.embeddings)] + [(m, captured.hidden_states[m]) for m in layers]:
                expected = reference.hidden_states[index]
                scale = expected.abs().max().clamp_min(1.0)
                found["hidden"] = max(found["hidden"], ((tensor - expected).abs().max() / scale).item())
            if found["hidden"] > tolerance:
                raise ValueError(
                    f"The hidden states captured from {name} differ from its own output_hidden_states by "
                    f"{found['hidden']:.2e} (relative): training would distil wrong targets. Pass check_capture=False "
                    "to train anyway."
                )
            if attention:
                with (
                    _eager_attention(backbone),
                    LayerCapture(backbone, layers, embeddings=False, hidden_states=False) as captured,
                ):
                    attentions = backbone(**inputs, output_attentions=True).attentions
                found["attention"] = _largest_attention_difference(captured, attentions, layers, mask, name)
    finally:
        backbone.train(was_training)
        if dtype in (torch.bfloat16, torch.float16):
            backbone.to(dtype)
    if found["attention"] > tolerance:
        raise ValueError(
            f"The attention scores captured from {name} are not the model's: their softmax over the real keys differs "
            f"from its own attention weights by {found['attention']:.2e} (a position transform applied outside the "
            "attention interface, a sliding-window or other mask beyond padding, or heads the config does not "
            "describe). Training would distil wrong targets. Set attention_loss_weight=0 (the embedding and "
            "hidden-state losses do not depend on this), or pass check_capture=False to train anyway."
        )
    return found


@contextlib.contextmanager
def _without_prepared_autocast(backbone: nn.Module):
    """`accelerate.prepare` (Trainer with bf16/fp16) replaces a model's `forward` with one that enters autocast
    itself, so an outer `autocast(enabled=False)` does not reach it: call the original forward for the check."""
    original = backbone.__dict__.get("_original_forward")
    if original is None or "forward" not in backbone.__dict__:
        yield
        return
    prepared = backbone.__dict__["forward"]
    backbone.forward = original
    try:
        yield
    finally:
        backbone.forward = prepared


def _largest_attention_difference(captured, attentions, layers, mask, name) -> float:
    if not attentions or any(attentions[m - 1] is None for m in layers):
        raise ValueError(
            f"{name} returns no attention weights in eager mode, so its captured attention scores cannot be checked. "
            "Pass check_capture=False to train anyway."
        )
    largest = 0.0
    for m in layers:
        q, k = captured.queries[m].float(), captured.keys[m].float()
        scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5
        if mask is not None:
            scores = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        difference = scores.softmax(-1) - attentions[m - 1].float()
        if mask is not None:
            difference = difference * mask[:, None, :, None] * mask[:, None, None, :]
        largest = max(largest, difference.abs().max().item())
    return largest
