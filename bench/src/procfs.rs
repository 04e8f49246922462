//! What the benchmarks read from Linux's /proc: CPU time and memory of a process and all its
//! descendants, the whole machine's CPU time, and the disk usage of a directory.

use std::{
    collections::HashMap,
    path::Path,
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on every common Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// The fields of /proc/<pid>/stat after the command name (which may hold spaces and parens):
/// index 0 is field 3 (state), 1 is the parent pid, 11..=14 are utime, stime, cutime, cstime.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

/// `pid` and all its live descendants (children, grandchildren, …).
pub(crate) fn process_tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = stat_fields(child)
                .and_then(|fields| fields.get(1).and_then(|p| p.parse::<u32>().ok()))
            {
                children.entry(parent).or_default().push(child);
            }
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() {
        if let Some(kids) = children.get(&tree[next]) {
            tree.extend(kids);
        }
        next += 1;
    }
    tree
}

/// CPU time (user + system, including reaped children) of one process, all threads.
fn process_cpu(pid: u32) -> Duration {
    let ticks: u64 = stat_fields(pid)
        .map(|fields| {
            fields
                .iter()
                .skip(11)
                .take(4)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

/// CPU time consumed so far by `pid` and its descendants.
pub(crate) fn tree_cpu(pid: u32) -> Duration {
    process_tree(pid).into_iter().map(process_cpu).sum()
}

/// CPU time consumed so far by this process (the driver and its in-process SDK worker).
pub(crate) fn own_cpu() -> Duration {
    process_cpu(std::process::id())
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`, …); 0 if unreadable.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(key)?
                    .strip_prefix(':')?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// Resident memory of `pid` and its descendants now (sum of `VmRSS`), in bytes.
pub(crate) fn tree_rss(pid: u32) -> u64 {
    process_tree(pid)
        .into_iter()
        .map(|p| status_kib(p, "VmRSS") * 1024)
        .sum()
}

/// Peak resident memory of `pid` and its descendants (sum of each one's `VmHWM`), in bytes.
pub(crate) fn tree_peak_rss(pid: u32) -> u64 {
    process_tree(pid)
        .into_iter()
        .map(|p| status_kib(p, "VmHWM") * 1024)
        .sum()
}

/// The machine's CPU time counters (all cores) from the first line of /proc/stat.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MachineCpu {
    busy: u64,
    total: u64,
    at: Instant,
}

impl MachineCpu {
    /// Reads the counters now.
    pub(crate) fn now() -> Self {
        let at = Instant::now();
        let values: Vec<u64> = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let line = stat.lines().next()?.strip_prefix("cpu ")?.to_string();
                Some(
                    line.split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect(),
                )
            })
            .unwrap_or_default();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        Self {
            busy: total.saturating_sub(idle),
            total,
            at,
        }
    }

    /// Cores kept busy on average since `earlier` (0..=number of cores).
    pub(crate) fn busy_cores_since(&self, earlier: &MachineCpu) -> f64 {
        let busy = self.busy.saturating_sub(earlier.busy) as f64 / clock_ticks_per_second();
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        if wall > 0.0 { busy / wall } else { 0.0 }
    }

    /// The fraction of all cores' time that was busy since `earlier` (0..=1).
    pub(crate) fn busy_fraction_since(&self, earlier: &MachineCpu) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        self.busy.saturating_sub(earlier.busy) as f64 / total as f64
    }
}

/// Disk space used by everything under `dir` (allocated blocks, as `du` counts), in bytes.
pub(crate) fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            pending.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

/// Sends SIGKILL to every process in `pids` (processes this program started) via kill(1).
pub(crate) fn kill_all(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
