//! The program's modes: serve, one refresh (`once`), and the demo.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, Flags, LogFormat};
use crate::refresh::{Exporter, Outcome};
use crate::reload::{ConfigSource, Reloader};
use crate::server::{Lifecycle, Reload};
use crate::sources::{registry, Demo};

/// Sets up logging on stderr (stdout is for `once`'s exposition). `RUST_LOG` overrides the
/// configured level.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// What `check-config` says of the families: how many are written, and the series a device
/// costs for each configured kind (see `registry::series_per_device`).
pub fn families_summary(config: &Config) -> String {
    let all = registry::families();
    let on = all.iter().filter(|d| config.exposure.writes(d)).count();
    let mut kinds: Vec<&'static str> = config.sources.iter().map(|s| s.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let per_kind: Vec<String> = kinds
        .iter()
        .filter_map(|k| registry::find(k))
        .map(|v| {
            format!(
                "{} about {:.1}",
                v.kind(),
                registry::series_per_device(v, &config.exposure, registry::TARGETS_PER_DEVICE)
            )
        })
        .collect();
    format!(
        "families: {on} of {} written ([families] include and exclude; docs/metrics.md marks the opt-in ones); \
         series per device ({} destinations per device, fleet-wide families apart): {}",
        all.len(),
        registry::TARGETS_PER_DEVICE,
        per_kind.join(", ")
    )
}

/// Refreshes every source once, concurrently. Returns the exposition and whether every
/// source succeeded.
pub async fn once(config: &Config) -> Result<(String, bool), String> {
    let (exporter, sources) = Exporter::new(config)?;
    let runs = sources.into_iter().enumerate().map(|(i, mut s)| {
        let exporter = exporter.clone();
        async move { exporter.refresh(i, &mut s).await }
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let ok = outcomes.iter().all(|o| matches!(o, Outcome::Ok));
    let text = String::from_utf8_lossy(&exporter.rendered().text()).into_owned();
    Ok((text, ok))
}

/// Serves until SIGINT or SIGTERM; `config` was read from `source`, which SIGHUP and
/// `/-/reload` read again. `on_listening` is told the first bound address.
pub async fn serve(
    config: &Config,
    source: ConfigSource,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    serve_until(config, source, on_listening, shutdown_signal()).await
}

/// Serves until `shutdown` completes.
async fn serve_until(
    config: &Config,
    source: ConfigSource,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    // Before anything that takes time: a SIGHUP during start-up waits for the reloader
    // instead of ending the process.
    let hangups = hangup_signals();
    config.check_runnable().map_err(|e| e.to_string())?;
    let web = crate::web::WebOptions::from_config(config)?;
    match crate::web::conns::raise_fd_limit() {
        Ok((before, after)) if after > before => {
            tracing::info!(
                before,
                after,
                "raised the open-file limit to the hard limit"
            )
        }
        Ok((_, limit)) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
    // Every address, or none: a failure names the address and stops the start.
    let mut listeners = Vec::with_capacity(config.listen.len());
    let mut bound = Vec::with_capacity(config.listen.len());
    for address in &config.listen {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| format!("listen on {address}: {e}"))?;
        bound.push(
            listener
                .local_addr()
                .map_err(|e| format!("listen on {address}: {e}"))?,
        );
        listeners.push(listener);
    }
    let addr = bound[0];
    let (exporter, sources) = Exporter::new(config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    exporter.spawn(sources, stop_rx.clone());
    let reloader = Arc::new(Reloader::new(
        source,
        config.clone(),
        exporter.clone(),
        web.config.clone(),
    ));
    let on_hangup = tokio::spawn(reload_on_hangup(hangups, reloader.clone(), stop_rx));
    let lifecycle = if config.enable_lifecycle {
        let reload: Reload = Arc::new(move || {
            let reloader = reloader.clone();
            Box::pin(async move { reloader.reload("/-/reload").await })
        });
        Lifecycle::On(reload)
    } else {
        Lifecycle::Off
    };
    tracing::info!(
        listen = %addr,
        addresses = %addresses(&bound),
        telemetry_path = %config.telemetry_path,
        sources = config.sources.len(),
        "serving /metrics"
    );
    if config.state_file.is_none() {
        tracing::info!(
            "no state_file: first-seen times and last successes are kept in memory only, and start afresh after a restart"
        );
    }
    on_listening(addr);
    if let Some(path) = web.config.path() {
        tracing::info!(file = %path.display(), "web config: {}", web.config.current().summary());
    }
    let served =
        crate::server::serve_on(listeners, Arc::clone(&exporter), web, lifecycle, shutdown).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = on_hangup.await;
    exporter.join().await;
    served.map_err(|e| e.to_string())
}

/// Addresses as the log and `check-config` show them: `0.0.0.0:9871, [::1]:9871`.
pub fn addresses(list: &[SocketAddr]) -> String {
    list.iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shard, as `check-config` shows it (`shard 1 of 3: ...`), or that there is only one.
pub fn sharding_summary(config: &Config) -> String {
    let shard = config.sharding;
    if !shard.is_sharded() {
        return "off (one shard: every device)".into();
    }
    let auto = match &config.shard_pod {
        Some((pod, from)) => format!(", \"auto\": the ordinal of {pod} ({from})"),
        None => String::new(),
    };
    let fleet_wide = if shard.writes_fleet_wide() {
        ", and the fleet-wide families"
    } else {
        ""
    };
    format!("{shard}{auto}: the devices whose hash falls to it{fleet_wide}")
}

/// Starts every vendor's simulated server with its demo fleet (registry order) and returns
/// them with the `[[source]]` tables that read them (refreshed every 30s, 10s timeout).
pub async fn start_demo_servers() -> Result<(Vec<Box<dyn Demo>>, String), String> {
    let now = chrono::Utc::now();
    let mut servers: Vec<Box<dyn Demo>> = Vec::new();
    let mut toml = String::new();
    for vendor in registry::VENDORS {
        match vendor.demo(now).await {
            Ok(server) => {
                toml.push_str(&format!(
                    "[[source]]\n{}refresh_interval = \"30s\"\ntimeout = \"10s\"\n",
                    server.source()
                ));
                servers.push(server);
            }
            Err(e) => {
                for s in servers {
                    s.shutdown().await;
                }
                return Err(e);
            }
        }
    }
    Ok((servers, toml))
}

/// The demo: every vendor's simulated server on loopback (`registry::VENDORS`), and the real
/// exporter reading them over HTTP, exactly as it would read production servers.
/// With `alertmanager`, the alerting bridge sends the demo's alerts there.
pub async fn demo(
    format: LogFormat,
    alertmanager: Option<url::Url>,
    flags: &Flags,
) -> Result<(), String> {
    let shutdown = shutdown_signal();
    let (servers, sources) = start_demo_servers().await?;
    let mut toml = format!(
        "log_format = \"{}\"\n{sources}",
        match format {
            LogFormat::Json => "json",
            LogFormat::Human => "human",
        },
    );
    if let Some(url) = &alertmanager {
        toml.push_str(&format!(
            "\n[alertmanager]\nurls = [\"{url}\"]\nresend_interval = \"30s\"\n"
        ));
    }
    let source = ConfigSource::Text(toml, flags.clone());
    let config = source
        .load()
        .map_err(|e| format!("demo configuration: {e}"));
    let result = match config {
        Ok(config) => {
            let banners: Vec<(&str, String)> = servers.iter().map(|s| s.banner()).collect();
            serve_until(
                &config,
                source,
                |addr| {
                    let shown = if addr.ip().is_unspecified() {
                        SocketAddr::new([127, 0, 0, 1].into(), addr.port())
                    } else {
                        addr
                    };
                    let line =
                        |label: &str, what: &str| println!("  {:<32}{what}", format!("{label}:"));
                    println!("backup_exporter demo");
                    for (label, what) in &banners {
                        line(label, what);
                    }
                    line("exporter status page", &format!("http://{shown}/"));
                    line(
                        "metrics",
                        &format!("http://{shown}{}", config.telemetry_path),
                    );
                    match &alertmanager {
                        Some(url) => line("alerts sent to Alertmanager", url.as_str()),
                        None => line("alerts (status page)", &format!("http://{shown}/#alerts")),
                    }
                    println!("  stop with Ctrl-C");
                },
                shutdown,
            )
            .await
        }
        Err(e) => Err(e),
    };
    for server in servers {
        server.shutdown().await;
    }
    result
}

/// SIGHUP as received from the moment [`hangup_signals`] installs the handler.
#[cfg(unix)]
type Hangups = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangups = std::convert::Infallible;

/// SIGHUP, as received from now on (none where there are no such signals, or the handler
/// cannot be installed).
fn hangup_signals() -> Option<Hangups> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP: only POST /-/reload reloads");
                None
            }
        }
    }
    #[cfg(not(unix))]
    None
}

/// Reloads the configuration on each SIGHUP, until `stop` turns true.
async fn reload_on_hangup(
    hangups: Option<Hangups>,
    reloader: Arc<Reloader>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(mut hangups) = hangups else {
        return;
    };
    loop {
        #[cfg(unix)]
        tokio::select! {
            got = hangups.recv() => if got.is_none() { return },
            _ = stop.wait_for(|s| *s) => return,
        }
        #[cfg(not(unix))]
        match hangups {}
        // The outcome is logged and counted by the reloader.
        let _ = reloader.reload("SIGHUP").await;
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM during start-up (the exporter may be PID 1 of a
/// container, which ignores unhandled signals) then stops the server as soon as it runs.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term.take()) => {}
                () = wait(int.take()) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
