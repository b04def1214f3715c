//! `functl completions SHELL` and the generated files in `completions/` and `man/`: produced
//! by the program itself so that they never drift from its flags (a test compares them).

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

impl ShellArg {
    fn shell(self) -> Shell {
        match self {
            ShellArg::Bash => Shell::Bash,
            ShellArg::Zsh => Shell::Zsh,
            ShellArg::Fish => Shell::Fish,
            ShellArg::Powershell => Shell::PowerShell,
            ShellArg::Elvish => Shell::Elvish,
        }
    }
}

#[derive(Debug, Args)]
pub struct Completions {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: ShellArg,
}

impl Completions {
    pub async fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        let mut cmd = crate::Cli::command();
        clap_complete::generate(
            self.shell.shell(),
            &mut cmd,
            "functl",
            &mut std::io::stdout(),
        );
        Ok(Exit::Success)
    }
}

#[derive(Debug, Args)]
pub struct Generate {
    /// The repository root: completions/ and man/ are written under it
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
}

impl Generate {
    pub async fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        write_all(&self.root)?;
        Ok(Exit::Success)
    }
}

/// Completions for every shell, and a man page for functl and each subcommand.
pub fn write_all(root: &Path) -> anyhow::Result<()> {
    let comp = root.join("completions");
    let man = root.join("man");
    std::fs::create_dir_all(&comp)?;
    std::fs::create_dir_all(&man)?;
    for (shell, file) in [
        (Shell::Bash, "functl.bash"),
        (Shell::Zsh, "_functl"),
        (Shell::Fish, "functl.fish"),
        (Shell::PowerShell, "functl.ps1"),
        (Shell::Elvish, "functl.elv"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut crate::Cli::command(), "functl", &mut buf);
        std::fs::write(comp.join(file), buf)?;
    }
    // The committed pages carry the package version, not the commit (`--version`'s).
    let mut cmd = crate::Cli::command().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    write_man(&cmd, &man, "functl")?;
    Ok(())
}

/// What every page ends with: the exit codes scripts rely on.
pub const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nThe command did what it was asked.\n.TP\n\\fB1\\fR\nIt failed: deployd refused the request or an agent refused or was unreachable, or the job it followed failed, was cancelled or outlasted \\fB--timeout\\fR (the job itself goes on).\n.TP\n\\fB2\\fR\nUsage: a wrong flag or value, missing configuration, or a destructive command without \\fB--yes\\fR and without a terminal to ask on.\n.TP\n\\fB3\\fR\ndeployd could not be reached (connection refused, timeout, DNS) or refused our credentials (401, 403): check deploy_url, deploy_secret and admin_token.\n.TP\n\\fB130\\fR\nInterrupted while following a job; the job goes on.\n";

fn write_man(cmd: &clap::Command, dir: &Path, name: &str) -> anyhow::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let cmd = cmd.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    buf.extend_from_slice(EXIT_STATUS.as_bytes());
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_man(sub, dir, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
