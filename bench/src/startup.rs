//! Start-up time and idle memory of `lockstep server start-dev`.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use lockstep_tests::{Identity, server::free_port, workflow_client};
use temporalio_protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

/// Options of `startup`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// How many runs (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The lockstep binary to measure.
    #[arg(long, default_value = "target/release/lockstep")]
    lockstep: PathBuf,
    /// How long to let the server idle before reading its RSS.
    #[arg(long, default_value_t = 2)]
    idle_secs: u64,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // The first run creates the dev PKI; measure the steady state, as a user restarting would.
    measure_once(&args, &data).await.context("warm-up run")?;
    let mut startups = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..args.runs {
        let (startup, idle_rss_kib) = measure_once(&args, &data).await?;
        startups.push(startup);
        rss.push(idle_rss_kib);
    }
    startups.sort();
    rss.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "start-dev spawn -> first RPC: median {:.1} ms (min {:.1}, max {:.1}) over {} runs",
        ms(&startups[startups.len() / 2]),
        ms(&startups[0]),
        ms(&startups[startups.len() - 1]),
        startups.len()
    );
    println!(
        "idle RSS after {} s: median {:.1} MiB (min {:.1}, max {:.1})",
        args.idle_secs,
        rss[rss.len() / 2] as f64 / 1024.0,
        rss[0] as f64 / 1024.0,
        rss[rss.len() - 1] as f64 / 1024.0
    );
    Ok(())
}

async fn measure_once(args: &Args, data: &std::path::Path) -> anyhow::Result<(Duration, u64)> {
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(&args.lockstep)
        .args([
            "server",
            "start-dev",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(data)
        .env("LOCKSTEP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawn {}", args.lockstep.display()))?;
    let certs = data.join("certs");
    let addr = ([127, 0, 0, 1], port).into();
    let startup = loop {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("no successful RPC within 30 s");
        }
        let ready = async {
            let ca = std::fs::read(certs.join("ca.pem")).ok()?;
            let admin = Identity::try_from_dir(&certs, "admin")?;
            let mut client = workflow_client(addr, &ca, Some(&admin)).await.ok()?;
            client
                .get_system_info(GetSystemInfoRequest::default())
                .await
                .ok()
        };
        if ready.await.is_some() {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok((startup, rss_kib))
}
