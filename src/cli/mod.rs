//! Command-line interface: subcommands and their flags (each also settable from `PORTCULLIS_*`).

mod admin;
mod check;
mod mock;
mod serve;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version,
    about = "A fast, Portkey-compatible AI gateway"
)]
pub struct Cli {
    /// Log filter (`info`, `debug`, `portcullis_engine=debug,info`, …).
    #[arg(long, global = true, env = "PORTCULLIS_LOG")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Run the scriptable mock provider (OpenAI, Anthropic and Gemini wire formats).
    MockProvider(MockArgs),
    /// Validate configuration files, or apply a settings file's catalog section.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Gateway API keys: create (admin or workspace), list, revoke, delete.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Workspaces: create, list.
    Workspaces {
        #[command(subcommand)]
        command: admin::WorkspacesCommand,
    },
    /// AI providers (`@slug`) and their credentials: create, list.
    Providers {
        #[command(subcommand)]
        command: admin::ProvidersCommand,
    },
    /// Saved Portkey configs (`pc-…`): create, list.
    Configs {
        #[command(subcommand)]
        command: admin::ConfigsCommand,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "PORTCULLIS_HOST")]
    pub host: Option<IpAddr>,
    /// Port to listen on [default: 8787].
    #[arg(long, env = "PORTCULLIS_PORT")]
    pub port: Option<u16>,
    /// Gateway settings file (YAML).
    #[arg(long, env = "PORTCULLIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the gateway's data [default: ./data].
    #[arg(long, env = "PORTCULLIS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Allow open mode (clients bring provider keys) on a non-loopback address.
    #[arg(long, env = "PORTCULLIS_ALLOW_OPEN_MODE")]
    pub allow_open_mode: bool,
    /// `postgres://…` to share the control plane between replicas [default: SQLite in the data dir].
    #[arg(long, env = "PORTCULLIS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `redis://…` to share rate limits and budgets between replicas [default: in process].
    #[arg(long, env = "PORTCULLIS_REDIS_URL")]
    pub redis_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct MockArgs {
    #[arg(long, default_value = "127.0.0.1", env = "PORTCULLIS_MOCK_HOST")]
    pub host: IpAddr,
    #[arg(long, default_value_t = 9100, env = "PORTCULLIS_MOCK_PORT")]
    pub port: u16,
    /// Content chunks per streamed response.
    #[arg(long, default_value_t = 8)]
    pub stream_chunks: usize,
    /// Delay between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub chunk_delay_ms: u64,
    /// Delay before every response's headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Do not record requests (for benchmarks).
    #[arg(long)]
    pub no_record: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a gateway settings file (YAML) and/or a Portkey routing config (JSON).
    Check {
        /// Gateway settings file.
        #[arg(long)]
        settings: Option<PathBuf>,
        /// Portkey config JSON file (`-` reads standard input).
        #[arg(long)]
        portkey: Option<PathBuf>,
    },
    /// Apply the settings file's `catalog:` section to the store now (as `serve` does at start).
    Apply {
        #[command(flatten)]
        store: admin::StoreArgs,
    },
}

pub fn init_tracing(filter: Option<&str>) {
    let filter = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to standard error: standard output is for what commands print (keys, slugs, JSON).
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let admin = match cli.command {
        Command::Serve(args) => return serve::run(args).await,
        Command::MockProvider(args) => return mock::run(args).await,
        Command::Config {
            command: ConfigCommand::Check { settings, portkey },
        } => return check::run(settings, portkey),
        Command::Config {
            command: ConfigCommand::Apply { store },
        } => admin::apply(store).await,
        Command::Keys { command } => admin::keys(command).await,
        Command::Workspaces { command } => admin::workspaces(command).await,
        Command::Providers { command } => admin::providers(command).await,
        Command::Configs { command } => admin::configs(command).await,
    };
    match admin {
        Ok(()) => Ok(()),
        Err(admin::Failure::Runtime(m)) => Err(m),
        // Bad input exits 2, as clap's own usage errors do (the store is closed by now).
        Err(admin::Failure::Usage(m)) => {
            eprintln!("error: {m}");
            std::process::exit(2);
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
