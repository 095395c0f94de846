"""PDF documents and folders of pages: write pages as PDFs, read PDF pages and images back as page images
(notebook 04 introduces them).

Writing and reading go through pdfium (pypdfium2): pages are stored losslessly (Flate), so a page written
and read back at its own size comes back pixel for pixel. Reading a user's folder takes the same path:
every PDF page and every image is turned into a square RGB page of ``size`` pixels (stretched, so a
drawing's title block stays in its corner; transparency is laid on white paper). A file that cannot be
read is skipped with a warning that names it; the rest is read.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils import atomic_path, check_positive

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PDF_SUFFIXES: tuple[str, ...] = (".pdf",)
PAGE_POINTS = 595.0  # PDF page side in points (the width of A4); pages are square


def write_pdf(images: np.ndarray | Sequence[np.ndarray], path: str | os.PathLike) -> Path:
    """Write uint8 RGB pages (N, H, W, 3) as one PDF, one page each (temporary file, then rename)."""
    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise ValueError(f"path={str(path)!r} is not allowed: give a .pdf file name.")
    if len(images) == 0:
        raise ValueError("images is empty: give at least one page to write.")
    pdf = pdfium.PdfDocument.new()
    try:
        for array in images:
            array = np.ascontiguousarray(array)
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
                raise ValueError(f"a page of shape {array.shape} and dtype {array.dtype} is not allowed: "
                                 "give uint8 RGB pages shaped (H, W, 3).")
            h, w = array.shape[:2]
            width, height = PAGE_POINTS * w / max(h, w), PAGE_POINTS * h / max(h, w)
            page = pdf.new_page(width, height)
            picture = pdfium.PdfImage.new(pdf)
            picture.set_bitmap(pdfium.PdfBitmap.from_pil(Image.fromarray(array, "RGB")))
            picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
            page.insert_obj(picture)
            page.gen_content()
        with atomic_path(path) as tmp:
            pdf.save(str(tmp))
    finally:
        pdf.close()
    return path


def write_pdfs(images: np.ndarray, folder: str | os.PathLike, pages_per_document: int = 50,
               prefix: str = "document") -> list[Path]:
    """Write pages as several PDF documents of `pages_per_document` pages each: folder/prefix-0000.pdf, ..."""
    check_positive("pages_per_document", pages_per_document)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_pdf(images[i:i + pages_per_document], folder / f"{prefix}-{i // pages_per_document:04d}.pdf")
            for i in range(0, len(images), pages_per_document)]


def to_page(image: Image.Image, size: int) -> np.ndarray:
    """Any PIL image (any size or mode) as a square uint8 RGB page (size, size, 3)."""
    check_positive("size", size)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float scans: stretch to 8 bits
        a = np.asarray(image, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        image = Image.fromarray(((a - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BOX if min(image.size) >= size else Image.BICUBIC)
    return np.asarray(image)


def read_pdf(path: str | os.PathLike, size: int) -> list[np.ndarray]:
    """Every page of a PDF as a square uint8 RGB page (size, size, 3); a clear error if unreadable."""
    check_positive("size", size)
    path = Path(path)
    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as e:
        raise ValueError(f"file={str(path)!r} is not a readable PDF ({e}).") from None
    try:
        pages = []
        for page in pdf:
            width, height = page.get_size()
            bitmap = page.render(scale=size / max(width, height))
            pages.append(to_page(bitmap.to_pil(), size))
        return pages
    except pdfium.PdfiumError as e:
        raise ValueError(f"file={str(path)!r} is not a readable PDF ({e}).") from None
    finally:
        pdf.close()


def read_image(path: str | os.PathLike, size: int) -> np.ndarray:
    """An image file (or the first page of a PDF) as a square uint8 RGB page; a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image={str(path)!r} does not exist.")
    if path.suffix.lower() in PDF_SUFFIXES:
        return read_pdf(path, size)[0]
    try:
        with Image.open(path) as image:
            image.load()
            return to_page(image, size)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"image={str(path)!r} is not a readable image ({e}).") from None


def page_files(folder: str | os.PathLike) -> list[Path]:
    """The images and PDFs under `folder` (recursively), sorted; clear errors for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder={str(folder)!r} does not exist or is not a folder.")
    suffixes = IMAGE_SUFFIXES + PDF_SUFFIXES
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                   and not p.name.startswith("."))
    if not files:
        raise ValueError(f"folder={str(folder)!r} holds no images or PDFs: looked for {', '.join(suffixes)}.")
    return files


def iter_pages(files: Iterable[str | os.PathLike], size: int) -> Iterator[tuple[str, np.ndarray]]:
    """(page id, page) for every page of every file: "file.png", "doc.pdf#page=3" (1-based). A file that
    cannot be read is skipped with a warning naming it."""
    for path in files:
        path = Path(path)
        try:
            if path.suffix.lower() in PDF_SUFFIXES:
                pages = read_pdf(path, size)
                yield from ((f"{path}#page={k + 1}", page) for k, page in enumerate(pages))
            else:
                yield str(path), read_image(path, size)
        except (ValueError, OSError) as e:
            warnings.warn(f"skipped {path}: {e}", stacklevel=2)


def read_folder(folder: str | os.PathLike, size: int) -> tuple[list[str], np.ndarray]:
    """Every page under `folder` as (page ids, uint8 pages (N, size, size, 3)); unreadable files are skipped
    with a warning, and a folder with nothing readable is an error."""
    ids, pages = [], []
    for page_id, page in iter_pages(page_files(folder), size):
        ids.append(page_id)
        pages.append(page)
    if not pages:
        raise ValueError(f"folder={str(folder)!r} holds no readable page: every image or PDF in it failed to open.")
    return ids, np.stack(pages)
