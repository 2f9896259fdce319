"""Which teacher layer teaches which student layer (the paper's mapping function g).

Student layers are numbered 1..M and teacher layers 1..N as in the paper; layer 0 is the embedding
layer on both sides and is always mapped to layer 0. `build_layer_map` returns g(1..M) as a list.
"""

from __future__ import annotations

from collections.abc import Sequence

LAYER_MAP_PRESETS = ("uniform", "first", "last")


def build_layer_map(
    num_student_layers: int, num_teacher_layers: int, strategy: str | Sequence[int] = "uniform"
) -> list[int]:
    """The teacher layer (1-based) that each student layer 1..M learns from.

    Args:
        num_student_layers: M, the student's number of Transformer layers.
        num_teacher_layers: N, the teacher's number of Transformer layers.
        strategy: `"uniform"` (paper default, g(m) = m·N/M rounded down: 4-of-12 -> 3, 6, 9, 12),
            `"last"` (g(m) = m + N - M, the paper's "top"), `"first"` (g(m) = m, the paper's "bottom"),
            an explicit sequence of M teacher layers, or the same as a comma-separated string ("3,6,9,12").

    Raises:
        ValueError: unknown preset, a list of the wrong length, or a teacher layer out of 1..N.
    """
    if num_student_layers < 1 or num_teacher_layers < 1:
        raise ValueError(
            f"Both models need at least one Transformer layer; got student={num_student_layers}, "
            f"teacher={num_teacher_layers}"
        )
    m_layers, n_layers = num_student_layers, num_teacher_layers
    if isinstance(strategy, str) and strategy.strip() in LAYER_MAP_PRESETS:
        strategy = strategy.strip()
        if strategy == "uniform":
            return [max(1, (m * n_layers) // m_layers) for m in range(1, m_layers + 1)]
        if m_layers > n_layers:
            raise ValueError(
                f"The {strategy!r} layer map needs a student no deeper than the teacher; got {m_layers} student "
                f"layers and {n_layers} teacher layers. Use 'uniform' or an explicit list."
            )
        if strategy == "first":
            return list(range(1, m_layers + 1))
        return [m + n_layers - m_layers for m in range(1, m_layers + 1)]

    if isinstance(strategy, str):
        try:
            layers = [int(part) for part in strategy.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValueError(
                f"Invalid layer map {strategy!r}: use one of {', '.join(LAYER_MAP_PRESETS)} or a comma-separated "
                f"list of {m_layers} teacher layers in 1..{n_layers}, e.g. "
                f"{','.join(map(str, build_layer_map(m_layers, n_layers)))}"
            ) from None
    else:
        layers = [int(x) for x in strategy]
    if len(layers) != m_layers:
        raise ValueError(
            f"The layer map {layers} has {len(layers)} entries but the student has {m_layers} layers: give one "
            f"teacher layer (1..{n_layers}) per student layer"
        )
    bad = [layer for layer in layers if not 1 <= layer <= n_layers]
    if bad:
        raise ValueError(
            f"The layer map {layers} names teacher layers {bad} outside 1..{n_layers} (the teacher has "
            f"{n_layers} layers; 0 is the embedding layer and is always mapped to the student's embeddings)"
        )
    return layers
