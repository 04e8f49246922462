//! Writing certificates and keys to disk with the right permissions.
//!
//! Files are written to a temporary sibling created with its final mode, then renamed over the
//! target: a key is never readable by others, not even for an instant, an existing file with
//! wider permissions is replaced rather than reused, and a crash leaves the old file or the new
//! one, never half of each. Directories we create are 0700.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::CertError;

/// Mode of private key files.
pub(crate) const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of certificate files (public material).
pub(crate) const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode of directories created for certificates and keys.
pub(crate) const PRIVATE_DIR_MODE: u32 = 0o700;

/// Writes a secret (a private key) to `path` with mode 0600, replacing any existing file.
/// Missing parent directories are created with mode 0700.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), CertError> {
    write_file(path, contents, PRIVATE_FILE_MODE)
}

/// Writes public material (a certificate) to `path` with mode 0644 (less if the umask says so).
pub(crate) fn write_public_file(path: &Path, contents: &[u8]) -> Result<(), CertError> {
    write_file(path, contents, PUBLIC_FILE_MODE)
}

/// Creates `dir` and its missing parents with mode 0700. Existing directories are left alone.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder
        .create(dir)
        .map_err(|e| CertError::io("create directory", dir, e))
}

/// Reads a public file (a certificate) as bytes.
pub(crate) fn read_public_file(path: &Path) -> Result<Vec<u8>, CertError> {
    fs::read(path).map_err(|e| CertError::io("read", path, e))
}

/// Reads a private key file into memory that is wiped on drop.
pub(crate) fn read_private_file(path: &Path) -> Result<Zeroizing<String>, CertError> {
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| CertError::io("read", path, e))?);
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(CertError::InvalidKey {
            path: path.to_owned(),
            reason: "the file is not text".into(),
        }),
    }
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let temp = temp_sibling(path)?;
    let written = write_new(&temp, contents, mode)
        .and_then(|()| fs::rename(&temp, path).map_err(|e| CertError::io("write", path, e)));
    if written.is_err() {
        // Best effort: the temporary file may not exist, and the first error is the useful one.
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Creates `path` (which must not exist) with `mode` from the start and fills it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| CertError::io("create", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CertError::io("write", path, e))
}

/// `dir/.name.tmp-<random>`: unguessable, so another user cannot pre-create it.
fn temp_sibling(path: &Path) -> Result<PathBuf, CertError> {
    let Some(name) = path.file_name() else {
        return Err(CertError::io(
            "write",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path has no file name",
            ),
        ));
    };
    let mut nonce = [0u8; 8];
    SystemRandom::new().fill(&mut nonce).map_err(|_| {
        CertError::io(
            "write",
            path,
            std::io::Error::other("the system random source failed"),
        )
    })?;
    let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{suffix}"));
    Ok(path.with_file_name(temp))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_are_0600_and_parents_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/key.pem");
        write_private_file(&path, b"secret").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
    }

    #[test]
    fn an_existing_world_readable_file_is_replaced_not_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("key.pem");
        fs::write(&path, b"old contents that are longer").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        write_private_file(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = write_private_file(&blocker.join("key.pem"), b"k").unwrap_err();
        assert!(err.to_string().contains("file"), "{err}");
    }
}
