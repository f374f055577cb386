use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use backup_exporter::app;
use backup_exporter::config::{Flags, LogFormat, ShardSetting};
use backup_exporter::reload::ConfigSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// mimalloc: a refresh builds and frees hundreds of thousands of small strings (payload
/// fields, label sets) next to a few large buffers (pages, the exposition); glibc's allocator
/// spends a third of a large refresh consolidating its free lists, mimalloc does not. Built
/// without transparent huge pages (`no_thp`): a 2 MiB page stays resident while any of it is
/// in use, which kept about 35 MiB more resident between refreshes at 20 000 devices.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its option enum's 16th member; default 1000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory a refresh freed goes back to the system at once. mimalloc returns freed memory only
/// after a delay, checked when it next allocates or frees: an exporter idle between refreshes
/// never gets to it, and kept 25 MiB more resident at 20 000 devices (91 against 66 MiB
/// between refreshes, peak 131 against 108; the refresh took as long).
fn give_memory_back_at_once() {
    // SAFETY: sets one of mimalloc's option values; any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// Prometheus exporter for backup systems: reads the vendors' APIs in the background and serves
/// gauges on /metrics.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Environment variables BACKUP_EXPORTER_<KEY> override its
    /// top-level keys.
    #[arg(
        long,
        short,
        visible_alias = "config.file",
        global = true,
        env = "BACKUP_EXPORTER_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Address to serve on (host:port); repeat it to listen on several, each with the same
    /// endpoints. Overrides the `listen` key and BACKUP_EXPORTER_LISTEN (and the demo's
    /// --listen).
    #[arg(long = "web.listen-address", global = true, value_name = "ADDRESS")]
    web_listen_address: Vec<SocketAddr>,
    /// Path of the metrics endpoint (default /metrics); overrides the `telemetry_path` key
    /// and BACKUP_EXPORTER_TELEMETRY_PATH.
    #[arg(
        long = "web.telemetry-path",
        global = true,
        value_name = "PATH",
        value_parser = parse_telemetry_path
    )]
    web_telemetry_path: Option<String>,
    /// Log filter: `info`, `debug`, `backup_exporter=debug,warn`, ...; overrides the
    /// `log_level` key (RUST_LOG overrides it in turn).
    #[arg(long = "log.level", global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    log_level: Option<String>,
    /// Web configuration file (YAML, as node_exporter's): TLS, client certificates, basic
    /// auth, response headers for every endpoint; overrides the `web_config_file` key.
    #[arg(
        long = "web.config.file",
        global = true,
        env = "BACKUP_EXPORTER_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    web_config_file: Option<PathBuf>,
    /// Connections open at once, at most (default 512); overrides the `max_connections` key.
    #[arg(
        long = "web.max-connections",
        global = true,
        env = "BACKUP_EXPORTER_MAX_CONNECTIONS",
        value_name = "N",
        value_parser = parse_max_connections
    )]
    web_max_connections: Option<usize>,
    /// Turn on the lifecycle endpoint: POST or PUT /-/reload reads the configuration again
    /// (SIGHUP always does); overrides the `enable_lifecycle` key.
    #[arg(long = "web.enable-lifecycle", global = true)]
    web_enable_lifecycle: bool,
    /// Log format, overriding the `log_format` key.
    #[arg(long, visible_alias = "log.format", global = true, value_enum)]
    log_format: Option<CliLogFormat>,
    /// This exporter's shard, 0 to --total-shards - 1, or `auto`: the ordinal of a StatefulSet
    /// pod (the trailing -<n> of POD_NAME, else of the hostname); overrides the `shard` key.
    #[arg(long, global = true, value_name = "N|auto", value_parser = parse_shard)]
    shard: Option<ShardSetting>,
    /// How many exporters share the devices, each writing its shard's; overrides the
    /// `total_shards` key.
    #[arg(
        long = "total-shards",
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    total_shards: Option<u32>,
    #[command(subcommand)]
    command: Option<Command>,
}

fn parse_shard(text: &str) -> Result<ShardSetting, String> {
    text.parse()
}

fn parse_telemetry_path(text: &str) -> Result<String, String> {
    match backup_exporter::config::telemetry_path_problem(text) {
        Some(problem) => Err(problem),
        None => Ok(text.to_owned()),
    }
}

fn parse_log_level(text: &str) -> Result<String, String> {
    match tracing_subscriber::EnvFilter::try_new(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(format!(
            "{text:?} is not a valid filter (try \"info\" or \"debug\")"
        )),
    }
}

fn parse_max_connections(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| format!("{text:?}: must be 1 to 1000000"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CliLogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /metrics (the default when no command is given).
    Run,
    /// Validate the configuration; exit 0 if it is good, 1 with a message naming the bad key.
    CheckConfig,
    /// Refresh every source once and print the exposition to stdout; exit 1 if any failed.
    Once,
    /// Run the exporter against every kind of backup system it reads, each simulated on
    /// loopback.
    Demo {
        /// Address of the exporter (default: BACKUP_EXPORTER_LISTEN, else 127.0.0.1:9871);
        /// several separated by commas.
        #[arg(
            long,
            env = "BACKUP_EXPORTER_LISTEN",
            default_value = "127.0.0.1:9871",
            value_delimiter = ','
        )]
        listen: Vec<SocketAddr>,
        /// Also send the demo's alerts to this Alertmanager (the alerting bridge).
        #[arg(long, value_name = "URL")]
        alertmanager: Option<url::Url>,
    },
}

fn main() -> ExitCode {
    give_memory_back_at_once();
    let kinds: Vec<&str> = backup_exporter::sources::registry::kinds().collect();
    let matches = Cli::command()
        .long_version(backup_exporter::build_info::long_version())
        .after_help(format!("Kinds of source: {}.", kinds.join(", ")))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("backup_exporter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cli_format = cli.log_format.map(|f| match f {
        CliLogFormat::Human => LogFormat::Human,
        CliLogFormat::Json => LogFormat::Json,
    });
    let flags = Flags {
        shard: cli.shard,
        total_shards: cli.total_shards,
        listen: (!cli.web_listen_address.is_empty()).then(|| cli.web_listen_address.clone()),
        telemetry_path: cli.web_telemetry_path.clone(),
        web_config_file: cli.web_config_file.clone(),
        max_connections: cli.web_max_connections,
        log_level: cli.log_level.clone(),
        enable_lifecycle: cli.web_enable_lifecycle.then_some(true),
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Run) {
            Command::Demo {
                listen,
                alertmanager,
            } => {
                // --web.listen-address, else --listen (or BACKUP_EXPORTER_LISTEN): over all.
                let mut flags = flags;
                flags.listen.get_or_insert(listen);
                let level = cli.log_level.as_deref().unwrap_or("info");
                app::init_logging(cli_format.unwrap_or_default(), level);
                app::demo(cli_format.unwrap_or_default(), alertmanager, &flags)
                    .await
                    .map(|()| true)
            }
            command => {
                // check-config, once, run and a reload read the same way and refuse the same
                // files.
                let source = ConfigSource::File(cli.config.clone(), flags.clone());
                let config = source.load()?;
                app::init_logging(cli_format.unwrap_or(config.log_format), &config.log_level);
                match command {
                    Command::CheckConfig => {
                        // Building the sources also checks what only they can (CA files).
                        backup_exporter::refresh::Exporter::new(&config)?;
                        println!(
                            "configuration OK: {} source(s){}",
                            config.sources.len(),
                            config
                                .sources
                                .iter()
                                .map(|s| format!(
                                    "\n  {} ({}, {}), {}",
                                    s.name,
                                    s.kind,
                                    s.base_url(),
                                    s.stale_summary()
                                ))
                                .collect::<String>()
                        );
                        println!("{}", app::families_summary(&config));
                        let web = backup_exporter::web::WebOptions::from_config(&config)?;
                        match web.config.path() {
                            Some(path) => println!(
                                "web config file {}: {}",
                                path.display(),
                                web.config.current().summary()
                            ),
                            None => {
                                println!("web config file: none (plain HTTP, no authentication)")
                            }
                        }
                        println!("listen: {}", app::addresses(&config.listen));
                        println!("telemetry path: {}", config.telemetry_path);
                        println!(
                            "lifecycle endpoint (/-/reload): {}",
                            if config.enable_lifecycle {
                                "on"
                            } else {
                                "off (SIGHUP reloads)"
                            }
                        );
                        println!("log level: {}", config.log_level);
                        println!("max connections: {}", config.max_connections);
                        println!("sharding: {}", app::sharding_summary(&config));
                        match &config.alertmanager {
                            Some(am) => println!(
                                "alerting bridge: on, to {} every {} (keep firing for {})",
                                am.urls
                                    .iter()
                                    .map(|u| u.text.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                humantime::format_duration(am.resend_interval),
                                humantime::format_duration(am.keep_firing_for),
                            ),
                            None => println!("alerting bridge: off (no [alertmanager] section)"),
                        }
                        Ok(true)
                    }
                    Command::Once => {
                        let (text, ok) = app::once(&config).await?;
                        print!("{text}");
                        Ok(ok)
                    }
                    _ => app::serve(&config, source, |_| ()).await.map(|()| true),
                }
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("backup_exporter: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an option value.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // No other option of mimalloc defaults to 1000: the index is the purge delay's.
        assert_eq!(get(), 1000);
        give_memory_back_at_once();
        assert_eq!(get(), 0);
    }
}
