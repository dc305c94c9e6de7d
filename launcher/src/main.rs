//! `cloison`: see `cloison --help`.

use anyhow::Context as _;
use clap::Parser;
use cloison_launcher::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => cloison_launcher::session::run(args, cli.verbose),
        Command::CheckConfig { file } => check_config(file),
        Command::Ctl(args) => cloison_launcher::ctl::run(args).map(|()| 0),
        Command::Spawn(args) => cloison_launcher::ctl::spawn(args).map(|()| 0),
        Command::Exec(args) => cloison_launcher::exec::run(args, cli.verbose),
        Command::Logs(args) => cloison_launcher::logs::run(args).map(|()| 0),
        Command::Audit { action } => audit(action),
        Command::Man { dir } => cloison_launcher::cli::write_man_pages(&dir).map(|()| 0),
        Command::PamCheck { service, user } => Ok(cloison_launcher::pam::check(&service, &user)),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!("cloison: error: {err:#}");
            }
            std::process::exit(1);
        }
    }
}

fn audit(action: cloison_launcher::cli::AuditCommand) -> anyhow::Result<i32> {
    use cloison_launcher::cli::AuditCommand;
    let path = |file: Option<std::path::PathBuf>| match file {
        Some(f) => Ok(f),
        None => cloison_launcher::plans::default_audit_log(),
    };
    #[allow(clippy::disallowed_macros)]
    match action {
        AuditCommand::Verify { file } => {
            let file = path(file)?;
            match cloison_launcher::manager::audit::verify(&file)? {
                Ok(n) => {
                    println!("{}: {n} records, chain intact", file.display());
                    Ok(0)
                }
                Err(broken) => {
                    eprintln!("cloison: audit log broken: {broken}");
                    Ok(1)
                }
            }
        }
        AuditCommand::Show { file } => {
            print!("{}", cloison_launcher::manager::audit::show(&path(file)?)?);
            Ok(0)
        }
    }
}

fn check_config(file: Option<std::path::PathBuf>) -> anyhow::Result<i32> {
    let source = cloison_config::locate(file.as_deref());
    let config = cloison_config::load(&source)?;
    // A tunnel's file is read as the session will (its owner and mode, its keys and peer).
    for level in &config.levels {
        if let cloison_config::Network::WireGuard(wg) = &level.network {
            cloison_launcher::network::wireguard::read_file(&wg.config)
                .with_context(|| format!("level {:?}'s tunnel", level.name))?;
        }
    }
    #[allow(clippy::disallowed_macros)]
    {
        print!("{}", config.summary());
        for warning in config.warnings() {
            println!("warning: {warning}");
        }
    }
    Ok(0)
}

/// Logs go to stderr, or to journald when systemd started us with the journal as our output
/// (`JOURNAL_STREAM` set); a line about one level carries `level=`.
fn init_logging(verbose: bool) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = if verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        tracing_subscriber::registry()
            .with(filter)
            .with(journald.with_syslog_identifier("cloison".into()))
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
