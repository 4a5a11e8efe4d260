"""A tiny PDF writer: pages of filled shapes, lines and Helvetica text, exact to the printer's point.

Enough for printable marker sheets and nothing more, so no PDF library is needed. Coordinates are
centimetres from the page's top-left corner (the PDF itself counts points from the bottom-left).
Shapes are vector paths: a 10 cm square prints as 10 cm at 100 % scale, on any printer.
Text uses the PDF's built-in Helvetica (WinAnsi, so Latin-1 characters only; others become '?').
"""

from __future__ import annotations

from dataclasses import dataclass, field

PT_PER_CM = 72 / 2.54
PAPER_CM = {"a4": (21.0, 29.7), "letter": (21.59, 27.94)}


def _n(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def _escape(text: str) -> str:
    latin = text.encode("latin-1", "replace").decode("latin-1")
    return latin.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@dataclass
class Page:
    width_cm: float
    height_cm: float
    ops: list[str] = field(default_factory=list)

    def _xy(self, x_cm: float, y_cm: float) -> str:
        return f"{_n(x_cm * PT_PER_CM)} {_n((self.height_cm - y_cm) * PT_PER_CM)}"

    def rects(self, rects: list[tuple[float, float, float, float]], grey: float = 0.0) -> None:
        """Fill (x, y, w, h) rectangles in one path, so touching ones print as one shape with no seams."""
        if not rects:
            return
        self.ops.append(f"{_n(grey)} g")
        for x, y, w, h in rects:
            self.ops.append(f"{self._xy(x, y + h)} {_n(w * PT_PER_CM)} {_n(h * PT_PER_CM)} re")
        self.ops.append("f")

    def polygon(self, points: list[tuple[float, float]], grey: float = 0.0) -> None:
        self.ops.append(f"{_n(grey)} g {self._xy(*points[0])} m " + " ".join(f"{self._xy(*p)} l" for p in points[1:]) + " h f")

    def line(self, x0: float, y0: float, x1: float, y1: float, width_cm: float = 0.03, grey: float = 0.0,
             dash_cm: float | None = None) -> None:
        dash = f"[{_n(dash_cm * PT_PER_CM)}] 0 d" if dash_cm else "[] 0 d"
        self.ops.append(f"{_n(grey)} G {_n(width_cm * PT_PER_CM)} w 0 J {dash} {self._xy(x0, y0)} m {self._xy(x1, y1)} l S")

    def text(self, x_cm: float, y_cm: float, text: str, size_pt: float = 10, bold: bool = False, grey: float = 0.0) -> None:
        """Text whose baseline starts at (x, y)."""
        font = "F2" if bold else "F1"
        self.ops.append(f"BT {_n(grey)} g /{font} {_n(size_pt)} Tf {self._xy(x_cm, y_cm)} Td ({_escape(text)}) Tj ET")


class Document:
    def __init__(self, paper: str = "a4") -> None:
        if paper not in PAPER_CM:
            raise ValueError(f"paper must be one of {', '.join(PAPER_CM)} (got {paper!r})")
        self.paper = paper
        self.pages: list[Page] = []

    def page(self) -> Page:
        p = Page(*PAPER_CM[self.paper])
        self.pages.append(p)
        return p

    def to_bytes(self) -> bytes:
        objects: list[bytes] = []  # object n is objects[n - 1]
        fonts = (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
        objects += [b"", b"", *fonts]  # 1 catalog, 2 page tree: filled in below
        kids = []
        for p in self.pages:
            stream = "\n".join(p.ops).encode("latin-1")
            objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
            w, h = _n(p.width_cm * PT_PER_CM), _n(p.height_cm * PT_PER_CM)
            objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents {len(objects)} 0 R "
                           f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>".encode())
            kids.append(f"{len(objects)} 0 R")
        objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
        objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
        return bytes(out)
