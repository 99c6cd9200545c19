//! CSV cells that a spreadsheet would run as formulas are neutralised as they are written.
//!
//! Names, alert names, sweep values and event messages reach the CSV files; a cell that
//! begins with `=`, `+`, `@`, a tab or a carriage return, or with `-` not followed by a digit
//! or `.`, is read by Excel, LibreOffice and Google Sheets as a formula (CSV injection). The
//! guard sits between the `csv` writer and the file and puts a `'` before such a cell (the
//! OWASP advice), so the spreadsheet shows the text. Numbers (`-1.5`, `1e-3`) are left alone,
//! and a cell that already begins with `'` is not changed, so reading a guarded file and
//! writing it again gives the same bytes.

use std::io::{self, Write};

/// A `csv` error as the I/O error it wraps, keeping its kind (a full disk stays
/// `StorageFull`, which the CLI reports as the user's to fix); the `csv` crate's own
/// conversion makes every error `Other`.
pub fn io_error(e: csv::Error) -> io::Error {
    if !e.is_io_error() {
        return io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        kind => io::Error::other(format!("{kind:?}")),
    }
}

/// A [`Write`] adapter over CSV output (RFC 4180 quoting, as the `csv` crate writes it). It
/// holds back one cell at a time (cells are short) and decides at the cell's end.
pub struct FormulaGuard<W: Write> {
    /// `None` only once [`FormulaGuard::into_inner`] took it.
    inner: Option<W>,
    /// The raw bytes of the current cell, quotes included.
    cell: Vec<u8>,
    in_quotes: bool,
}

impl<W: Write> FormulaGuard<W> {
    pub fn new(inner: W) -> Self {
        FormulaGuard { inner: Some(inner), cell: Vec::new(), in_quotes: false }
    }

    /// The wrapped writer (after writing any cell held back).
    pub fn into_inner(mut self) -> io::Result<W> {
        self.end_cell(None)?;
        Ok(self.inner.take().expect("into_inner takes the writer once"))
    }

    /// Writes the held-back cell, then `separator`.
    fn end_cell(&mut self, separator: Option<u8>) -> io::Result<()> {
        let raw = std::mem::take(&mut self.cell);
        let Some(inner) = self.inner.as_mut() else { return Ok(()) };
        if needs_quote_mark(&raw) {
            let at = usize::from(raw.first() == Some(&b'"'));
            inner.write_all(&raw[..at])?;
            inner.write_all(b"'")?;
            inner.write_all(&raw[at..])?;
        } else {
            inner.write_all(&raw)?;
        }
        if let Some(b) = separator {
            inner.write_all(&[b])?;
        }
        Ok(())
    }
}

/// A CSV writer into memory whose cells pass through a [`FormulaGuard`]; `headers` as
/// [`csv::WriterBuilder::has_headers`]. [`finish`] gives the text.
pub fn in_memory(headers: bool) -> csv::Writer<FormulaGuard<Vec<u8>>> {
    csv::WriterBuilder::new().has_headers(headers).from_writer(FormulaGuard::new(Vec::new()))
}

/// The text an [`in_memory`] writer wrote.
pub fn finish(w: csv::Writer<FormulaGuard<Vec<u8>>>) -> String {
    let guard = w.into_inner().map_err(|e| e.into_error()).expect("writing to memory cannot fail");
    String::from_utf8(guard.into_inner().expect("writing to memory cannot fail"))
        .expect("CSV of UTF-8 strings is UTF-8")
}

/// Whether a raw CSV cell would be read by a spreadsheet as a formula.
fn needs_quote_mark(raw: &[u8]) -> bool {
    let (content, quoted) = match raw.strip_prefix(b"\"") {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    match content.first() {
        Some(b'=' | b'+' | b'@' | b'\t' | b'\r') => true,
        Some(b'-') => {
            let text = std::str::from_utf8(content).unwrap_or("");
            quoted || (text.len() > 1 && text.parse::<f64>().is_err())
        }
        _ => false,
    }
}

impl<W: Write> Write for FormulaGuard<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if b == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes && (b == b',' || b == b'\n') {
                self.end_cell(Some(b))?;
                continue;
            }
            self.cell.push(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(inner) => inner.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for FormulaGuard<W> {
    fn drop(&mut self) {
        let _ = self.end_cell(None);
    }
}

#[cfg(test)]
mod tests {

    /// A full disk under the csv writer is still a full disk (the CLI's exit 2), not `Other`.
    #[test]
    fn a_csv_io_error_keeps_its_kind() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut w = csv::WriterBuilder::new().buffer_capacity(1).from_writer(Full);
        let e = w.write_record(["a", "b"]).and_then(|_| w.flush().map_err(csv::Error::from)).unwrap_err();
        assert_eq!(io_error(e).kind(), std::io::ErrorKind::StorageFull);
    }

    use super::*;

    fn guarded(cells: &[&[&str]]) -> String {
        let mut guard = FormulaGuard::new(Vec::new());
        {
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut guard);
            for row in cells {
                w.write_record(*row).unwrap();
            }
            w.flush().unwrap();
        }
        String::from_utf8(guard.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn formula_cells_get_a_quote_and_numbers_do_not() {
        let text = guarded(&[
            &["=HYPERLINK(\"http://x\")", "+1+cmd", "@SUM(A1)", "-2+3", "-cmd"],
            &["-1.5", "-.5", "1e-3", "plain", "-"],
            &["a,=b", "\"=q\"", "'=kept", "", "\tx"],
        ]);
        let mut rows = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> =
            rows.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
        assert_eq!(rows[0], ["'=HYPERLINK(\"http://x\")", "'+1+cmd", "'@SUM(A1)", "'-2+3", "'-cmd"]);
        assert_eq!(rows[1], ["-1.5", "-.5", "1e-3", "plain", "-"]);
        assert_eq!(rows[2], ["a,=b", "\"=q\"", "'=kept", "", "'\tx"]);
        // Idempotent: guarding the guarded cells again changes nothing.
        let again: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
        let again: Vec<&[&str]> = again.iter().map(Vec::as_slice).collect();
        assert_eq!(guarded(&again), text);
    }
}
