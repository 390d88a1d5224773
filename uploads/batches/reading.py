"""A batch's text: pasted URLs or a CSV file in, a CSV of rows to fix out.

A CSV's header row names the submission form's fields (`COLUMNS`; the template
has them all); the file is UTF-8 with or without a byte order mark, its cells
separated by commas or semicolons (the header decides which). A row becomes a
dict of the form's field names to the text of its cells.
"""

import csv
import io
import itertools
from collections.abc import Iterable, Iterator

from ..models import VideoRequest

# The form's field names, in the template's order: the URL, its team, what else is asked.
COLUMNS = ("url", "team", *VideoRequest.ASKED[1:])
# Written last in the CSV of refused rows; ignored when that file is read again.
PROBLEM_COLUMN = "problem"
# The key under which a row with more cells than the header keeps how many it has.
EXTRA_CELLS = "_cells"
EXAMPLE = {
    "url": "https://videos.example.com/harbour.mp4",
    "datetime_taken": "2025-10-20 11:00:00",
    "camera_model": "Canon EOS 5D",
    "latitude": "48.8566",
    "longitude": "2.3522",
    "tags": "harbour, morning",
    "retain_original_video": "no",
    "video_transcription_prompt": "",
}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV
# injection"): written with a leading apostrophe, which reading takes off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

type Row = tuple[int, dict[str, str]]  # (line number, {field: text})


class BatchInputError(ValueError):
    """What is wrong with the paste or the file as a whole; `message` goes beside the field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _too_many(max_rows: int) -> BatchInputError:
    return BatchInputError(
        f"More than {max_rows:,} rows: at most {max_rows:,} can be submitted at once. "
        "Split them into several batches."
    )


def read_paste(text: str, max_rows: int) -> list[Row]:
    """One URL a line; blank lines are skipped. Line numbers count every line."""
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if not url:
            continue
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        rows.append((number, {"url": url}))
    if not rows:
        raise BatchInputError("Paste at least one URL, one a line.")
    return rows


def read_csv(binary: io.RawIOBase | io.BufferedIOBase, max_rows: int) -> list[Row]:
    """The rows of a CSV file, read as a stream (line numbers count the header as line 1).

    Raises BatchInputError for a file that is not UTF-8, has no usable header, names
    columns the form does not have, or has more than `max_rows` rows.
    """
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        return _read_rows(text, max_rows)
    except UnicodeDecodeError:
        raise BatchInputError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” (Excel, LibreOffice and "
            "Numbers all offer it) and upload it again."
        ) from None
    except csv.Error as exc:
        raise BatchInputError(f"The file could not be read as CSV: {exc}.") from None
    finally:
        text.detach()  # the upload is the caller's to close


def read_records(records: list[dict[str, str]], max_rows: int) -> list[Row]:
    """Rows given as records ({column: text}, as a CSV's rows after its header), numbered
    from 1; the same columns as a CSV's and the same limits."""
    if len(records) > max_rows:
        raise _too_many(max_rows)
    if not records:
        raise BatchInputError("Give at least one row.")
    rows: list[Row] = []
    for number, record in enumerate(records, start=1):
        try:
            header = _header(list(record))
        except BatchInputError as exc:
            raise BatchInputError(f"Row {number}: {exc.message}") from None
        if any("\x00" in value for value in record.values()):
            raise BatchInputError(f"Row {number} holds a NUL character: it is not plain text.")
        rows.append((number, _cells(header, list(record.values()))))
    return rows


def _read_rows(text: io.TextIOWrapper, max_rows: int) -> list[Row]:
    first = text.readline()
    if not first.strip():
        raise BatchInputError(
            "The file is empty, or its first line is: it must be the header row "
            f"({', '.join(COLUMNS)})."
        )
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    header = _header(next(reader))
    rows: list[Row] = []
    line = reader.line_num
    for cells in reader:
        number, line = line + 1, reader.line_num  # a quoted cell may span lines
        if not any(cell.strip() for cell in cells):
            continue
        if any("\x00" in cell for cell in cells):
            # Text never holds one (and PostgreSQL cannot store it): not a text file.
            raise BatchInputError(
                f"Line {number} holds a NUL character: the file is not a plain-text CSV."
            )
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        rows.append((number, _cells(header, cells)))
    if not rows:
        raise BatchInputError("The file has a header row but no rows under it.")
    return rows


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    unknown = [name for name in names if name not in COLUMNS and name != PROBLEM_COLUMN]
    if unknown:
        raise BatchInputError(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: "
            + ", ".join(f"“{name}”" for name in unknown)
            + f". The header row names the form's fields: {', '.join(COLUMNS)} "
            "(download the template)."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BatchInputError(f"The header names {', '.join(repeated)} more than once.")
    if "url" not in names:
        raise BatchInputError(f"The header row has no “url” column ({', '.join(COLUMNS)}).")
    return names


def _cells(header: list[str], cells: list[str]) -> dict[str, str]:
    """A row's cells by column; a row with more cells than the header keeps them for the
    check to refuse (`EXTRA_CELLS`)."""
    row = {
        name: _unescaped(cell)
        for name, cell in zip(header, cells, strict=False)
        if name != PROBLEM_COLUMN and cell.strip()
    }
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        row[EXTRA_CELLS] = str(len(header) + len(extra))
    return row


def _unescaped(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula; numbers stay as they are."""
    if value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ".", 1))
    except ValueError:
        return False
    return True


class _Echo:
    """A file-like object whose write() returns the line: csv.writer formats, we yield."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[dict[str, str]], *, problems: bool = False) -> Iterator[str]:
    """CSV text (UTF-8 with a byte order mark, for spreadsheets), one line at a time: the
    header, then `rows` (dicts by column; with `problems`, a last column says what is wrong)."""
    writer = csv.writer(_Echo())
    columns = COLUMNS + ((PROBLEM_COLUMN,) if problems else ())
    yield "\ufeff" + writer.writerow(columns)
    for row in rows:
        yield writer.writerow([safe_cell(str(row.get(name, ""))) for name in columns])
