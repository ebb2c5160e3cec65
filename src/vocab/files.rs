//! Files written whole or not at all, for readers that poll them: `merge
//! --wait` reading results off a shared volume, drivers reading each
//! other's ready files at a start barrier.

use std::io;
use std::path::Path;

/// Writes `contents` to `path` so that a reader sees the old file or the
/// whole new one, never part of it: beside it under a hidden temporary
/// name (this process's id and the time, so no two writers share one),
/// then renamed over it. A path that exists and is not a regular file
/// (`/dev/null`, a pipe) is written in place.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let Some(name) = path.file_name().filter(|_| !special) else {
        return std::fs::write(path, contents);
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        super::time::unix_ns()
    ));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::write_atomic;

    #[test]
    fn replaces_a_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new, longer");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["result.json"]);
    }

    #[test]
    fn writes_a_device_in_place() {
        use std::os::unix::fs::FileTypeExt as _;
        write_atomic(std::path::Path::new("/dev/null"), b"gone").unwrap();
        let kind = std::fs::metadata("/dev/null").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null was replaced: {kind:?}");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("result.json");
        assert!(write_atomic(&path, b"x").is_err());
        assert!(!dir.path().join("missing-dir").exists());
    }
}
