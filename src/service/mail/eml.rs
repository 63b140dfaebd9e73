//! The `file:` transport's output: one `<id>.eml` per message, written atomically.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `dir/<id>.eml` as a temporary file (mode 0600, created new), flushed to disk, then
/// renamed into place: a reader never sees half a message, and a message sent again after a
/// crash replaces the first copy instead of adding a second.
pub(super) fn write(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "outbox id is not a file name",
        ));
    }
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(format!("{id}.eml")))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::write as write_eml;

    #[test]
    fn eml_is_atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        write_eml(dir.path(), "abc-1", b"Subject: x\r\n\r\nbody").unwrap();
        write_eml(dir.path(), "abc-1", b"Subject: y\r\n\r\nbody").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["abc-1.eml"]);
        let meta = std::fs::metadata(dir.path().join("abc-1.eml")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(write_eml(dir.path(), "../x", b"").is_err());
    }
}
