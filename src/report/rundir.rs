//! A run directory as it grows: the manifest that says which run it holds, and `runs.csv`
//! streamed row by row so that an interrupted run keeps every finished replication.
//!
//! ```text
//! manifest.json      which run: scenario, input hash, seed, replications, shard I/N
//! runs.csv.partial   while running: the header, then whole rows in replication order
//! runs.csv           when done: the partial file, renamed
//! timeline.csv       written (atomically) before the row of its replication
//! summary.json       when done, summarized from runs.csv as written
//! ```
//!
//! A row is appended with one `write` of a whole line, and the file is fsynced at least
//! every [`SYNC_EVERY`] and at the end. A process killed at any point leaves whole rows (the
//! operating system keeps what was written); after a power loss the last line may be torn,
//! and [`RunsAppender::resume`] drops it. Nothing here reads the simulation's clock: the
//! wall clock only paces the fsyncs.

use super::atomic::write_atomically;
use super::output::RUNS_HEADER;
use crate::experiment::record::RunRecord;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const RUNS_FILE: &str = "runs.csv";
pub const RUNS_PARTIAL_FILE: &str = "runs.csv.partial";
pub const SUMMARY_FILE: &str = "summary.json";
pub const TIMELINE_FILE: &str = "timeline.csv";

/// The longest a finished row stays unsynced.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Shard `index` of `count`: a contiguous block of the replications (see [`Shard::range`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 ≤ I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text.split_once('/').ok_or_else(|| format!("`{text}` is not I/N (e.g. 0/4)"))?;
        let number = |s: &str| s.trim().parse::<u64>().map_err(|_| format!("`{text}` is not I/N (e.g. 0/4)"));
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 {
            return Err(format!("`{text}`: the shard count must be at least 1"));
        }
        if index >= count {
            return Err(format!("`{text}`: the shard index counts from 0, so it must be below {count}"));
        }
        Ok(Shard { index, count })
    }

    /// The replications of this shard: the contiguous block
    /// `⌊I·R/N⌋ .. ⌊(I+1)·R/N⌋`. The blocks of `0/N … (N−1)/N` are disjoint, in order, and
    /// cover `0..R`; their sizes differ by at most one (some are empty when `N > R`).
    pub fn range(self, replications: u64) -> std::ops::Range<u64> {
        let bound = |i: u64| (u128::from(i) * u128::from(replications) / u128::from(self.count)) as u64;
        bound(self.index)..bound(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `manifest.json`: which run a directory holds. Two directories hold results of the same
/// run exactly when their manifests are equal but for the shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The version of rollsim that wrote it (another may draw different numbers).
    pub rollsim_version: String,
    pub scenario: String,
    /// The scenario's input hash (`Scenario::input_hash`), as 16 hex digits.
    pub input_hash: String,
    pub seed: u64,
    /// Replications of the whole run (all shards).
    pub replications: u64,
    pub shard: Shard,
    /// The shard's replications, `[first, end)` (derived from the fields above).
    pub replication_range: [u64; 2],
}

impl Manifest {
    pub fn new(scenario: &str, input_hash: u64, seed: u64, replications: u64, shard: Shard) -> Manifest {
        let range = shard.range(replications);
        Manifest {
            rollsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario: scenario.to_owned(),
            input_hash: format!("{input_hash:016x}"),
            seed,
            replications,
            shard,
            replication_range: [range.start, range.end],
        }
    }

    /// This shard's replications.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.replication_range[0]..self.replication_range[1]
    }

    /// The first field in which `other` describes a different run (shards aside), as
    /// `(field, this value, other value)`.
    pub fn differs_from(&self, other: &Manifest) -> Option<(&'static str, String, String)> {
        let fields = [
            ("scenario", self.scenario.clone(), other.scenario.clone()),
            ("seed", self.seed.to_string(), other.seed.to_string()),
            ("replications", self.replications.to_string(), other.replications.to_string()),
            ("input_hash", self.input_hash.clone(), other.input_hash.clone()),
            ("rollsim_version", self.rollsim_version.clone(), other.rollsim_version.clone()),
        ];
        fields.into_iter().find(|(_, a, b)| a != b)
    }

    /// Reads `dir/manifest.json`; a manifest that does not parse, or whose range does not
    /// follow from its shard, is `InvalidData`.
    pub fn read(dir: &Path) -> io::Result<Manifest> {
        let text = fs::read_to_string(dir.join(MANIFEST_FILE))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{MANIFEST_FILE} does not parse: {e}"))
        })?;
        let shard = manifest.shard;
        if Shard::parse(&shard.to_string()).is_err() || manifest.range() != shard.range(manifest.replications)
        {
            let message =
                format!("{MANIFEST_FILE} is inconsistent (shard {shard}, range {:?})", manifest.range());
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(manifest)
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        write_atomically(&dir.join(MANIFEST_FILE), |w| w.write_all(text.as_bytes()))
    }
}

/// One `runs.csv` row, exactly as [`super::write_runs_csv`] writes it.
pub fn runs_row(record: &RunRecord) -> Vec<u8> {
    // `detected_by` carries an alert's name: guarded against spreadsheet formulas.
    let guard = super::csv_guard::FormulaGuard::new(Vec::new());
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(guard);
    csv.serialize(record).expect("a record serializes");
    let guard = csv.into_inner().map_err(|e| e.into_error()).expect("writing to memory cannot fail");
    guard.into_inner().expect("writing to memory cannot fail")
}

/// The header line of `runs.csv`.
fn runs_header() -> Vec<u8> {
    let mut line = RUNS_HEADER.join(",").into_bytes();
    line.push(b'\n');
    line
}

/// Parses a `runs.csv` text (header and whole rows) into records.
pub fn parse_runs(text: &[u8]) -> io::Result<Vec<RunRecord>> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let header = runs_header();
    if !text.starts_with(&header) {
        return Err(invalid("its header is not the runs.csv header of this rollsim version".into()));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text);
    let mut records = Vec::new();
    for (row, record) in reader.deserialize::<RunRecord>().enumerate() {
        records.push(record.map_err(|e| invalid(format!("row {}: {e}", row + 1)))?);
    }
    Ok(records)
}

/// Reads a finished `runs.csv`.
pub fn read_runs(path: &Path) -> io::Result<Vec<RunRecord>> {
    parse_runs(&fs::read(path)?)
}

/// Reads a finished `runs.csv` row by row, handing each record to `each` in file order and
/// holding only one at a time; returns the number of rows. The same checks and messages as
/// [`read_runs`].
pub fn replay_runs(path: &Path, mut each: impl FnMut(&RunRecord)) -> io::Result<u64> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut file = io::BufReader::new(File::open(path)?);
    let header = runs_header();
    let mut first = Vec::with_capacity(header.len());
    io::BufRead::read_until(&mut file, b'\n', &mut first)?;
    if first != header {
        return Err(invalid("its header is not the runs.csv header of this rollsim version".into()));
    }
    let names = csv::ByteRecord::from(RUNS_HEADER.to_vec());
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(file);
    let mut row = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut row).map_err(|e| invalid(format!("row {}: {e}", rows + 1)))? {
        let record: RunRecord =
            row.deserialize(Some(&names)).map_err(|e| invalid(format!("row {}: {e}", rows + 1)))?;
        rows += 1;
        each(&record);
    }
    Ok(rows)
}

/// Appends rows to `runs.csv.partial` and, when done, renames it to `runs.csv`.
pub struct RunsAppender {
    file: File,
    dir: PathBuf,
    rows: u64,
    synced_at: Instant,
}

impl RunsAppender {
    /// Starts `dir/runs.csv.partial` afresh with the header (replacing any earlier one
    /// atomically, so the file is never without its header).
    pub fn create(dir: &Path) -> io::Result<RunsAppender> {
        let path = dir.join(RUNS_PARTIAL_FILE);
        write_atomically(&path, |w| w.write_all(&runs_header()))?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(RunsAppender { file, dir: dir.to_path_buf(), rows: 0, synced_at: Instant::now() })
    }

    /// Opens an existing `dir/runs.csv.partial` to continue it: drops a torn last line (cut
    /// at the last line end), and returns the records it holds. `NotFound` if there is none.
    pub fn resume(dir: &Path) -> io::Result<(RunsAppender, Vec<RunRecord>)> {
        let path = dir.join(RUNS_PARTIAL_FILE);
        // Appending is the one write that is not a rename: never through a planted link.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symbolic link; rollsim does not write through one",
            ));
        }
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
        text.truncate(whole);
        let records = parse_runs(&text)?;
        if whole as u64 != file.metadata()?.len() {
            file.set_len(whole as u64)?;
            file.sync_all()?;
        }
        file.seek(io::SeekFrom::End(0))?;
        let appender = RunsAppender {
            file,
            dir: dir.to_path_buf(),
            rows: records.len() as u64,
            synced_at: Instant::now(),
        };
        Ok((appender, records))
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one whole row (one `write` call), fsyncing if the last sync is
    /// [`SYNC_EVERY`] old.
    pub fn append(&mut self, record: &RunRecord) -> io::Result<()> {
        self.file.write_all(&runs_row(record))?;
        self.rows += 1;
        if self.synced_at.elapsed() >= SYNC_EVERY {
            self.file.sync_data()?;
            self.synced_at = Instant::now();
        }
        Ok(())
    }

    /// Fsyncs the file and renames it to `runs.csv` (atomic), returning that path.
    pub fn finish(self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        drop(self.file);
        let target = self.dir.join(RUNS_FILE);
        fs::rename(self.dir.join(RUNS_PARTIAL_FILE), &target)?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::tests::sample_record;

    #[test]
    fn shards_are_contiguous_balanced_and_cover_everything() {
        for replications in [0, 1, 5, 7, 200] {
            for count in 1..=9 {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard { index, count }.range(replications);
                    assert_eq!(r.start, next);
                    assert!(r.end - r.start <= replications / count + 1);
                    assert!(r.end - r.start >= replications / count);
                    next = r.end;
                }
                assert_eq!(next, replications);
            }
        }
        assert_eq!(Shard { index: 1, count: 3 }.range(10), 3..6);
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appended_rows_are_write_runs_csv_bytes_and_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let mut records: Vec<RunRecord> = (0..5)
            .map(|i| sample_record(i, if i % 2 == 0 { Outcome::Completed } else { Outcome::RolledBack }))
            .collect();
        records[3].excess_failed_requests = -0.0;
        records[4].error_budget_pct = 1.0 / 3.0;
        records[4].extra_pod_seconds = 1e-300;
        let mut appender = RunsAppender::create(dir.path()).unwrap();
        for r in &records {
            appender.append(r).unwrap();
        }
        let path = appender.finish().unwrap();
        let expected = dir.path().join("expected.csv");
        super::super::write_runs_csv(&expected, &records).unwrap();
        assert_eq!(fs::read(&path).unwrap(), fs::read(&expected).unwrap());
        let back = read_runs(&path).unwrap();
        assert_eq!(back, records);
        // Bit for bit, -0.0 included.
        assert_eq!(back[3].excess_failed_requests.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn replayed_rows_are_the_rows_read() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<RunRecord> = (0..7)
            .map(|i| sample_record(i, if i % 3 == 0 { Outcome::Stalled } else { Outcome::RolledBack }))
            .collect();
        let path = dir.path().join(RUNS_FILE);
        super::super::write_runs_csv(&path, &records).unwrap();
        let mut back = Vec::new();
        assert_eq!(replay_runs(&path, |r| back.push(r.clone())).unwrap(), 7);
        assert_eq!(back, records);
        // A bad header and a bad row are refused as read_runs refuses them.
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replacen("replication", "replica", 1)).unwrap();
        let e = replay_runs(&path, |_| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("header"), "{e}");
        fs::write(&path, text.replacen("\n3,", "\nthree,", 1)).unwrap();
        let e = replay_runs(&path, |_| {}).unwrap_err();
        assert!(e.to_string().starts_with("row 4:"), "{e}");
        assert_eq!(read_runs(&path).unwrap_err().to_string().split(':').next(), Some("row 4"));
    }

    #[test]
    fn resume_drops_a_torn_line_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<RunRecord> = (0..3).map(|i| sample_record(i, Outcome::Completed)).collect();
        let mut appender = RunsAppender::create(dir.path()).unwrap();
        appender.append(&records[0]).unwrap();
        appender.append(&records[1]).unwrap();
        drop(appender);
        let path = dir.path().join(RUNS_PARTIAL_FILE);
        let row = runs_row(&records[2]);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&row[..row.len() / 2]).unwrap();
        drop(f);
        let (mut appender, kept) = RunsAppender::resume(dir.path()).unwrap();
        assert_eq!(kept, records[..2]);
        assert_eq!(appender.rows(), 2);
        appender.append(&records[2]).unwrap();
        assert_eq!(read_runs(&appender.finish().unwrap()).unwrap(), records);
    }

    #[test]
    fn manifests_round_trip_and_name_the_first_difference() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new("bad", 0xabc, 42, 10, Shard { index: 1, count: 3 });
        m.write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
        assert_eq!(m.range(), 3..6);
        assert_eq!(m.input_hash, "0000000000000abc");
        let other = Manifest::new("bad", 0xabc, 43, 10, Shard::WHOLE);
        assert_eq!(m.differs_from(&other), Some(("seed", "42".into(), "43".into())));
        assert_eq!(m.differs_from(&Manifest { shard: Shard::WHOLE, ..m.clone() }), None);
        fs::write(dir.path().join(MANIFEST_FILE), "{").unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
