//! deployd's command line: `serve`, `print-config` and `import-estate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use deployd::Settings;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "deployd",
    version = env!("FUNAI_VERSION"),
    about = "Control plane of the Fun AI Studio release path"
)]
struct Cli {
    /// Config file (default /etc/funai/deployd.toml; absent is fine).
    #[arg(long, global = true, env = "DEPLOYD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `listen`).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Database URL: sqlite:///path, mysql://user:pass@host/db or postgres://user:pass@host/db
    /// (overrides `database_url`).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the API (the default).
    Serve,
    /// Print the effective settings, secrets as ***.
    PrintConfig,
    /// Put the estate's old deploy tables aside, migrate, and import them (MySQL/MariaDB).
    ///
    /// The tables of the service deployd replaces hold deployd's table names: they are
    /// renamed with `[database] estate_suffix` (default `_estate`) in one RENAME TABLE, rows
    /// kept; deployd's migrations run; the estate's nodes, placements and app states are
    /// copied into deployd's tables and the counts printed. Rows deployd's tables hold
    /// already are left as they are: a second run copies nothing and says so. The estate's
    /// jobs stay in their table, answered read-only by id. `deployd serve` does the same on
    /// its first start on such a database.
    ImportEstate {
        /// Print the SQL that undoes the move on this database (drop deployd's tables,
        /// rename the estate's back) instead; changes nothing.
        #[arg(long)]
        rollback_sql: bool,
    },
    /// Write deployd's man pages into DIR (used to refresh the committed man/).
    #[command(hide = true)]
    GenerateMan {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nStopped cleanly (SIGTERM or SIGINT) after finishing in-flight requests.\n.TP\n\\fB1\\fR\nCould not start (refused settings, database unreachable, port taken) or stopped on an error.\n.TP\n\\fB2\\fR\nThe settings could not be read: an unknown key, a value of the wrong type.\n";

fn generate_man(dir: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    daemon::write_man_pages(Cli::command(), "deployd", dir, EXIT_STATUS)
}

fn load(cli: &Cli) -> Result<Settings, String> {
    let env_vars = std::env::vars().filter(|(k, _)| k != "DEPLOYD_CONFIG");
    let mut overrides = Vec::new();
    if let Some(l) = &cli.listen {
        overrides.push(("listen", toml::Value::String(l.clone())));
    }
    if let Some(d) = &cli.database_url {
        overrides.push(("database_url", toml::Value::String(d.clone())));
    }
    Settings::load(cli.config.as_deref(), env_vars, overrides).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::GenerateMan { dir }) = &cli.cmd {
        return match generate_man(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("deployd: cannot write man pages: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match load(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("deployd: {e}");
            return ExitCode::from(2);
        }
    };
    daemon::init_logging(settings.log_format);
    match cli.cmd.unwrap_or(Cmd::Serve) {
        Cmd::GenerateMan { .. } => ExitCode::SUCCESS,
        Cmd::PrintConfig => {
            // The database URL may hold a password.
            let mut shown = settings.clone();
            shown.database_url = deployd::store::redact_url(&shown.database_url);
            print!("{}", protocol::config::render(&shown));
            ExitCode::SUCCESS
        }
        Cmd::Serve => block_on(run(settings)),
        Cmd::ImportEstate { rollback_sql } => block_on(import_estate(settings, rollback_sql)),
    }
}

fn block_on(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deployd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deployd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn import_estate(settings: Settings, rollback_sql: bool) -> anyhow::Result<()> {
    use deployd::store::{Engine, mysql, redact_url};
    let url = &settings.database_url;
    if Engine::of_url(url) != Some(Engine::Mysql) {
        anyhow::bail!(
            "import-estate: the estate's tables live on its MySQL/MariaDB database, and database_url {} is not one: set database_url (or --database-url) to mysql://user:pass@host:3306/db",
            redact_url(url)
        );
    }
    deployd::store::estate::check_suffix(&settings.database.estate_suffix)
        .map_err(|e| anyhow::anyhow!("import-estate: {e}"))?;
    if rollback_sql {
        print!(
            "{}",
            mysql::estate_rollback_sql(url, &settings.database).await?
        );
        return Ok(());
    }
    let report = mysql::import_estate(url, &settings.database).await?;
    print!("{report}");
    Ok(())
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Listen for signals before binding: a SIGTERM during start-up still shuts down cleanly.
    let signalled =
        daemon::signals().map_err(|e| anyhow::anyhow!("cannot listen for signals: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        signalled.await;
        tracing::info!("shutting down: finishing in-flight requests");
        s.cancel();
    });
    deployd::serve(settings, listener, shutdown).await
}
