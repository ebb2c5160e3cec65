//! The start barrier (`run --start-at barrier[+LEAD]`): the N drivers of a
//! run agree on a start through files in the run's directory, with no
//! server and no clock but the wall clock each driver reads.
//!
//! When a driver is ready (load done, connections made) it writes
//! `ready/shard-I-of-N` in the run's directory, holding the Unix
//! microseconds at which it was ready; it writes a temporary file and
//! renames it, so a reader sees the whole file or none. Then it looks at
//! the directory every [`POLL`] until all N files are there: the start is
//! the latest ready time plus the lead, the same instant for every driver
//! whatever the order they see the files in. The lead covers the drivers'
//! polling and the spread of their clocks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::super::{Interrupt, Shard};
use super::StartError;
use crate::vocab::files::write_atomic;

/// How often a driver looks for the others' ready files.
pub const POLL: Duration = Duration::from_millis(50);

/// This driver's part in a barrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barrier {
    /// The run's directory (`DIR/RUN-ID`); the ready files go in its
    /// `ready/`.
    pub dir: PathBuf,
    pub shard: Shard,
    /// How long after the last driver is ready they all start.
    pub lead: Duration,
    /// How long to wait for the others before giving up.
    pub timeout: Duration,
}

impl Barrier {
    /// The directory of the ready files.
    pub fn ready_dir(&self) -> PathBuf {
        self.dir.join("ready")
    }

    /// This driver's ready file.
    pub fn ready_file(&self) -> PathBuf {
        self.ready_dir().join(self.shard.file_name())
    }

    /// Says this driver is ready (at `ready_unix_us`) and waits for the
    /// others: the agreed start, Unix microseconds, or `None` when the
    /// interrupt fired first.
    pub(super) async fn meet(
        &self,
        ready_unix_us: i64,
        interrupt: &Interrupt,
    ) -> Result<Option<i64>, StartError> {
        let dir = self.ready_dir();
        self.announce(ready_unix_us)?;
        let deadline = Instant::now() + self.timeout;
        let mut said = false;
        loop {
            let seen = scan(&dir, self.shard.count)?;
            let missing = match agreed_start(&seen, self.lead) {
                Ok(at) => return Ok(Some(at)),
                Err(missing) => missing,
            };
            if !said {
                eprintln!(
                    "start: waiting for {} more driver(s) (shard {} is ready; ready files in {})",
                    missing.len(),
                    label(self.shard),
                    dir.display()
                );
                said = true;
            }
            if interrupt.fired() {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StartError::Timeout {
                    missing: missing.into_iter().map(label).collect(),
                    after: self.timeout,
                    dir: dir.display().to_string(),
                });
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }

    /// Writes this driver's ready file, atomically; refuses one that is
    /// there already.
    fn announce(&self, ready_unix_us: i64) -> Result<(), StartError> {
        let dir = self.ready_dir();
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let file = self.ready_file();
        if file.exists() {
            return Err(StartError::AlreadyReady {
                path: file.display().to_string(),
                shard: label(self.shard),
            });
        }
        write_atomic(&file, format!("{ready_unix_us}\n").as_bytes()).map_err(|e| io(&file, e))
    }
}

/// The start the ready times agree on: the latest plus `lead`; or, while
/// some are missing, the missing shards.
pub fn agreed_start(ready: &[Option<i64>], lead: Duration) -> Result<i64, Vec<Shard>> {
    let count = ready.len() as u32;
    let missing: Vec<Shard> = (0..count)
        .filter(|&i| ready[i as usize].is_none())
        .map(|index| Shard { index, count })
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let last = ready.iter().flatten().copied().max().unwrap_or(0);
    Ok(last + i64::try_from(lead.as_micros()).unwrap_or(i64::MAX / 2))
}

/// The ready times in `dir` of the `count` shards, by shard (`None`: not
/// ready yet). A missing directory is no driver ready.
pub fn scan(dir: &Path, count: u32) -> Result<Vec<Option<i64>>, StartError> {
    let mut ready = vec![None; count as usize];
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ready),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let file_name = entry.file_name();
        let Some((i, n)) = file_name.to_str().and_then(parse_name) else {
            continue;
        };
        let path = entry.path();
        let foreign = |why: String| StartError::Foreign {
            path: path.display().to_string(),
            why,
        };
        if n != count || i == 0 || i > n {
            return Err(foreign(format!(
                "a ready file of shard {i}/{n}, but this driver is one of {count}"
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let at = text.trim().parse::<i64>().map_err(|_| {
            foreign(format!(
                "holds '{}', not the Unix microseconds a driver was ready at",
                text.trim()
            ))
        })?;
        ready[(i - 1) as usize] = Some(at);
    }
    Ok(ready)
}

/// `I/N`, I counted from 1.
fn label(shard: Shard) -> String {
    format!("{}/{}", shard.index + 1, shard.count)
}

/// `(I, N)` of a ready file's name `shard-I-of-N`.
fn parse_name(name: &str) -> Option<(u32, u32)> {
    let (i, n) = name.strip_prefix("shard-")?.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

fn io(path: &Path, source: std::io::Error) -> StartError {
    StartError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(dir: &Path, i: u32, n: u32) -> Barrier {
        Barrier {
            dir: dir.to_path_buf(),
            shard: Shard::parse(&format!("{i}/{n}")).unwrap(),
            lead: Duration::from_secs(2),
            timeout: Duration::from_millis(300),
        }
    }

    #[test]
    fn the_start_is_the_latest_ready_time_plus_the_lead() {
        let lead = Duration::from_millis(1500);
        let ready = [Some(1_000), Some(7_000_000), Some(3_000)];
        assert_eq!(agreed_start(&ready, lead), Ok(8_500_000));
        let missing = agreed_start(&[Some(1), None, Some(2), None], lead).unwrap_err();
        let labels: Vec<String> = missing.into_iter().map(label).collect();
        assert_eq!(labels, ["2/4", "4/4"]);
    }

    #[test]
    fn every_driver_reads_the_same_start_from_the_ready_files() {
        let tmp = tempfile::tempdir().unwrap();
        for (i, at) in [(1, 5_000_000), (2, 9_000_000), (3, 6_000_000)] {
            barrier(tmp.path(), i, 3).announce(at).unwrap();
        }
        // A temporary file half-written, and an unrelated file, are not
        // ready files.
        let ready = tmp.path().join("ready");
        std::fs::write(ready.join(".shard-2-of-3.1.tmp"), "12").unwrap();
        std::fs::write(ready.join("notes.txt"), "x").unwrap();
        let seen = scan(&ready, 3).unwrap();
        assert_eq!(seen, [Some(5_000_000), Some(9_000_000), Some(6_000_000)]);
        assert_eq!(agreed_start(&seen, Duration::from_secs(2)), Ok(11_000_000));
        assert_eq!(
            std::fs::read_to_string(ready.join("shard-2-of-3")).unwrap(),
            "9000000\n"
        );
    }

    #[test]
    fn a_ready_file_there_already_is_refused_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let b = barrier(tmp.path(), 2, 2);
        b.announce(42).unwrap();
        let e = b.announce(43).unwrap_err().to_string();
        assert!(e.contains("shard-2-of-2 already exists"), "{e}");
        assert!(e.contains("--run-id"), "{e}");
        assert_eq!(std::fs::read_to_string(b.ready_file()).unwrap(), "42\n");
    }

    #[test]
    fn ready_files_of_another_count_or_content_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        barrier(tmp.path(), 1, 4).announce(1).unwrap();
        let e = scan(&tmp.path().join("ready"), 3).unwrap_err().to_string();
        assert!(e.contains("shard 1/4, but this driver is one of 3"), "{e}");
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join("ready")).unwrap();
        std::fs::write(other.path().join("ready/shard-1-of-2"), "soon").unwrap();
        let e = scan(&other.path().join("ready"), 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 'soon'"), "{e}");
    }

    #[tokio::test]
    async fn a_barrier_not_met_in_time_names_the_missing_shards() {
        let tmp = tempfile::tempdir().unwrap();
        barrier(tmp.path(), 3, 4).announce(1).unwrap();
        let b = barrier(tmp.path(), 1, 4);
        let e = b.meet(2, &Interrupt::default()).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StartError::Timeout { .. }), "{text}");
        assert!(
            text.contains("shards 2/4, 4/4 not ready after 300ms"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_last_driver_ready_meets_the_others_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        barrier(tmp.path(), 1, 2).announce(1_000_000).unwrap();
        let b = barrier(tmp.path(), 2, 2);
        let at = b.meet(4_000_000, &Interrupt::default()).await.unwrap();
        assert_eq!(at, Some(6_000_000));
    }
}
