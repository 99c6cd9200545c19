//! A scenario's input: the files it is read from (`FILE`, `-f PATH…`, `-f -`,
//! `--simulation FILE`), read once into memory so that every load (variants, grid points,
//! tune candidates) reads the same bytes.
//!
//! Like `kubectl apply -f`, a directory stands for its `*.yaml`, `*.yml` and `*.json` files
//! (not its subdirectories), in the byte order of their names; `-` is standard input, read
//! once. Files are read as one stream of documents in the order given.

use super::diagnostic::{Pos, ScenarioError, Sources};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What diagnostics call standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// One file of a scenario: its name (as messages call it) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub text: String,
}

/// The files of one scenario, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    pub parts: Vec<Part>,
    /// The name of the `--simulation` file, when the last part is one: a missing Simulation
    /// is then that file's problem.
    pub simulation_from: Option<String>,
}

impl Input {
    /// A scenario of one text.
    pub fn one(name: &str, text: &str) -> Input {
        Input { parts: vec![Part { name: name.to_string(), text: text.to_string() }], simulation_from: None }
    }

    /// Reads `paths` (files, directories, `-`) and then `simulation`, if given.
    pub fn read(paths: &[PathBuf], simulation: Option<&Path>) -> Result<Input, ScenarioError> {
        let mut parts = Vec::new();
        let mut diagnostics = Vec::new();
        let mut stdin_read = false;
        for path in paths {
            if path.as_os_str() == "-" {
                if std::mem::replace(&mut stdin_read, true) {
                    diagnostics.push(problem(
                        STDIN_NAME,
                        "`-f -` is given twice",
                        "standard input can be read once; give `-f -` once",
                    ));
                    continue;
                }
                match read_bounded(std::io::stdin().lock(), None) {
                    Ok(bytes) => push_text(STDIN_NAME, bytes, &mut parts, &mut diagnostics),
                    Err(e) => diagnostics.push(problem(
                        STDIN_NAME,
                        &format!("cannot read standard input: {e}"),
                        "pipe the manifests in, e.g. `kustomize build . | rollsim run -f - --simulation sim.yaml`",
                    )),
                }
            } else if path.is_dir() {
                match directory_files(path) {
                    Ok(files) if files.is_empty() => diagnostics.push(problem(
                        &path.display().to_string(),
                        "this directory has no *.yaml, *.yml or *.json file",
                        "`-f DIR` reads the manifest files directly in DIR (not in its subdirectories)",
                    )),
                    Ok(files) => {
                        for file in files {
                            read_path(&file, &mut parts, &mut diagnostics);
                        }
                    }
                    Err(e) => diagnostics.push(problem(
                        &path.display().to_string(),
                        &format!("cannot read the directory: {e}"),
                        "check the path and its permissions",
                    )),
                }
            } else {
                read_path(path, &mut parts, &mut diagnostics);
            }
        }
        let simulation_from = simulation.map(|p| p.display().to_string());
        if let Some(path) = simulation {
            read_path(path, &mut parts, &mut diagnostics);
        }
        if diagnostics.is_empty() {
            Ok(Input { parts, simulation_from })
        } else {
            Err(ScenarioError { diagnostics })
        }
    }

    /// The name of the first file, for messages about the whole scenario.
    pub fn label(&self) -> &str {
        self.parts.first().map_or("", |p| p.name.as_str())
    }
}

/// The manifest files directly in `dir`, by name (byte order), as `kubectl apply -f DIR`
/// takes them.
pub fn directory_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let manifest =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// The largest scenario file rollsim reads (16 MiB; the shipped ones are a few kB). A larger
/// file is refused before it is read, so memory stays bounded.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// All of `reader`'s bytes, or an error if it holds more than [`MAX_FILE_BYTES`]: `size`, when
/// known (a regular file), refuses before reading; otherwise (a pipe) at most one byte more
/// than the limit is read.
fn read_bounded(reader: impl std::io::Read, size: Option<u64>) -> std::io::Result<Vec<u8>> {
    let too_large = |size: String| {
        std::io::Error::other(format!(
            "it is {size}, more than the {} MiB a scenario may be (a scenario is a few kB of YAML)",
            MAX_FILE_BYTES >> 20
        ))
    };
    if let Some(len) = size
        && len > MAX_FILE_BYTES
    {
        return Err(too_large(format!("{len} bytes")));
    }
    let mut bytes = Vec::new();
    reader.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large("larger".to_string()));
    }
    Ok(bytes)
}

fn read_file_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    read_bounded(file, size)
}

fn read_path(path: &Path, parts: &mut Vec<Part>, diagnostics: &mut Vec<super::Diagnostic>) {
    let name = path.display().to_string();
    match read_file_bounded(path) {
        Ok(bytes) => push_text(&name, bytes, parts, diagnostics),
        Err(e) => diagnostics.push(problem(
            &name,
            &format!("cannot read the scenario file: {e}"),
            "check the path; `rollsim validate FILE` takes a YAML file with your manifests and a Simulation",
        )),
    }
}

fn push_text(name: &str, bytes: Vec<u8>, parts: &mut Vec<Part>, diagnostics: &mut Vec<super::Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(text) => parts.push(Part { name: name.to_string(), text }),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let prefix = String::from_utf8_lossy(valid);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let sources = Sources::new(name, &prefix, Vec::new());
            let pos = Pos {
                src: 0,
                line: line as u32,
                col: column as u32,
                end_line: line as u32,
                end_col: column as u32 + 1,
            };
            let mut d = sources.diagnostic(pos, "the scenario file is not valid UTF-8".into());
            d.label("invalid byte here").help("save the file as UTF-8");
            diagnostics.push(d);
        }
    }
}

fn problem(name: &str, message: &str, help: &str) -> super::Diagnostic {
    let sources = Sources::new(name, "", Vec::new());
    let mut d = sources.diagnostic(Pos::default(), message.to_string());
    d.help(help);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_its_manifest_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a.yml", "c.json", "README.md", "z.yaml.bak"] {
            std::fs::write(dir.path().join(name), format!("# {name}\n")).unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
        let files = directory_files(dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["a.yml", "b.yaml", "c.json"]);

        let sim = dir.path().join("README.md");
        let input = Input::read(&[dir.path().to_path_buf()], Some(&sim)).unwrap();
        let texts: Vec<&str> = input.parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["# a.yml\n", "# b.yaml\n", "# c.json\n", "# README.md\n"]);
        assert_eq!(input.simulation_from.as_deref(), Some(sim.display().to_string().as_str()));
    }

    #[test]
    fn unreadable_paths_are_each_reported() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let missing = dir.path().join("missing.yaml");
        let e = Input::read(&[empty, missing], None).unwrap_err();
        assert_eq!(e.diagnostics.len(), 2, "{e}");
        assert!(e.diagnostics[0].message.contains("no *.yaml"), "{e}");
        assert!(e.diagnostics[1].message.starts_with("cannot read the scenario file"), "{e}");
    }
}
