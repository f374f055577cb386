//! The program's modes: serve, one refresh (`once`), and the demo.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, LogFormat};
use crate::refresh::{Exporter, Outcome};
use crate::sim::Simulator as _;
use crate::sources::crashplan::sim::{SimConfig, SimServer};

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

/// Serves until SIGINT or SIGTERM. `on_listening` is told the bound address.
pub async fn serve(config: &Config, on_listening: impl FnOnce(SocketAddr)) -> Result<(), String> {
    serve_until(config, on_listening, shutdown_signal()).await
}

/// Serves until `shutdown` completes.
async fn serve_until(
    config: &Config,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
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
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (exporter, sources) = Exporter::new(config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = exporter.spawn(sources, stop_rx);
    tracing::info!(listen = %addr, sources = config.sources.len(), "serving /metrics");
    on_listening(addr);
    if let Some(path) = web.config.path() {
        tracing::info!(file = %path.display(), "web config: {}", web.config.current().summary());
    }
    let served = crate::server::serve_with(listener, Arc::clone(&exporter), web, shutdown).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    served.map_err(|e| e.to_string())
}

/// The demo: a simulated CrashPlan PRO server, Code42 console, Rackspace Cloud Backup account
/// (identity service included) and OpenStack Freezer deployment (keystone included) on
/// loopback, and the real exporter reading them over HTTP, exactly as it would read production
/// servers.
/// With `alertmanager`, the alerting bridge sends the demo's alerts there.
pub async fn demo(
    listen: SocketAddr,
    format: LogFormat,
    alertmanager: Option<url::Url>,
) -> Result<(), String> {
    let shutdown = shutdown_signal();
    let sim_config = SimConfig {
        username: "demo".into(),
        password: "demo-password".into(),
        admin: true,
    };
    let now = chrono::Utc::now();
    let sim = SimServer::start(
        crate::sources::crashplan::sim::fleet::demo_fleet(now),
        sim_config,
    )
    .await
    .map_err(|e| format!("start the simulated CrashPlan PRO server: {e}"))?;
    let console = crate::sources::code42::sim::SimServer::start(
        crate::sources::code42::sim::fleet::demo_console(now),
        crate::sources::code42::sim::ConsoleConfig {
            accounts: vec![crate::sources::code42::sim::LocalAccount {
                username: "demo@example.com".into(),
                password: "demo-password".into(),
                totp_secret: None,
                admin: true,
            }],
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("start the simulated Code42 console: {e}"))?;
    let rackspace = crate::sources::rackspace::sim::SimServer::start(
        crate::sources::rackspace::sim::fleet::demo_account(now),
        crate::sources::rackspace::sim::AccountConfig::default(),
    )
    .await
    .map_err(|e| format!("start the simulated Rackspace account: {e}"))?;
    let rackspace_account = crate::sources::rackspace::sim::AccountConfig::default();
    let freezer = crate::sources::freezer::sim::SimServer::start(
        crate::sources::freezer::sim::fleet::demo_deployment(now.timestamp()),
        crate::sources::freezer::sim::SimConfig::default(),
    )
    .await
    .map_err(|e| format!("start the simulated Freezer deployment: {e}"))?;
    use crate::sources::freezer::sim::{DEV_PROJECT_ID, PROD_PROJECT_ID, PROD_PROJECT_NAME};
    let toml = format!(
        r#"
        listen = "{listen}"
        log_format = "{}"
        [[source]]
        name = "demo-crashplan"
        kind = "crashplan"
        url = "{}"
        username = "demo"
        password = "demo-password"
        refresh_interval = "30s"
        timeout = "10s"
        page_size = 25
        [[source]]
        name = "demo-code42"
        kind = "code42"
        url = "{}"
        username = "demo@example.com"
        password = "demo-password"
        refresh_interval = "30s"
        timeout = "10s"
        page_size = 10
        [[source]]
        name = "demo-rackspace"
        kind = "rackspace"
        identity_url = "{}"
        username = "{}"
        api_key = "{}"
        region = "DFW"
        refresh_interval = "30s"
        timeout = "10s"
        [[source]]
        name = "demo-freezer"
        kind = "freezer"
        identity_url = "{}"
        username = "{}"
        password = "{}"
        project_name = "{}"
        projects = ["{}", "{}"]
        refresh_interval = "30s"
        timeout = "10s"
        page_size = 10
        "#,
        match format {
            LogFormat::Json => "json",
            LogFormat::Human => "human",
        },
        sim.url(),
        console.url(),
        rackspace.url(),
        rackspace_account.username,
        rackspace_account.api_key,
        freezer.identity_url(),
        crate::sources::freezer::sim::ADMIN_USER_NAME,
        crate::sources::freezer::sim::DEMO_ADMIN_PASSWORD,
        PROD_PROJECT_NAME,
        PROD_PROJECT_ID,
        DEV_PROJECT_ID,
    );
    let toml = match &alertmanager {
        Some(url) => {
            format!("{toml}\n[alertmanager]\nurls = [\"{url}\"]\nresend_interval = \"30s\"\n")
        }
        None => toml,
    };
    let mut config =
        Config::from_toml_str(&toml).map_err(|e| format!("demo configuration: {e}"))?;
    // `--listen` wins over BACKUP_EXPORTER_LISTEN, which the environment layer applied.
    config.listen = listen;
    let sim_url = sim.url();
    let console_url = console.url();
    let rackspace_url = rackspace.url();
    let keystone_url = freezer.identity_url();
    let result = serve_until(&config, |addr| {
        let shown = if addr.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), addr.port())
        } else {
            addr
        };
        println!("backup_exporter demo");
        println!("  simulated CrashPlan PRO server: {sim_url}/rest/ (user demo)");
        println!("  simulated Code42 console:       {console_url}/api/v1/Computer (user demo@example.com)");
        println!("  simulated Rackspace account:    {rackspace_url}/v2.0/tokens (user {})", rackspace_account.username);
        println!("  simulated OpenStack Freezer:    {keystone_url}/auth/tokens (user {})", crate::sources::freezer::sim::ADMIN_USER_NAME);
        println!("  exporter status page:           http://{shown}/");
        println!("  metrics:                        http://{shown}/metrics");
        match &alertmanager {
            Some(url) => println!("  alerts sent to Alertmanager:    {url}"),
            None => println!("  alerts (status page):           http://{shown}/#alerts"),
        }
        println!("  stop with Ctrl-C");
    }, shutdown)
    .await;
    sim.shutdown().await;
    console.shutdown().await;
    rackspace.shutdown().await;
    freezer.shutdown().await;
    result
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
