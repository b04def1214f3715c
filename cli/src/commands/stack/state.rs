//! What `functl up` started, written to `{dir}/stack.toml`, so that `down` stops exactly that.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "stack.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Daemon {
    pub name: String,
    pub pid: u32,
    pub binary: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    /// When the process started (clock ticks after boot, from `/proc/PID/stat`): with the
    /// pid, who it is; a recycled pid has another start time. Absent in state files of
    /// older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stack {
    pub dir: PathBuf,
    pub deploy_url: String,
    pub agent_url: String,
    pub gateway_url: String,
    pub node_name: String,
    pub started_at: String,
    pub daemons: Vec<Daemon>,
}

impl Stack {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    pub fn load(dir: &Path) -> anyhow::Result<Option<Stack>> {
        let p = Self::path(dir);
        match std::fs::read_to_string(&p) {
            Ok(text) => Ok(Some(toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{} is not a stack state file: {e}", p.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", p.display())),
        }
    }

    pub fn save(&self) -> anyhow::Result<()> {
        let p = Self::path(&self.dir);
        let text = toml::to_string_pretty(self)?;
        std::fs::write(&p, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))
    }

    pub fn functl_config(&self) -> PathBuf {
        self.dir.join("functl.toml")
    }
}

impl Daemon {
    /// Alive and still the process `up` started: same pid and start time, not a zombie (a
    /// recycled pid is not ours). State files without a start time fall back to the binary
    /// and config the process runs.
    pub fn alive(&self) -> bool {
        if let Some(started) = self.started {
            return proc_stat(self.pid).is_some_and(|(state, t)| t == started && state != 'Z');
        }
        let exe = std::fs::read_link(format!("/proc/{}/exe", self.pid)).ok();
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let ours_exe = exe.is_some_and(|e| {
            let e = e
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string();
            Path::new(&e) == self.binary
        });
        ours_exe && cmdline.contains(self.config.to_string_lossy().as_ref())
    }

    /// SIGTERM, then up to `grace` for it to go, then SIGKILL. True if it was running.
    pub fn stop(&self, grace: std::time::Duration) -> anyhow::Result<bool> {
        if !self.alive() {
            return Ok(false);
        }
        signal(self.pid, "TERM")?;
        let deadline = std::time::Instant::now() + grace;
        while self.alive() {
            if std::time::Instant::now() >= deadline {
                signal(self.pid, "KILL")?;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(true)
    }
}

/// A process's state letter and start time (clock ticks after boot) from `/proc/PID/stat`.
pub fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the
    // last ')'. The start time is field 22 of the line, the 20th after the comm.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let started = fields.nth(18)?.parse().ok()?;
    Some((state, started))
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let st = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run kill: {e}"))?;
    if !st.success() && std::path::Path::new(&format!("/proc/{pid}")).exists() {
        anyhow::bail!("cannot signal process {pid}");
    }
    Ok(())
}

/// Where a daemon's binary is: beside functl's own executable, else on PATH.
pub fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    if let Ok(me) = std::env::current_exe()
        && let Some(dir) = me.parent()
    {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    anyhow::bail!(
        "{name} is neither beside functl nor on PATH: build it (cargo build --release) or install it"
    )
}
