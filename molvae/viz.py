"""Pictures: molecule grids, interpolation strips, latent maps, property histograms.

Rendering is opt-in and never touches global state. Molecule drawings use RDKit; plots need the
``viz`` extra (``pip install "molvae[viz]"``, i.e. matplotlib), imported only when a plot is drawn.

Example:
    >>> import molvae as mv
    >>> path = gen.interpolate("CCO", "c1ccccc1O", steps=8)
    >>> mv.draw_interpolation(path, path="path.png")
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.exceptions import MolvaeError

logger = logging.getLogger(__name__)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise MolvaeError(
            'this picture needs matplotlib: install the viz extra, pip install "molvae[viz]"'
        ) from err
    return plt


def _finish(plt: Any, fig: Any, path: str | os.PathLike | None) -> None:
    """Lay out a figure, write it to ``path`` (the format follows the suffix) and close it."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        logger.info("wrote %s", path)
    plt.close(fig)


def draw_grid(
    smiles: Sequence[Any],
    legends: Sequence[Any] | None = None,
    path: str | os.PathLike | None = None,
    mols_per_row: int = 5,
    size: tuple[int, int] = (250, 200),
) -> Any:
    """Draw molecules in a grid (RDKit). Invalid entries become empty cells labelled "invalid".

    Args:
        smiles: SMILES to draw.
        legends: a caption per molecule (e.g. step numbers or scores).
        path: write a ``.png`` or ``.svg`` here (the format follows the suffix).

    Returns:
        The PIL image (PNG) or SVG text.
    """
    from rdkit.Chem import Draw

    from molvae.chem import to_mol

    smiles = list(smiles)
    if not smiles:
        raise ValueError("nothing to draw: the list of molecules is empty")
    mols = [to_mol(s) for s in smiles]
    labels = (
        [str(x) for x in legends]
        if legends is not None
        else [str(s) if len(str(s)) < 40 else "" for s in smiles]
    )
    labels = [lab if m is not None else f"{lab} (invalid)".strip() for lab, m in zip(labels, mols)]
    svg = path is not None and str(path).lower().endswith(".svg")
    per_row = min(mols_per_row, len(mols))
    img = Draw.MolsToGridImage(
        mols, molsPerRow=per_row, subImgSize=size, legends=labels, useSVG=svg
    )
    # RDKit leaves an invalid molecule's cell blank, caption included: write the caption there
    blanks = [(k, labels[k]) for k, m in enumerate(mols) if m is None]
    img = _caption_blanks(img, blanks, per_row, size, svg) if blanks else img
    if path is not None:
        p = Path(path)
        if svg:
            p.write_text(img if isinstance(img, str) else img.data)
        else:
            img.save(p) if hasattr(img, "save") else p.write_bytes(img.data)
        logger.info("wrote %s", p)
    return img


def _caption_blanks(
    img: Any, blanks: list[tuple[int, str]], per_row: int, size: tuple[int, int], svg: bool
) -> Any:
    """Write each caption in the middle of its (blank) grid cell: SVG text in, SVG text out; a
    PNG (a PIL image, or IPython's PNG bytes inside a notebook) in, a PIL image out."""
    cells = [((k % per_row) * size[0] + size[0] // 2, (k // per_row) * size[1] + size[1] // 2, t)
             for k, t in blanks]  # fmt: skip
    if svg:
        from xml.sax.saxutils import escape

        text = img if isinstance(img, str) else img.data
        marks = "".join(
            f"<text x='{x}' y='{y}' text-anchor='middle' font-size='14' fill='#a00'>{escape(t)}</text>"
            for x, y, t in cells
        )  # fmt: skip
        return text.replace("</svg>", marks + "</svg>")
    from PIL import Image, ImageDraw

    if not hasattr(img, "save"):  # IPython's Image: PNG bytes
        import io

        img = Image.open(io.BytesIO(img.data))
    draw = ImageDraw.Draw(img)
    for x, y, t in cells:
        draw.text((x, y), t, fill=(160, 0, 0), anchor="mm")
    return img


def draw_interpolation(
    df: pd.DataFrame, path: str | os.PathLike | None = None, size: tuple[int, int] = (220, 180)
) -> Any:
    """A strip of the molecules of an interpolation frame (``gen.interpolate``), captioned with t."""
    for col in ("smiles", "t"):
        if col not in df.columns:
            raise ValueError(
                f"interpolation frame lacks column {col!r}; columns: {list(df.columns)}"
            )
    legends = [f"t={t:.2f}" for t in df.t]
    return draw_grid(
        df.smiles.tolist(), legends=legends, path=path, mols_per_row=len(df), size=size
    )


def project_2d(x: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D projection of ``x (N, Z)``: ``pca`` (numpy SVD) or ``tsne`` (needs scikit-learn)."""
    x = np.asarray(x, dtype=np.float64)
    if method == "pca":
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        return centred @ vt[:2].T
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as err:
            raise MolvaeError("method='tsne' needs scikit-learn: pip install scikit-learn") from err
        return TSNE(
            n_components=2, random_state=seed, init="pca", perplexity=min(30, max(2, len(x) // 4))
        ).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def latent_map(
    generator: Any,
    smiles: Sequence[str] | pd.DataFrame,
    color_by: str = "qed",
    method: str = "pca",
    path: str | os.PathLike | None = None,
    column: str = "smiles",
) -> pd.DataFrame:
    """Encode molecules, project the latent points to 2-D and colour them by a property.

    Args:
        generator: a :class:`~molvae.generator.Generator`.
        smiles: SMILES, or a DataFrame with ``column`` (its other numeric columns can be used in ``color_by``).
        color_by: a property of ``molvae.chem.PROPERTIES`` or a numeric column of the frame.
        method: ``pca`` or ``tsne``.
        path: PNG/SVG/PDF file for the plot.

    Returns:
        DataFrame with ``smiles``, ``x``, ``y`` and the colour column (rows that could not be encoded
        are left out and counted in the log).

    Raises:
        ValueError: ``color_by`` is neither a known property nor a column (lists both); an empty input.
    """
    from molvae.chem import PROPERTIES, score

    frame = (
        smiles.reset_index(drop=True)
        if isinstance(smiles, pd.DataFrame)
        else pd.DataFrame({column: list(smiles)})
    )
    if column not in frame.columns:
        raise ValueError(f"no column {column!r}; columns present: {list(frame.columns)}")
    if len(frame) == 0:
        raise ValueError("nothing to map: no molecules given")
    numeric = [c for c in frame.columns if c != column and pd.api.types.is_numeric_dtype(frame[c])]
    if color_by not in PROPERTIES and color_by not in numeric:
        raise ValueError(
            f"cannot colour by {color_by!r}: not a property ({sorted(PROPERTIES)}) nor a numeric column ({numeric})"
        )
    plt = _pyplot()
    values = (
        frame[color_by].to_numpy(float)
        if color_by in numeric
        else score(frame[column].tolist(), [color_by])[color_by].to_numpy()
    )
    z = generator.encode(frame[column].tolist())
    keep = ~np.isnan(z).any(axis=1)
    if keep.sum() < 2:
        raise ValueError(f"need at least 2 encodable molecules to map, got {int(keep.sum())}")
    if (~keep).any():
        logger.warning(
            "latent_map: %d of %d molecules could not be encoded and are left out",
            int((~keep).sum()),
            len(z),
        )
    xy = project_2d(z[keep], method=method)
    out = pd.DataFrame(
        {
            "smiles": frame[column][keep].to_numpy(),
            "x": xy[:, 0],
            "y": xy[:, 1],
            color_by: values[keep],
        }
    )
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    sc = ax.scatter(out.x, out.y, c=out[color_by], s=12, cmap="viridis", alpha=0.85)
    fig.colorbar(sc, ax=ax, label=color_by)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(f"latent space of {len(out)} molecules, coloured by {color_by}")
    _finish(plt, fig, path)
    return out


def property_histograms(
    generated: Sequence[str],
    reference: Sequence[str],
    properties: Sequence[str] = ("qed", "sa", "logp", "mw"),
    path: str | os.PathLike | None = None,
    bins: int = 40,
    labels: tuple[str, str] = ("generated", "reference"),
) -> pd.DataFrame:
    """Generated vs reference property distributions on shared axes (one panel per property).

    Returns a summary DataFrame (property, mean and std of both sets, valid counts).
    """
    from molvae.chem import check_property_names, score

    check_property_names(properties)
    generated, reference = list(generated), list(reference)
    if not generated or not reference:
        raise ValueError("property_histograms needs non-empty generated and reference sets")
    plt = _pyplot()
    g = score(generated, list(properties))
    r = score(reference, list(properties))
    fig, axes = plt.subplots(
        1, len(properties), figsize=(3.6 * len(properties), 3.2), squeeze=False
    )
    rows = []
    for ax, prop in zip(axes[0], properties):
        gv, rv = g[prop].dropna().to_numpy(), r[prop].dropna().to_numpy()
        both = np.concatenate([gv, rv])
        edges = np.histogram_bin_edges(both, bins=bins) if len(both) else bins
        ax.hist(rv, bins=edges, density=True, alpha=0.5, label=labels[1])
        ax.hist(gv, bins=edges, density=True, alpha=0.5, label=labels[0])
        ax.set_title(prop)
        rows.append(
            {
                "property": prop,
                f"{labels[0]}_mean": gv.mean() if len(gv) else np.nan,
                f"{labels[0]}_std": gv.std() if len(gv) else np.nan,
                f"{labels[1]}_mean": rv.mean() if len(rv) else np.nan,
                f"{labels[1]}_std": rv.std() if len(rv) else np.nan,
                f"{labels[0]}_n": len(gv),
                f"{labels[1]}_n": len(rv),
            }
        )
    axes[0][0].legend()
    _finish(plt, fig, path)
    return pd.DataFrame(rows)


def heatmap(
    table: pd.DataFrame,
    path: str | os.PathLike | None = None,
    label: str = "Pearson r",
    limits: tuple[float, float] = (-1.0, 1.0),
) -> Any:
    """A table of numbers as a heatmap (rows down, columns across, a diverging colour map), e.g.
    the unit x property correlations of :func:`molvae.latent_report`. Returns the figure."""
    if table.empty:
        raise ValueError("nothing to draw: the table is empty")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * table.shape[1], 1 + 0.16 * len(table)))
    im = ax.imshow(
        table.to_numpy(dtype=float), cmap="RdBu_r", vmin=limits[0], vmax=limits[1], aspect="auto"
    )
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=45, ha="right")
    ax.set_yticks(range(len(table)), [str(i) for i in table.index], fontsize=6)
    if table.index.name:
        ax.set_ylabel(str(table.index.name))
    fig.colorbar(im, ax=ax, label=label)
    _finish(plt, fig, path)
    return fig
