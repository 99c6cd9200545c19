//! A sweep's shard directory, and the per-point summaries read back from shards.
//!
//! A sweep's work is its **items**: every replication of every grid point, point by point
//! (point 0's replications first), numbered `0..W` with W the sum of the points'
//! replications. `rollsim sweep --shard I/N` runs the contiguous block of items
//! `⌊I·W/N⌋ .. ⌊(I+1)·W/N⌋`, so shards differ in size by at most one replication whatever
//! the grid, and writes:
//!
//! ```text
//! manifest.json           which sweep: kind "sweep", scenario, seed, the axes and their
//!                         values, each point's name, seed, replications and input hash,
//!                         shard I/N and its item range
//! sweep-runs.csv.partial  while running: the header, then `point,` + the runs.csv row
//! sweep-runs.csv          when done: the partial file, renamed
//! ```
//!
//! [`summarize_points`] reads the shards' rows back point by point (a point's rows may lie
//! in several consecutive shards) and summarizes each with `summarize_replayed`, holding
//! one row at a time; an unsharded sweep writes the same rows to a scratch file and
//! summarizes them by the same code, so `sweep.csv` of a merge is the unsharded bytes.

use super::atomic::write_atomically;
use super::output::RUNS_HEADER;
use super::rundir::{MANIFEST_FILE, Shard, runs_row};
use crate::experiment::record::RunRecord;
use crate::experiment::stats::{SummaryTable, summarize_replayed};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const SWEEP_RUNS_FILE: &str = "sweep-runs.csv";
pub const SWEEP_RUNS_PARTIAL_FILE: &str = "sweep-runs.csv.partial";
/// What `kind` says in a sweep's manifest.
pub const SWEEP_KIND: &str = "sweep";

/// One axis of the grid: its path and its values as typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepAxis {
    pub path: String,
    pub values: Vec<String>,
}

/// One grid point as loaded: what its summary is labelled with and how many replications
/// it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPointInfo {
    pub scenario: String,
    pub seed: u64,
    pub replications: u64,
    /// `Scenario::input_hash` of the point, as 16 hex digits.
    pub input_hash: String,
}

/// `manifest.json` of a sweep shard. Two shards belong to one sweep exactly when their
/// manifests are equal but for `shard` and `item_range`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepManifest {
    /// Always [`SWEEP_KIND`]: what tells a sweep's shard from a run's.
    pub kind: String,
    pub rollsim_version: String,
    /// The first point's scenario name (the sweep's title).
    pub scenario: String,
    /// The first point's seed (the sweep's title).
    pub seed: u64,
    pub axes: Vec<SweepAxis>,
    /// Every grid point in order (first axis slowest).
    pub points: Vec<SweepPointInfo>,
    pub shard: Shard,
    /// This shard's items, `[first, end)`.
    pub item_range: [u64; 2],
}

impl SweepManifest {
    pub fn new(axes: Vec<SweepAxis>, points: Vec<SweepPointInfo>, shard: Shard) -> SweepManifest {
        assert!(!points.is_empty(), "a sweep has a grid point");
        let items: u64 = points.iter().map(|p| p.replications).sum();
        let range = shard.range(items);
        SweepManifest {
            kind: SWEEP_KIND.to_owned(),
            rollsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario: points[0].scenario.clone(),
            seed: points[0].seed,
            axes,
            points,
            shard,
            item_range: [range.start, range.end],
        }
    }

    /// Replications of all points.
    pub fn items(&self) -> u64 {
        self.points.iter().map(|p| p.replications).sum()
    }

    /// This shard's items.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.item_range[0]..self.item_range[1]
    }

    /// The replications of each point that lie in `items`, as `(point, replications)`, in
    /// order; points without any are left out.
    pub fn blocks(&self, items: std::ops::Range<u64>) -> Vec<(usize, std::ops::Range<u64>)> {
        let mut blocks = Vec::new();
        let mut start = 0;
        for (k, p) in self.points.iter().enumerate() {
            let end = start + p.replications;
            let (a, b) = (items.start.max(start), items.end.min(end));
            if a < b {
                blocks.push((k, a - start..b - start));
            }
            start = end;
        }
        blocks
    }

    /// The first field in which `other` describes a different sweep (shards aside), as
    /// `(field, this value, other value)`.
    pub fn differs_from(&self, other: &SweepManifest) -> Option<(&'static str, String, String)> {
        let axes = |m: &SweepManifest| {
            let a: Vec<String> =
                m.axes.iter().map(|a| format!("{}={}", a.path, a.values.join(","))).collect();
            a.join(" ")
        };
        let points = |m: &SweepManifest| {
            let p: Vec<String> = m
                .points
                .iter()
                .map(|p| format!("{}/{}/{}/{}", p.scenario, p.seed, p.replications, p.input_hash))
                .collect();
            p.join(" ")
        };
        let fields = [
            ("scenario", self.scenario.clone(), other.scenario.clone()),
            ("seed", self.seed.to_string(), other.seed.to_string()),
            ("grid", axes(self), axes(other)),
            ("grid points (name/seed/replications/input hash)", points(self), points(other)),
            ("rollsim_version", self.rollsim_version.clone(), other.rollsim_version.clone()),
        ];
        fields.into_iter().find(|(_, a, b)| a != b)
    }

    /// Reads `dir/manifest.json` as a sweep's; one that does not parse, is not a sweep's, or
    /// whose range does not follow from its shard is `InvalidData`.
    pub fn read(dir: &Path) -> io::Result<SweepManifest> {
        let text = fs::read_to_string(dir.join(MANIFEST_FILE))?;
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
        let manifest: SweepManifest = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("{MANIFEST_FILE} does not parse as a sweep's: {e}")))?;
        let shard = manifest.shard;
        if manifest.kind != SWEEP_KIND
            || manifest.points.is_empty()
            || Shard::parse(&shard.to_string()).is_err()
            || manifest.range() != shard.range(manifest.items())
        {
            return Err(invalid(format!(
                "{MANIFEST_FILE} is inconsistent (kind {}, shard {shard}, items {:?})",
                manifest.kind,
                manifest.range()
            )));
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

/// Whether `dir/manifest.json` is a sweep's (says `"kind": "sweep"`), for `rollsim merge`
/// to tell what it merges. `false` for a run's manifest, which has no `kind`.
pub fn is_sweep_dir(dir: &Path) -> io::Result<bool> {
    let text = fs::read_to_string(dir.join(MANIFEST_FILE))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{MANIFEST_FILE} does not parse: {e}"))
    })?;
    Ok(value.get("kind").and_then(|k| k.as_str()) == Some(SWEEP_KIND))
}

/// The header line of `sweep-runs.csv`.
fn header() -> Vec<u8> {
    let mut line = b"point,".to_vec();
    line.extend_from_slice(RUNS_HEADER.join(",").as_bytes());
    line.push(b'\n');
    line
}

/// Appends a sweep's rows to a file (`point,` + the runs.csv row), one `write` per row.
pub struct SweepRowsWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
}

impl SweepRowsWriter {
    /// Starts `path` afresh with the header.
    pub fn create(path: &Path) -> io::Result<SweepRowsWriter> {
        write_atomically(path, |w| w.write_all(&header()))?;
        let file = io::BufWriter::new(OpenOptions::new().append(true).open(path)?);
        Ok(SweepRowsWriter { file, path: path.to_path_buf() })
    }

    pub fn append(&mut self, point: usize, record: &RunRecord) -> io::Result<()> {
        let mut line = format!("{point},").into_bytes();
        line.extend_from_slice(&runs_row(record));
        self.file.write_all(&line)
    }

    /// Flushes and fsyncs the file; with `rename_to`, renames it there (atomic).
    pub fn finish(self, rename_to: Option<&Path>) -> io::Result<()> {
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        if let Some(target) = rename_to {
            fs::rename(&self.path, target)?;
        }
        Ok(())
    }
}

/// Where one point's rows lie in one file: bytes `start..end`.
#[derive(Clone, Debug)]
struct Segment {
    file: usize,
    start: u64,
    end: u64,
}

/// Reads back the rows of `files` (each a `sweep-runs.csv` holding the items `ranges[i]` of
/// the sweep `manifest`, together every item once, in order) and summarizes each grid
/// point, labelled with its scenario name and seed. A file whose rows are not exactly its
/// items in order is `InvalidData`, naming the file and row. Memory grows with the points,
/// not the replications.
pub fn summarize_points(
    manifest: &SweepManifest,
    files: &[(PathBuf, std::ops::Range<u64>)],
) -> io::Result<Vec<SummaryTable>> {
    let mut next = 0;
    for (path, items) in files {
        if items.start != next {
            let m = format!("{}: items {items:?} do not follow item {next}", path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidData, m));
        }
        next = items.end;
    }
    if next != manifest.items() {
        let m = format!("the files hold items 0..{next} of the sweep's {}", manifest.items());
        return Err(io::Error::new(io::ErrorKind::InvalidData, m));
    }
    let mut segments: Vec<Vec<Segment>> = vec![Vec::new(); manifest.points.len()];
    for (f, (path, items)) in files.iter().enumerate() {
        let invalid =
            |m: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {m}", path.display()));
        let mut reader = io::BufReader::new(File::open(path)?);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        if line != header() {
            return Err(invalid(
                "its header is not the sweep-runs.csv header of this rollsim version".into(),
            ));
        }
        let mut offset = line.len() as u64;
        let mut blocks = manifest.blocks(items.clone()).into_iter();
        let mut current: Option<(usize, std::ops::Range<u64>)> = blocks.next();
        let mut row = 0u64;
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            row += 1;
            if line.last() != Some(&b'\n') {
                return Err(invalid(format!("row {row} is cut short")));
            }
            let mut fields = line.splitn(3, |&b| b == b',');
            let number = |f: Option<&[u8]>| f.and_then(|f| std::str::from_utf8(f).ok()?.parse::<u64>().ok());
            let (point, replication) = (number(fields.next()), number(fields.next()));
            let want = loop {
                match &mut current {
                    Some((_, reps)) if reps.is_empty() => current = blocks.next(),
                    Some((p, reps)) => break Some((*p, reps.start)),
                    None => break None,
                }
            };
            let Some((p, r)) = want else {
                return Err(invalid(format!(
                    "row {row}: more rows than the shard's {} items",
                    items.end - items.start
                )));
            };
            if point != Some(p as u64) || replication != Some(r) {
                return Err(invalid(format!("row {row} is not point {p}, replication {r}")));
            }
            if let Some((_, reps)) = &mut current {
                reps.start += 1;
            }
            let end = offset + read as u64;
            match segments[p].last_mut() {
                Some(s) if s.file == f && s.end == offset => s.end = end,
                _ => segments[p].push(Segment { file: f, start: offset, end }),
            }
            offset = end;
        }
        if current.is_some_and(|(_, reps)| !reps.is_empty()) || blocks.next().is_some() {
            return Err(invalid(format!("{row} rows, but the shard has {} items", items.end - items.start)));
        }
    }
    let names = {
        let mut n = vec!["point"];
        n.extend(RUNS_HEADER);
        csv::ByteRecord::from(n)
    };
    let mut tables = Vec::with_capacity(manifest.points.len());
    for (info, segments) in manifest.points.iter().zip(&segments) {
        let table = summarize_replayed(|see| {
            for s in segments {
                let path = &files[s.file].0;
                let mut file = File::open(path)?;
                file.seek(io::SeekFrom::Start(s.start))?;
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(io::BufReader::new(file.take(s.end - s.start)));
                let mut row = csv::ByteRecord::new();
                while reader.read_byte_record(&mut row).map_err(io::Error::other)? {
                    let record: RunRecord = row.deserialize(Some(&names)).map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                    })?;
                    see(&record);
                }
            }
            Ok::<(), io::Error>(())
        })?;
        tables.push(table.with_scenario(&info.scenario, info.seed));
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::Outcome;
    use crate::experiment::stats::summarize_runs;
    use crate::experiment::stats::tests::sample_record;

    fn manifest(reps: &[u64], shard: Shard) -> SweepManifest {
        let axes = vec![SweepAxis { path: "spec.traffic.rps".into(), values: vec!["1".into(); reps.len()] }];
        let points = reps
            .iter()
            .enumerate()
            .map(|(k, &replications)| SweepPointInfo {
                scenario: format!("s{k}"),
                seed: 40 + k as u64,
                replications,
                input_hash: format!("{k:016x}"),
            })
            .collect();
        SweepManifest::new(axes, points, shard)
    }

    #[test]
    fn blocks_cut_items_into_points() {
        let m = manifest(&[3, 0, 4], Shard::WHOLE);
        assert_eq!(m.items(), 7);
        assert_eq!(m.blocks(0..7), vec![(0, 0..3), (2, 0..4)]);
        assert_eq!(m.blocks(2..5), vec![(0, 2..3), (2, 0..2)]);
        assert_eq!(m.blocks(3..3), vec![]);
        let shard = manifest(&[3, 0, 4], Shard { index: 1, count: 3 });
        assert_eq!(shard.range(), 2..4);
    }

    #[test]
    fn shards_read_back_to_the_points_summaries() {
        let reps = [5u64, 1, 0, 1_200];
        let records: Vec<Vec<RunRecord>> = reps
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                (0..n)
                    .map(|i| {
                        let mut r = sample_record(
                            i,
                            if (i + k as u64).is_multiple_of(3) {
                                Outcome::RolledBack
                            } else {
                                Outcome::Completed
                            },
                        );
                        r.error_budget_pct = ((i * 7919 + k as u64) % 1013) as f64 / 3.0;
                        r
                    })
                    .collect()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for count in [1u64, 2, 3, 7] {
            let whole = manifest(&reps, Shard::WHOLE);
            let mut files = Vec::new();
            for index in 0..count {
                let m = manifest(&reps, Shard { index, count });
                let path = dir.path().join(format!("{count}-{index}.csv"));
                let mut w = SweepRowsWriter::create(&path).unwrap();
                for (point, range) in m.blocks(m.range()) {
                    for i in range {
                        w.append(point, &records[point][i as usize]).unwrap();
                    }
                }
                w.finish(None).unwrap();
                files.push((path, m.range()));
            }
            let tables = summarize_points(&whole, &files).unwrap();
            assert_eq!(tables.len(), reps.len());
            for (k, t) in tables.iter().enumerate() {
                let expected = summarize_runs(&records[k]).with_scenario(format!("s{k}"), 40 + k as u64);
                assert_eq!(format!("{t:?}"), format!("{expected:?}"), "{count} shards, point {k}");
            }
            if count == 3 {
                // The shards out of order, or one missing, are refused.
                files.swap(0, 1);
                let e = summarize_points(&whole, &files).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                assert!(e.to_string().contains("do not follow item 0"), "{e}");
                files.swap(0, 1);
                files.pop();
                let e = summarize_points(&whole, &files).unwrap_err();
                assert!(e.to_string().contains("of the sweep's 1206"), "{e}");
            }
        }
    }

    #[test]
    fn manifests_round_trip_and_name_the_first_difference() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(&[2, 2], Shard { index: 1, count: 2 });
        m.write(dir.path()).unwrap();
        assert!(is_sweep_dir(dir.path()).unwrap());
        assert_eq!(SweepManifest::read(dir.path()).unwrap(), m);
        let mut other = manifest(&[2, 3], Shard::WHOLE);
        assert_eq!(
            other.differs_from(&m).map(|d| d.0),
            Some("grid points (name/seed/replications/input hash)")
        );
        other = manifest(&[2, 2], Shard::WHOLE);
        assert_eq!(other.differs_from(&m), None);
        super::super::rundir::Manifest::new("x", 1, 2, 3, Shard::WHOLE).write(dir.path()).unwrap();
        assert!(!is_sweep_dir(dir.path()).unwrap());
        assert_eq!(SweepManifest::read(dir.path()).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
