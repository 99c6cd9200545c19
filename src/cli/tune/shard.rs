//! `rollsim tune --shard I/N` and the merge of its directories.
//!
//! A tune directory holds `manifest.json` (a [`TuneManifest`]: which tune, which shard, which
//! settings), and, when finished, either `tune.csv` (the whole tune) or `tune-part.json` (a
//! shard: each of its settings' counts and detection times, floats in shortest round-trip
//! text). Shard `I/N` runs the contiguous block `⌊I·S/N⌋..⌊(I+1)·S/N⌋` of the S settings, each
//! with all its replications and the tune's seed, so a setting's runs are the very runs the
//! unsharded tune makes; the merge computes every figure from the same counts and times, in
//! the same order, and so writes the same bytes.

use super::super::Failure;
use super::super::merge::bad;
use crate::experiment::tune::SettingResult;
use crate::report::rundir::{MANIFEST_FILE, Shard};
use crate::report::write_atomically;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const TUNE_FILE: &str = "tune.csv";
pub const PART_FILE: &str = "tune-part.json";
/// The `kind` of a tune's manifest.
pub const KIND: &str = "tune";

/// `manifest.json` of a tune directory. Two directories hold shards of the same tune exactly
/// when their manifests are equal but for `shard` and `setting_range`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneManifest {
    /// Always `tune` (a run directory's manifest has no `kind`).
    pub kind: String,
    pub rollsim_version: String,
    pub scenario: String,
    /// The scenario's input hash with the command's `--set`, seed and replications.
    pub input_hash: String,
    pub seed: u64,
    /// Replications per setting and version.
    pub replications: u64,
    /// What is tuned, as the table's first line names it.
    pub title: String,
    /// The `detected_by` that counts as a detection.
    pub detector: String,
    /// `--false-alarm-budget`, in shortest round-trip text.
    pub false_alarm_budget: String,
    /// Every setting of the tune (all shards), as `(what, value)` pairs.
    pub settings: Vec<Vec<(String, String)>>,
    pub shard: Shard,
    /// This shard's settings, `[first, end)`.
    pub setting_range: [u64; 2],
}

impl TuneManifest {
    pub fn range(&self) -> std::ops::Range<usize> {
        self.setting_range[0] as usize..self.setting_range[1] as usize
    }

    pub fn budget(&self) -> f64 {
        self.false_alarm_budget.parse().unwrap_or(f64::NAN)
    }

    /// The same tune as a whole (shard 0/1).
    pub fn whole(&self) -> TuneManifest {
        TuneManifest { shard: Shard::WHOLE, setting_range: [0, self.settings.len() as u64], ..self.clone() }
    }

    /// The first field in which `other` is another tune (shards aside).
    fn differs_from(&self, other: &TuneManifest) -> Option<&'static str> {
        let a = TuneManifest { shard: Shard::WHOLE, setting_range: [0, 0], ..self.clone() };
        let b = TuneManifest { shard: Shard::WHOLE, setting_range: [0, 0], ..other.clone() };
        if a == b {
            return None;
        }
        [
            ("scenario", a.scenario != b.scenario),
            ("input_hash", a.input_hash != b.input_hash),
            ("seed", a.seed != b.seed),
            ("replications", a.replications != b.replications),
            ("what is tuned", a.title != b.title || a.detector != b.detector),
            ("settings", a.settings != b.settings),
            ("false_alarm_budget", a.false_alarm_budget != b.false_alarm_budget),
            ("rollsim_version", a.rollsim_version != b.rollsim_version),
        ]
        .into_iter()
        .find(|(_, differs)| *differs)
        .map(|(f, _)| f)
        .or(Some("manifest"))
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        write_atomically(&dir.join(MANIFEST_FILE), |w| w.write_all(text.as_bytes()))
    }

    fn read(dir: &Path) -> Result<TuneManifest, String> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{} is not a tune directory (no {MANIFEST_FILE})", dir.display())
            }
            _ => format!("{}: {e}", path.display()),
        })?;
        let m: TuneManifest = serde_json::from_str(&text).map_err(|e| {
            if is_tune(&text) {
                format!("{}: does not parse: {e}", path.display())
            } else {
                format!("{} is not a tune directory (its {MANIFEST_FILE} is not a tune's)", dir.display())
            }
        })?;
        let range = m.shard.range(m.settings.len() as u64);
        if Shard::parse(&m.shard.to_string()).is_err() || m.setting_range != [range.start, range.end] {
            return Err(format!(
                "{}: inconsistent (shard {}, setting_range {:?})",
                path.display(),
                m.shard,
                m.setting_range
            ));
        }
        Ok(m)
    }
}

fn is_tune(manifest_text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(manifest_text)
        .is_ok_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some(KIND))
}

/// Whether `dir` holds a tune (its manifest says `"kind": "tune"`): what `rollsim merge`
/// dispatches on.
pub fn is_tune_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(MANIFEST_FILE)).is_ok_and(|t| is_tune(&t))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Part {
    results: Vec<PartRow>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartRow {
    /// The setting's index in the manifest's `settings`.
    setting: usize,
    faulty: usize,
    healthy: usize,
    alarms: usize,
    /// Detection times, `{:?}` of each f64 (exact when read back).
    caught: Vec<String>,
}

/// Writes a shard's results (settings `first..`) to `dir/tune-part.json`, atomically.
pub fn write_part(dir: &Path, first: usize, results: &[SettingResult]) -> std::io::Result<()> {
    let part = Part {
        results: results
            .iter()
            .enumerate()
            .map(|(i, r)| PartRow {
                setting: first + i,
                faulty: r.faulty,
                healthy: r.healthy,
                alarms: r.alarms,
                caught: r.caught.iter().map(|t| format!("{t:?}")).collect(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&part).expect("serializes");
    text.push('\n');
    write_atomically(&dir.join(PART_FILE), |w| w.write_all(text.as_bytes()))
}

struct ShardDir {
    dir: PathBuf,
    manifest: TuneManifest,
    results: Vec<SettingResult>,
}

fn read_shard(dir: &Path) -> Result<ShardDir, Failure> {
    let manifest = TuneManifest::read(dir).map_err(bad)?;
    let path = dir.join(PART_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if dir.join(TUNE_FILE).is_file() => bad(format!(
            "{} holds a whole tune, not a shard (it was run without --shard): nothing to merge",
            dir.display()
        )),
        std::io::ErrorKind::NotFound => bad(format!(
            "{}: tune shard {} is unfinished (no {PART_FILE}): run it again",
            dir.display(),
            manifest.shard
        )),
        _ => bad(format!("{}: {e}", path.display())),
    })?;
    let part: Part =
        serde_json::from_str(&text).map_err(|e| bad(format!("{}: does not parse: {e}", path.display())))?;
    let range = manifest.range();
    let indices: Vec<usize> = part.results.iter().map(|r| r.setting).collect();
    if indices != range.clone().collect::<Vec<_>>() {
        return Err(bad(format!(
            "{}: holds settings {indices:?}, but shard {} has settings {}..{}",
            path.display(),
            manifest.shard,
            range.start,
            range.end
        )));
    }
    let mut results = Vec::with_capacity(part.results.len());
    for row in part.results {
        let caught = row
            .caught
            .iter()
            .map(|t| t.parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| bad(format!("{}: setting {}: {e}", path.display(), row.setting)))?;
        if row.faulty as u64 != manifest.replications
            || row.healthy as u64 != manifest.replications
            || caught.len() > row.faulty
            || row.alarms > row.healthy
        {
            return Err(bad(format!(
                "{}: setting {}: counts do not fit {} replications",
                path.display(),
                row.setting,
                manifest.replications
            )));
        }
        results.push(SettingResult {
            setting: manifest.settings[row.setting].clone(),
            faulty: row.faulty,
            caught,
            healthy: row.healthy,
            alarms: row.alarms,
        });
    }
    Ok(ShardDir { dir: dir.to_path_buf(), manifest, results })
}

/// `rollsim merge` of tune shard directories: checks they are every shard of one tune, once
/// each, and writes what the unsharded tune writes (and prints its table).
pub fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<(), Failure> {
    let mut shards = Vec::with_capacity(dirs.len());
    for dir in dirs {
        shards.push(read_shard(dir)?);
    }
    let first = &shards[0];
    for s in &shards[1..] {
        if let Some(field) = first.manifest.differs_from(&s.manifest) {
            return Err(bad(format!(
                "{} and {} are shards of different tunes ({field} differs)",
                first.dir.display(),
                s.dir.display()
            )));
        }
    }
    let cover: Vec<(&Path, Shard)> = shards.iter().map(|s| (s.dir.as_path(), s.manifest.shard)).collect();
    super::super::merge::check_cover(&cover, "tune")?;
    shards.sort_by_key(|s| s.manifest.shard.index);
    let manifest = shards[0].manifest.whole();
    let out_dir = out.map(Path::to_path_buf).unwrap_or_else(|| super::default_out(&manifest.scenario));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(s) = shards.iter().find(|s| same(&s.dir, &out_dir)) {
        return Err(bad(format!("--out {} is one of the shards: give another directory", s.dir.display())));
    }
    eprintln!(
        "rollsim: merging {} tune shards of {} ({} settings); results go to {}",
        shards.len(),
        manifest.scenario,
        manifest.settings.len(),
        out_dir.display()
    );
    // The scenario in brief, for `rollsim report` (every shard writes the same one).
    let brief_file = crate::report::html::BRIEF_FILE;
    let brief = std::fs::read(shards[0].dir.join(brief_file)).ok();
    let results: Vec<SettingResult> = shards.into_iter().flat_map(|s| s.results).collect();
    assert_eq!(results.len(), manifest.settings.len(), "the shards cover the tune");
    super::prepare_out(&out_dir)?;
    if let Some(bytes) = brief {
        let path = out_dir.join(brief_file);
        write_atomically(&path, |w| w.write_all(&bytes)).map_err(|e| Failure {
            code: if crate::report::outdir::user_error(&e) { 2 } else { 1 },
            message: format!("error: cannot write {}: {e}", path.display()),
        })?;
    }
    super::finish(&out_dir, &manifest, &results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_reads_back_to_the_same_results() {
        let dir = tempfile::tempdir().unwrap();
        let settings = vec![
            vec![("failure_limit".to_owned(), "0".to_owned())],
            vec![("failure_limit".to_owned(), "1".to_owned())],
        ];
        let manifest = TuneManifest {
            kind: KIND.into(),
            rollsim_version: "x".into(),
            scenario: "s".into(),
            input_hash: "0".into(),
            seed: 1,
            replications: 3,
            title: "t".into(),
            detector: "analysis:m".into(),
            false_alarm_budget: "0.05".into(),
            settings: settings.clone(),
            shard: Shard { index: 1, count: 2 },
            setting_range: [1, 2],
        };
        manifest.write(dir.path()).unwrap();
        assert!(is_tune_dir(dir.path()));
        // Times that a lossy float parser would not give back exactly.
        let caught = vec![0.1 + 0.2, 1.0 / 3.0, 128.8 + 1e-13];
        let result = SettingResult { setting: settings[1].clone(), faulty: 3, caught, healthy: 3, alarms: 1 };
        write_part(dir.path(), 1, std::slice::from_ref(&result)).unwrap();
        let shard = read_shard(dir.path()).unwrap();
        assert_eq!(shard.manifest, manifest);
        assert_eq!(shard.results, [result]);
        assert_eq!(shard.manifest.whole().setting_range, [0, 2]);
    }
}
