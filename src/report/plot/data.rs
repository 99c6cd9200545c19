//! Reading the saved CSV files by column name, with errors that name the file, the line and
//! the column and say what was expected.

use super::BadInput;
use std::path::{Path, PathBuf};

/// A CSV file read whole: its header and its rows, each with its line number.
pub struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn read(path: &Path) -> anyhow::Result<Option<Table>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes.as_slice());
        let header = reader
            .headers()
            .map_err(|e| bad(path, 1, &format!("the header does not read as CSV: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                bad(path, line, &format!("not a CSV row like the header: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record));
        }
        Ok(Some(Table { path: path.to_path_buf(), header, rows }))
    }

    /// The index of column `name`, or an error naming the columns that are there.
    pub fn column(&self, name: &str) -> anyhow::Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            BadInput(format!(
                "{}:1: no column `{name}`; the header has {}",
                self.path.display(),
                self.header.join(",")
            ))
            .into()
        })
    }

    /// The 1-based column of `col`, for messages.
    fn position(&self, col: usize) -> usize {
        col + 1
    }

    /// The cell as text.
    pub fn text<'a>(&self, row: &'a (u64, csv::StringRecord), col: usize) -> &'a str {
        row.1.get(col).unwrap_or("")
    }

    /// The cell as a number; a blank cell is `None`.
    pub fn number(&self, row: &(u64, csv::StringRecord), col: usize) -> anyhow::Result<Option<f64>> {
        let cell = self.text(row, col).trim();
        if cell.is_empty() {
            return Ok(None);
        }
        cell.parse::<f64>().map(Some).map_err(|_| {
            BadInput(format!(
                "{}:{}:{}: `{}` is `{cell}`, not a number; write a decimal number such as 12.5, or leave the cell blank",
                self.path.display(),
                row.0,
                self.position(col),
                self.header[col]
            ))
            .into()
        })
    }

    /// The cell as a number, required.
    pub fn required(&self, row: &(u64, csv::StringRecord), col: usize) -> anyhow::Result<f64> {
        self.number(row, col)?.ok_or_else(|| {
            BadInput(format!(
                "{}:{}:{}: `{}` is blank; a number is required here",
                self.path.display(),
                row.0,
                self.position(col),
                self.header[col]
            ))
            .into()
        })
    }

    /// The cell as `true`/`false`.
    pub fn boolean(&self, row: &(u64, csv::StringRecord), col: usize) -> anyhow::Result<bool> {
        match self.text(row, col).trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(BadInput(format!(
                "{}:{}:{}: `{}` is `{other}`; write true or false",
                self.path.display(),
                row.0,
                self.position(col),
                self.header[col]
            ))
            .into()),
        }
    }
}

/// A [`BadInput`] error at `path:line`.
pub fn bad(path: &Path, line: u64, what: &str) -> anyhow::Error {
    BadInput(format!("{}:{line}: {what}", path.display())).into()
}

/// The scenario name a run directory's `manifest.json` gives, else the directory's name.
pub fn scenario_name(dir: &Path) -> String {
    match crate::report::rundir::Manifest::read(dir) {
        Ok(m) => m.scenario,
        Err(_) => dir_name(dir),
    }
}

/// The last component of `dir` (`.` resolved), for labels.
pub fn dir_name(dir: &Path) -> String {
    let resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    resolved.file_name().map_or_else(|| "results".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,b\n1,2\n3,x\n4,\n").unwrap();
        let t = Table::read(&path).unwrap().unwrap();
        let b = t.column("b").unwrap();
        assert_eq!(t.number(&t.rows[0], b).unwrap(), Some(2.0));
        let e = t.number(&t.rows[1], b).unwrap_err().to_string();
        assert!(e.ends_with("t.csv:3:2: `b` is `x`, not a number; write a decimal number such as 12.5, or leave the cell blank"), "{e}");
        assert_eq!(t.number(&t.rows[2], b).unwrap(), None);
        let e = t.required(&t.rows[2], b).unwrap_err().to_string();
        assert!(e.ends_with("t.csv:4:2: `b` is blank; a number is required here"), "{e}");
        let e = t.column("c").unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some());
        assert!(e.to_string().ends_with("t.csv:1: no column `c`; the header has a,b"), "{e}");
        assert!(Table::read(&dir.path().join("none.csv")).unwrap().is_none());
    }

    #[test]
    fn ragged_rows_are_bad_input_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let e = Table::read(&path).err().unwrap();
        assert!(e.downcast_ref::<BadInput>().is_some());
        assert!(e.to_string().contains("t.csv:3: not a CSV row like the header"), "{e}");
    }
}
