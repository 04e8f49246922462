//! A Temporal Rust SDK worker process with all the end-to-end test workflows and activities.
//!
//! Usage: `lockstep-test-worker --address HOST:PORT --task-queue Q [--certs-dir DIR
//! [--principal worker|client|admin]]`. Without `--certs-dir` it connects in plaintext (the real
//! Temporal dev server); with it, over mTLS as `<principal>` (default "worker"). Prints
//! "worker ready" on stdout once the worker is built and about to poll; runs until killed.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use lockstep_tests::sdk::{Target, connect, serve_worker};

const USAGE: &str = "usage: lockstep-test-worker --address HOST:PORT --task-queue QUEUE \
                     [--certs-dir DIR [--principal worker|client|admin]]";

fn main() -> ExitCode {
    let mut address = None;
    let mut certs_dir = None;
    let mut principal = "worker";
    let mut task_queue = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--address" => address = Some(value),
            "--certs-dir" => certs_dir = Some(PathBuf::from(value)),
            "--task-queue" => task_queue = Some(value),
            "--principal" => {
                principal = match value.as_str() {
                    "worker" => "worker",
                    "client" => "client",
                    "admin" => "admin",
                    other => {
                        eprintln!("unknown principal {other}\n{USAGE}");
                        return ExitCode::from(2);
                    }
                }
            }
            other => {
                eprintln!("unknown flag {other}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(address), Some(task_queue)) = (address, task_queue) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(addr) = address.parse::<SocketAddr>() else {
        eprintln!("--address must be HOST:PORT with a numeric host, got {address}");
        return ExitCode::from(2);
    };
    let target = match certs_dir {
        Some(certs_dir) => Target::Lockstep {
            addr,
            certs_dir,
            principal,
        },
        None => Target::Plaintext { addr },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let connection = connect(&target).await;
        serve_worker(connection, &task_queue, |_shutdown| {
            println!("worker ready");
        })
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lockstep-test-worker: {error:#}");
            ExitCode::FAILURE
        }
    }
}
