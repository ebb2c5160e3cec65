//! Finding the results `merge` is given: a file is one result; a
//! directory stands for its own `result.json`, if it has one, and every
//! `*/result.json` one level down (a run's directory holds
//! `shard-I-of-N/result.json`), except under `merged/`, where the merge
//! Job writes the merged result. Each look reads the files afresh unless
//! unchanged since the last, so `merge --wait` can look every second.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::super::BadInput;
use crate::metrics::RunResult;

/// The subdirectory of a run's directory that a merge's output goes in:
/// never read as a shard.
pub(super) const MERGED_DIR: &str = "merged";

/// One result found.
pub(super) struct ResultFile {
    pub path: PathBuf,
    pub result: RunResult,
}

/// What the inputs hold at one look.
pub(super) struct Scan {
    /// The results read, in the order found (inputs in order; a
    /// directory's own result first, then its subdirectories by name).
    pub found: Vec<ResultFile>,
    /// Files that could not be read as a result, with why: a driver may
    /// still be writing one.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The inputs of `merge` and what was last read from each file.
pub(super) struct Finder {
    inputs: Vec<PathBuf>,
    /// The first directory given: where a missing shard is expected.
    pub dir: Option<PathBuf>,
    /// Per file: its modification time and length when read, and the
    /// result read.
    cache: HashMap<PathBuf, (Option<SystemTime>, u64, RunResult)>,
}

impl Finder {
    /// Refuses an input that is neither a file nor a directory, unless
    /// `waiting`: then an input not there yet is a run directory the
    /// drivers have yet to make (a merge Job starts beside them).
    pub fn new(inputs: &[PathBuf], waiting: bool) -> Result<Finder, BadInput> {
        for p in inputs {
            if !p.exists() && !waiting {
                return Err(BadInput(format!(
                    "{}: no such file or directory; give result.json files or a run's directory (DIR/RUN-ID, holding shard-I-of-N/result.json)",
                    p.display()
                )));
            }
        }
        Ok(Finder {
            inputs: inputs.to_vec(),
            dir: inputs.iter().find(|p| p.is_dir() || !p.exists()).cloned(),
            cache: HashMap::new(),
        })
    }

    /// Reads every result the inputs hold now.
    pub fn look(&mut self) -> Scan {
        let mut look = Scan {
            found: Vec::new(),
            unreadable: Vec::new(),
        };
        let files: Vec<PathBuf> = self.inputs.iter().flat_map(|p| files_of(p)).collect();
        for path in files {
            match self.read(&path) {
                Ok(result) => look.found.push(ResultFile { path, result }),
                Err(why) => look.unreadable.push((path, why)),
            }
        }
        look
    }

    /// The result in `path`, read again only when the file changed.
    fn read(&mut self, path: &Path) -> Result<RunResult, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp = (meta.modified().ok(), meta.len());
        if let Some((modified, len, r)) = self.cache.get(path)
            && (*modified, *len) == stamp
        {
            return Ok(r.clone());
        }
        let r = RunResult::load(path).map_err(|e| format!("{e:#}"))?;
        self.cache
            .insert(path.to_path_buf(), (stamp.0, stamp.1, r.clone()));
        Ok(r)
    }
}

/// The result files `input` stands for: itself when a file; a
/// directory's `result.json` and its subdirectories' (not `merged/`'s);
/// nothing while it is not there.
fn files_of(input: &Path) -> Vec<PathBuf> {
    if !input.exists() {
        return Vec::new();
    }
    if !input.is_dir() {
        return vec![input.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let own = input.join("result.json");
    if own.is_file() {
        files.push(own);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(input)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != MERGED_DIR))
        .collect();
    subdirs.sort();
    files.extend(
        subdirs
            .into_iter()
            .map(|d| d.join("result.json"))
            .filter(|f| f.is_file()),
    );
    files
}
