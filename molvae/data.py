"""From SMILES files to token arrays: read, clean with a report, tokenize, cache, batch.

Nothing is dropped silently: :func:`prepare` counts every row it leaves out, by reason, logs the
report and returns it. Tokenized data live in two flat arrays (``tokens`` and ``offsets``) so that the
full MOSES train set (1.58M molecules) fits in tens of MB and loads from the cache in about a second.

Example:
    >>> import molvae as mv
    >>> data = mv.prepare(["CCO", "OCC", "not a smiles", None], "smiles")
    >>> data.smiles, data.report.dropped
    (['CCO'], {'not_a_string': 1, 'unparseable': 1, 'duplicate': 1})
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae._parallel import chunked, map_chunks
from molvae.exceptions import DataError, TokenizerError
from molvae.tokenizers import (
    BOS,
    EOS,
    KINDS,
    PAD,
    SelfiesTokenizer,
    SmilesTokenizer,
    Vocabulary,
    _Tokenizer,
    tokenizer_from_dict,
)

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_MAX_LEN = 100
# Drop reasons, in the order the checks run.
REASONS = (
    "not_a_string",
    "empty",
    "unparseable",
    "duplicate",
    "unknown_token",
    "untokenizable",
    "too_long",
)
_SMILES_COLUMN_NAMES = ("smiles", "smi", "canonical_smiles", "smiles_string", "mol")


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _sniff(path: Path) -> str:
    """First 64 KiB as text; raises DataError for binary junk or undecodable bytes."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            head = f.read(65536)
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read file: {err}") from err
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file (NUL bytes), not SMILES text")
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a multi-byte character cut at the 64 KiB edge
            raise DataError(
                f"{path}: not UTF-8 text (byte {err.start}); is this a binary file?"
            ) from err
        return head[: err.start].decode("utf-8")


def _choose_column(columns: Sequence[str], column: str | None, path: Any) -> str:
    cols = [str(c) for c in columns]
    if column is not None:
        if column in cols:
            return column
        lower = {c.lower(): c for c in cols}
        close = difflib.get_close_matches(column.lower(), list(lower), n=1)
        hint = f"; did you mean {lower[close[0]]!r}?" if close else ""
        raise DataError(f"{path}: no column {column!r}; columns present: {cols}{hint}")
    for name in cols:
        if name.strip().lower() in _SMILES_COLUMN_NAMES or "smiles" in name.lower():
            return name
    raise DataError(
        f"{path}: no SMILES column found (looked for a name like 'smiles'); columns present: "
        f"{cols}; choose one with column=..."
    )


def read_smiles(path: str | os.PathLike, column: str | None = None) -> pd.Series:
    """Read SMILES from a ``.smi``/``.txt`` (first field per line) or ``.csv``/``.tsv`` file, optionally gzipped.

    Blank lines of a ``.smi`` file are kept as empty strings (``prepare`` counts them as ``empty``);
    a first line reading ``smiles`` is taken as a header.

    Args:
        path: the file.
        column: CSV column; default the first column named like ``smiles``.

    Returns:
        ``pd.Series`` of strings named ``"smiles"`` (missing CSV cells become ``""``).

    Raises:
        DataError: missing, empty, binary, header-only file, or the column is not there
            (the message lists the columns present).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a SMILES file")
    head = _sniff(path)
    if not head.strip():
        raise DataError(f"{path}: file is empty (or holds only whitespace)")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".csv", ".tsv"):
        sep = "\t" if ext == ".tsv" else ","
        try:
            df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
            raise DataError(f"{path}: cannot parse as {ext[1:].upper()}: {err}") from err
        name = _choose_column(list(df.columns), column, path)
        if len(df) == 0:
            raise DataError(f"{path}: has a header {list(df.columns)} but no rows")
        series = df[name].astype(object).rename("smiles")
        return series.reset_index(drop=True)
    # .smi / .txt / anything else: one molecule per line, first whitespace-separated field.
    if column is not None:
        raise DataError(
            f"{path}: column={column!r} given, but a {ext or 'plain'} file has no columns"
        )
    with _open_text(path) as f:
        lines = f.read().splitlines()
    values = [line.split(maxsplit=1)[0] if line.strip() else "" for line in lines]
    if values and values[0].lower() in _SMILES_COLUMN_NAMES:
        values = values[1:]
        if not values:
            raise DataError(f"{path}: has a header line but no rows")
    if not any(values):
        raise DataError(f"{path}: holds only blank lines")
    return pd.Series(values, name="smiles", dtype=object)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Cleaning and tokenizing with a report
# --------------------------------------------------------------------------------------------
@dataclass
class PrepareReport:
    """What :func:`prepare` read, kept and dropped (by reason), with a few examples per reason."""

    read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "examples": self.examples,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrepareReport:
        return cls(
            read=d["read"], kept=d["kept"], dropped=dict(d["dropped"]), examples=dict(d["examples"])
        )

    def __str__(self) -> str:
        parts = [f"read {self.read:,}", f"kept {self.kept:,}"]
        parts += [f"{reason} {n:,}" for reason, n in self.dropped.items()]
        return "prepare: " + ", ".join(parts)


@dataclass
class PreparedData:
    """Clean molecules and their token ids, stored flat.

    Attributes:
        smiles: the kept molecules (canonical SMILES when ``canonicalize=True``), in input order.
        tokens: ``uint8``/``uint16`` array, every molecule's token ids (no ``<bos>``/``<eos>``) end to end.
        offsets: ``int64 (N + 1,)``; molecule ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.
        tokenizer: the tokenizer that made ``tokens``.
        report: the :class:`PrepareReport`.
    """

    smiles: list[str]
    tokens: np.ndarray
    offsets: np.ndarray
    tokenizer: SmilesTokenizer | SelfiesTokenizer
    report: PrepareReport

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per molecule including ``<bos>`` and ``<eos>``."""
        return np.diff(self.offsets) + 2

    def ids(self, i: int) -> list[int]:
        """Token ids of molecule ``i`` with ``<bos>``/``<eos>``."""
        return [BOS, *self.tokens[self.offsets[i] : self.offsets[i + 1]].tolist(), EOS]

    def subset(self, index: Sequence[int] | np.ndarray) -> PreparedData:
        """A new :class:`PreparedData` holding molecules ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        starts, ends = self.offsets[index], self.offsets[index + 1]
        lengths = ends - starts
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return PreparedData(
            smiles=[self.smiles[i] for i in index.tolist()],
            tokens=self.tokens[gather],
            offsets=offsets,
            tokenizer=self.tokenizer,
            report=self.report,
        )

    def split(self, fraction: float, seed: int = 0) -> tuple[PreparedData, PreparedData]:
        """Random split into ``(1 - fraction, fraction)`` parts, e.g. train/validation."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        perm = np.random.default_rng(seed).permutation(len(self))
        n_second = max(1, int(round(len(self) * fraction)))
        return self.subset(np.sort(perm[n_second:])), self.subset(np.sort(perm[:n_second]))

    def batch(self, index: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids ``(B, T)`` int64 with ``<bos> ... <eos> <pad>...`` and lengths ``(B,)``."""
        return pad_batch(self.tokens, self.offsets, np.asarray(index, dtype=np.int64))


def pad_batch(
    tokens: np.ndarray, offsets: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gather molecules ``index`` from flat storage into a padded ``(B, T)`` int64 array."""
    starts = offsets[index]
    body = offsets[index + 1] - starts  # (B,)
    width = int(body.max(initial=0))
    cols = np.arange(width)
    mask = cols[None, :] < body[:, None]  # (B, W)
    gathered = (
        tokens[np.minimum(starts[:, None] + cols[None, :], max(len(tokens) - 1, 0))]
        if len(tokens)
        else np.zeros((len(index), width), dtype=np.int64)
    )
    out = np.full((len(index), width + 2), PAD, dtype=np.int64)
    out[:, 0] = BOS
    out[:, 1 : width + 1] = np.where(mask, gathered, PAD)
    out[np.arange(len(index)), body + 1] = EOS
    return out, body + 2


def _chem_chunk(args: tuple[list[Any], bool, bool]) -> list[tuple[str | None, str | None]]:
    """Worker: (clean smiles or None, drop reason or None) per input."""
    from molvae.chem import canonical, to_mol

    values, canonicalize, largest_fragment = args
    out: list[tuple[str | None, str | None]] = []
    for v in values:
        if not isinstance(v, str):
            out.append((None, "not_a_string"))
            continue
        s = v.strip()
        if not s:
            out.append((None, "empty"))
            continue
        if canonicalize or largest_fragment:
            c = canonical(s, largest_fragment=largest_fragment)
            out.append((c, None) if c is not None else (None, "unparseable"))
        else:
            out.append((s, None) if to_mol(s) is not None else (None, "unparseable"))
    return out


def _token_chunk(args: tuple[dict[str, Any], list[str]]) -> list[tuple[str | None, str | None]]:
    """Worker: (tokens joined by spaces or None, drop reason or None) per molecule."""
    spec, values = args
    tok = _bare_tokenizer(spec["kind"])
    out: list[tuple[str | None, str | None]] = []
    for s in values:
        try:
            out.append((" ".join(tok.tokenize(s)), None))
        except TokenizerError:
            out.append((None, "untokenizable"))
    return out


def _bare_tokenizer(kind: str) -> SmilesTokenizer | SelfiesTokenizer:
    if kind == "selfies":
        return SelfiesTokenizer()
    return SmilesTokenizer(mode="char" if kind == "smiles-char" else "regex")


def prepare(
    smiles: Sequence[Any] | pd.Series,
    tokenizer: str | SmilesTokenizer | SelfiesTokenizer,
    max_len: int = DEFAULT_MAX_LEN,
    canonicalize: bool = True,
    dedupe: bool = True,
    largest_fragment: bool = False,
    n_jobs: int = 1,
    progress: bool = False,
    chunk_size: int = 20_000,
) -> PreparedData:
    """Clean, deduplicate and tokenize molecules, counting every row left out.

    Checks run in this order, each dropped row counted under its reason: ``not_a_string``
    (``None``, NaN, numbers), ``empty``, ``unparseable`` (RDKit rejects it), ``duplicate``
    (same canonical SMILES as an earlier row), ``unknown_token`` (a token the given tokenizer's
    vocabulary lacks), ``untokenizable`` (e.g. SELFIES cannot encode it exactly), ``too_long``.

    Args:
        smiles: SMILES strings (a list, Series or DataFrame column).
        tokenizer: a tokenizer, or a kind (``"smiles"``, ``"smiles-char"``, ``"selfies"``) to
            build one whose vocabulary covers the kept molecules.
        max_len: longest molecule kept, in tokens (without ``<bos>``/``<eos>``).
        canonicalize: replace each SMILES by its RDKit canonical form.
        dedupe: drop repeated molecules (compared after canonicalization).
        largest_fragment: keep only the largest fragment (strips salts and solvents).
        n_jobs: worker processes for RDKit and SELFIES work.
        progress: show tqdm progress bars.

    Returns:
        :class:`PreparedData` with ``smiles``, token arrays, ``tokenizer`` and ``report``.

    Raises:
        DataError: when no row survives (the message carries the report).
    """
    if isinstance(smiles, pd.DataFrame):
        raise DataError(
            "prepare() takes a column of SMILES, e.g. df['smiles'], not a whole DataFrame"
        )
    values = smiles.tolist() if isinstance(smiles, pd.Series) else list(smiles)
    if isinstance(tokenizer, str):
        if tokenizer not in KINDS:
            raise TokenizerError(
                f"unknown tokenizer kind {tokenizer!r}; known kinds: {list(KINDS)}"
            )
        kind, given = tokenizer, None
    elif isinstance(tokenizer, _Tokenizer):
        kind, given = tokenizer.kind, tokenizer
    else:
        raise TypeError(f"tokenizer must be a tokenizer or one of {list(KINDS)}, got {tokenizer!r}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")

    report = PrepareReport(read=len(values), dropped=dict.fromkeys(REASONS, 0))

    def drop(reason: str, value: Any) -> None:
        report.dropped[reason] += 1
        ex = report.examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(repr(value) if not isinstance(value, str) else value)

    # 1. chemistry (parallel)
    chem = [
        r
        for part in map_chunks(
            _chem_chunk,
            [(c, canonicalize, largest_fragment) for c in chunked(values, chunk_size)],
            n_jobs,
            progress,
            "rdkit",
        )
        for r in part
    ]
    clean: list[str] = []
    for v, (c, reason) in zip(values, chem):
        if reason is not None:
            drop(reason, v)
        else:
            clean.append(c)  # type: ignore[arg-type]
    # 2. duplicates
    if dedupe:
        seen: set[str] = set()
        unique: list[str] = []
        for s in clean:
            if s in seen:
                drop("duplicate", s)
            else:
                seen.add(s)
                unique.append(s)
        clean = unique
    # 3. tokenize (parallel)
    spec = {"kind": kind}
    toks = [
        r
        for part in map_chunks(
            _token_chunk,
            [(spec, c) for c in chunked(clean, chunk_size)],
            n_jobs,
            progress,
            "tokenize",
        )
        for r in part
    ]
    counts: Counter[str] = Counter()
    kept_smiles: list[str] = []
    kept_tokens: list[list[str]] = []
    for s, (joined, reason) in zip(clean, toks):
        if reason is not None:
            drop(reason, s)
            continue
        parts = joined.split(" ")  # type: ignore[union-attr]
        if len(parts) > max_len:
            drop("too_long", s)
            continue
        kept_smiles.append(s)
        kept_tokens.append(parts)
    # 4. vocabulary and ids
    if given is None:
        for parts in kept_tokens:
            counts.update(parts)
        vocab = Vocabulary(sorted(counts))
        tok = tokenizer_from_dict({"format_version": 1, "kind": kind, "tokens": vocab.tokens})
    else:
        tok = given
        stoi = tok.vocab.stoi
        final_smiles, final_tokens = [], []
        for s, parts in zip(kept_smiles, kept_tokens):
            missing = next((t for t in parts if t not in stoi), None)
            if missing is not None:
                drop("unknown_token", s)
            else:
                final_smiles.append(s)
                final_tokens.append(parts)
        kept_smiles, kept_tokens = final_smiles, final_tokens
    stoi = tok.vocab.stoi
    lengths = np.fromiter((len(p) for p in kept_tokens), dtype=np.int64, count=len(kept_tokens))
    offsets = np.zeros(len(kept_tokens) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    dtype = np.uint8 if len(tok.vocab) <= 256 else np.uint16
    flat = np.fromiter(
        (stoi[t] for p in kept_tokens for t in p), dtype=dtype, count=int(offsets[-1])
    )
    report.kept = len(kept_smiles)
    report.dropped = {k: v for k, v in report.dropped.items() if v}
    logger.info("%s", report)
    if report.kept == 0:
        raise DataError(f"no molecule survived preparation ({report}); examples: {report.examples}")
    return PreparedData(
        smiles=kept_smiles, tokens=flat, offsets=offsets, tokenizer=tok, report=report
    )


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """``$MOLVAE_CACHE`` or ``~/.cache/molvae``."""
    return Path(os.environ.get("MOLVAE_CACHE") or Path.home() / ".cache" / "molvae")


def _cache_key(source_hash: str, tokenizer: Any, options: dict[str, Any]) -> str:
    tok = tokenizer if isinstance(tokenizer, str) else tokenizer.to_dict()
    blob = json.dumps(
        {"v": CACHE_VERSION, "src": source_hash, "tok": tok, "opt": options}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_prepared(data: PreparedData, path: str | os.PathLike) -> None:
    """Write :class:`PreparedData` to one ``.npz`` of plain arrays (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(
        {
            "cache_version": CACHE_VERSION,
            "tokenizer": data.tokenizer.to_dict(),
            "report": data.report.to_dict(),
        }
    )
    smiles = np.frombuffer("\n".join(data.smiles).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f, tokens=data.tokens, offsets=data.offsets, smiles=smiles, meta=np.array(meta)
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_prepared(path: str | os.PathLike) -> PreparedData:
    """Read what :func:`save_prepared` wrote (no pickles: ``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("cache_version") != CACHE_VERSION:
                raise DataError(
                    f"{path}: cache version {meta.get('cache_version')} != {CACHE_VERSION}"
                )
            smiles = z["smiles"].tobytes().decode().split("\n")
            return PreparedData(
                smiles=smiles,
                tokens=z["tokens"],
                offsets=z["offsets"],
                tokenizer=tokenizer_from_dict(meta["tokenizer"]),
                report=PrepareReport.from_dict(meta["report"]),
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: unreadable prepared-data file: {err}") from err


def prepare_file(
    path: str | os.PathLike,
    tokenizer: str | SmilesTokenizer | SelfiesTokenizer,
    column: str | None = None,
    cache: bool = True,
    **options: Any,
) -> PreparedData:
    """:func:`prepare` a SMILES file, caching the result keyed by the file's hash and the tokenizer.

    The second call with the same file, tokenizer and options loads the cached arrays
    (about a second for the full MOSES train set) instead of redoing the RDKit work.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    opts = {
        k: options.get(k, d)
        for k, d in (
            ("max_len", DEFAULT_MAX_LEN),
            ("canonicalize", True),
            ("dedupe", True),
            ("largest_fragment", False),
        )
    }
    key = _cache_key(file_sha256(path), tokenizer, {**opts, "column": column})
    cached = cache_dir() / "prepared" / f"{path.name}.{key}.npz"
    if cache and cached.exists():
        try:
            data = load_prepared(cached)
            logger.info("loaded prepared data from cache %s (%s)", cached, data.report)
            return data
        except DataError as err:
            logger.warning("ignoring damaged cache %s: %s", cached, err)
    data = prepare(read_smiles(path, column=column), tokenizer, **options)
    if cache:
        try:
            save_prepared(data, cached)
            logger.info("cached prepared data at %s", cached)
        except OSError as err:
            logger.warning("could not write cache %s: %s", cached, err)
    return data


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------
def batch_indices(
    lengths: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    bucket: bool = True,
    seed: int | None = 0,
    pool_batches: int = 64,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """Split ``range(len(lengths))`` into batches, grouping similar lengths to cut padding.

    With ``bucket=True`` the (shuffled) molecules are cut into pools of ``pool_batches``
    batches, each pool sorted by length and cut into batches, and the batch order shuffled:
    batches stay random but carry little padding.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if bucket:
        pool = batch_size * pool_batches
        parts = []
        for i in range(0, n, pool):
            chunk = order[i : i + pool]
            parts.append(chunk[np.argsort(lengths[chunk], kind="stable")])
        order = np.concatenate(parts) if parts else order
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    if shuffle and bucket:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def iter_batches(
    data: PreparedData,
    batch_size: int,
    shuffle: bool = True,
    bucket: bool = True,
    seed: int | None = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(ids (B, T) int64, lengths (B,))`` batches of ``data``."""
    for index in batch_indices(data.lengths, batch_size, shuffle=shuffle, bucket=bucket, seed=seed):
        yield data.batch(index)


def padding_fraction(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Mean fraction of pad tokens per batch."""
    fracs = []
    for b in batches:
        lb = lengths[b]
        fracs.append(1.0 - lb.sum() / (len(lb) * lb.max()))
    return float(np.mean(fracs)) if fracs else 0.0
