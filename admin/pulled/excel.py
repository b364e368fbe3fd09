"""``.xlsx``: a workbook for officials, the ratings one row each under a header row on the first sheet.

A workbook cannot be appended to in place, so a pull streams the old rows
(openpyxl read-only) and then the new pages into a new workbook (write-only,
so memory stays flat), and puts it in place of the old one atomically when
the pull ends, also when it ends early (Ctrl-C, the network gone): what was
fetched is kept. Killed outright, the old workbook stays as it was and the
next pull fetches the same ratings again. A second sheet ``pull_state`` holds
the server URL and the last cursor (and, for a quick look, the workbook's
custom document properties ``hailong_pull_*``).

An Excel sheet holds 1,048,576 rows: a pull that would go past
:data:`MAX_RATINGS` is refused and the old workbook left as it was; pull into
``.db`` or ``.csv`` instead.
"""

from __future__ import annotations

import os
import zipfile
from datetime import datetime, timezone

from reports.spreadsheet_text import looks_like_formula, write_text

from ..client import PULLED_FIELDS, RATING_FIELDS, PullError
from .base import PulledFile, sync_folder

RATINGS_SHEET = "ratings"
STATE_SHEET = "pull_state"
#: Excel's rows per sheet, less the header row.
MAX_RATINGS = 1_048_576 - 1


#: The pull state is also kept in the workbook's custom document properties, read without loading the sheets
#: (openpyxl's read-only mode scans a whole streamed sheet for its size before the first row).
PROPERTY_PREFIX = "hailong_pull_"


def _document_properties(path) -> dict:
    """The custom document properties of the workbook at ``path`` ({} if none)."""
    from xml.etree.ElementTree import fromstring

    from openpyxl.packaging.custom import CustomPropertyList

    try:
        with zipfile.ZipFile(path) as archive:
            if "docProps/custom.xml" not in archive.namelist():
                return {}
            properties = CustomPropertyList.from_tree(fromstring(archive.read("docProps/custom.xml")))
    except (zipfile.BadZipFile, OSError) as exc:
        raise PullError(f"{path.name} cannot be read as a workbook ({exc})") from None
    except Exception:  # noqa: BLE001 - properties we cannot read: fall back to the sheets
        return {}
    return {prop.name: prop.value for prop in properties}


class ExcelPulledFile(PulledFile):
    def __init__(self, path, server_url: str):
        super().__init__(path, server_url)
        self.partial = path.with_name(path.name + ".partial")
        self.book = self.sheet = None  # the new workbook, started at the first new rating
        self.finished = False
        if path.exists():
            self._read_state()

    def _open_old(self):
        from openpyxl import load_workbook

        try:
            return load_workbook(self.path, read_only=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            raise PullError(f"{self.path.name} cannot be read as a workbook ({exc})") from None

    def _read_state(self) -> None:
        """Server, last cursor and count: from the document properties (quick), else the sheets."""
        properties = _document_properties(self.path)
        if PROPERTY_PREFIX + "server" in properties:
            self.check_server(properties[PROPERTY_PREFIX + "server"])
            self.last_cursor = int(properties.get(PROPERTY_PREFIX + "last_cursor") or 0)
            self.total = int(properties.get(PROPERTY_PREFIX + "ratings") or 0)
            return
        old = self._open_old()
        try:
            if STATE_SHEET not in old.sheetnames:
                raise PullError(f"{self.path.name} has no sheet {STATE_SHEET}: it was not made by "
                                "kiosk-admin pull; pull into a new file")
            state = {row[0]: row[1] for row in old[STATE_SHEET].iter_rows(values_only=True) if row and row[0]}
            self.check_server(state.get("server"))
            # A workbook pulled before the officers' and dossiers' columns (issue 12) gains them when rewritten.
            if next(old.worksheets[0].iter_rows(max_row=1, values_only=True), None) not in (PULLED_FIELDS,
                                                                                              RATING_FIELDS):
                raise PullError(f"{self.path.name}'s first sheet does not have the pulled ratings' header row")
            self.last_cursor = int(state.get("last_cursor") or 0)
            self.total = int(state.get("ratings") or 0)
        finally:
            old.close()

    def _start(self) -> None:
        """The new workbook: the header row, then the old workbook's rows."""
        from openpyxl import Workbook

        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(RATINGS_SHEET)
        self.sheet.append(PULLED_FIELDS)
        if not self.path.exists():
            return
        old = self._open_old()
        try:
            rows = old.worksheets[0].iter_rows(min_row=2, values_only=True)
            self.total = 0
            for row in rows:
                row = list(row)
                self.sheet.append(self._cells(row + [None] * (len(PULLED_FIELDS) - len(row))))
                self.total += 1
        except BaseException:
            self._discard()
            raise
        finally:
            old.close()

    def append(self, ratings: list[dict], last_cursor: int) -> None:
        ratings = self.new_ratings(ratings)
        if self.total + len(ratings) > MAX_RATINGS:
            self._discard()  # leave the old workbook as it was
            raise PullError(f"an Excel sheet holds at most {MAX_RATINGS:,} ratings and this pull would bring "
                            f"{self.path.name} past it; pull into a .db or .csv file instead")
        if self.book is None:
            self._start()
        for rating in ratings:
            self.sheet.append(self._cells([rating.get(name) for name in PULLED_FIELDS]))
        self.total += len(ratings)
        self.added += len(ratings)
        self.last_cursor = last_cursor

    def _cells(self, row: list) -> list:
        """``row`` with its texts as text cells: a site named "=…" or a boot id sent as "@…" is not a formula."""
        from openpyxl.cell import WriteOnlyCell

        # Plain printable text is written as text anyway; a cell object for each would slow a long pull.
        return [write_text(WriteOnlyCell(self.sheet), value)
                if isinstance(value, str) and (looks_like_formula(value) or not value.isprintable()) else value
                for value in row]

    def _discard(self) -> None:
        """Drop the new workbook unsaved (and openpyxl's temporary file behind it)."""
        book, self.book = self.book, None
        self.finished = True
        if book is None:
            return
        try:
            self.sheet.close()
            self.sheet._writer.cleanup()
        except Exception:  # noqa: BLE001 - only tidying up
            pass

    def close(self) -> None:
        """Put the new workbook in place: when ratings were added, or the file is new."""
        if self.finished:
            return
        self.finished = True
        if self.book is None:
            if self.path.exists():
                return  # nothing new: the workbook stays as it is
            self._start()
        book, self.book = self.book, None
        from openpyxl.packaging.custom import IntProperty, StringProperty

        state = book.create_sheet(STATE_SHEET)
        for key, value in (("server", self.server_url), ("last_cursor", self.last_cursor),
                           ("ratings", self.total),
                           ("pulled_at", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))):
            state.append([key, value])
            kind = IntProperty if isinstance(value, int) else StringProperty
            book.custom_doc_props.append(kind(name=PROPERTY_PREFIX + key, value=value))
        try:
            book.save(self.partial)
            with open(self.partial, "rb+") as saved:
                os.fsync(saved.fileno())
            os.replace(self.partial, self.path)
            sync_folder(self.path.parent)
        finally:
            if self.partial.exists():
                self.partial.unlink()
