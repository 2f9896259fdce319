"""English stop words that TinyBERT's data augmentation never replaces.

The list is the one the official TinyBERT `data_augmentation.py` embeds (173 words): NLTK's English
stop-word list (Apache-2.0) without the question words `what which who whom when where why how`, plus
`'s` and `'re`. It is shipped here so that augmentation needs no `nltk` install or corpus download.
"""

from __future__ import annotations

#: Lower-case English stop words, exactly the official TinyBERT code's `StopWordsList`.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
    his himself she she's her hers herself it it's its itself they them their theirs themselves this that
    that'll these those am is are was were be been being have has had having do does did doing a an the and but
    if or because as until while of at by for with about against between into through during before after above
    below to from up down in out on off over under again further then once here there all any both each few more
    most other some such no nor not only own same so than too very s t can will just don don't should should've
    now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven
    haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
    weren weren't won won't wouldn wouldn't 's 're
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

__all__ = ["ENGLISH_STOP_WORDS"]
