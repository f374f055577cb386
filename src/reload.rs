//! Reading the configuration again while serving, as Prometheus does: on SIGHUP, and on
//! `POST` or `PUT /-/reload` when the lifecycle endpoint is on (`--web.enable-lifecycle`).
//!
//! A reload reads the configuration file with the environment and the flags over it, as at
//! start, and the web configuration file. Nothing changes unless both load: an invalid file
//! keeps the running configuration, the log says why (naming the file and the key), and
//! `/-/reload` answers 500 with the same reason. Then the sources change as
//! `crate::refresh::Exporter::reload_sources` says (only those whose settings changed
//! restart), the web configuration is put in force, and the keys only a restart applies
//! (`Config::hold_restart_only`: the listen addresses, the alerting bridge, ...) keep their
//! running values, with one log line saying so.
//!
//! `backup_exporter_config_last_reload_successful` and
//! `backup_exporter_config_last_reload_success_timestamp_seconds` tell how the last reading
//! went; the self-metrics are rendered again at once, so the next scrape shows them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{Config, Flags};
use crate::refresh::{Exporter, SourcesReloaded};
use crate::web::WebConfigFile;

/// Where the configuration is read from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The file (`--config.file`; none: the environment and the flags alone), with the flags.
    File(Option<PathBuf>, Flags),
    /// TOML text (the demo's), with the flags.
    Text(String, Flags),
}

impl ConfigSource {
    /// Reads the configuration: defaults, the file or text, the environment, the flags; it
    /// must be runnable. An error names the file and the key.
    pub fn load(&self) -> Result<Config, String> {
        let config = match self {
            ConfigSource::File(path, flags) => {
                Config::load_with(path.as_deref(), flags).map_err(|e| match path {
                    // figment names the file for a value that does not read, not for a rule.
                    Some(path) if !e.to_string().contains(&path.display().to_string()) => {
                        format!("config file {}: {e}", path.display())
                    }
                    _ => e.to_string(),
                })?
            }
            ConfigSource::Text(text, flags) => {
                Config::from_toml_str_with(text, flags).map_err(|e| e.to_string())?
            }
        };
        config.check_runnable().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// Reloads the running exporter's configuration, one reload at a time.
pub struct Reloader {
    source: ConfigSource,
    /// The configuration as it started: keys only a restart applies are held at its values.
    started: Config,
    exporter: Arc<Exporter>,
    web: Arc<WebConfigFile>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// `started`: the configuration the exporter and `web` were made from, read from
    /// `source`.
    pub fn new(
        source: ConfigSource,
        started: Config,
        exporter: Arc<Exporter>,
        web: Arc<WebConfigFile>,
    ) -> Reloader {
        Reloader {
            source,
            started,
            exporter,
            web,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads the configuration again and applies it; `trigger` (`SIGHUP`, `/-/reload`) is
    /// logged. The reload runs in a task of its own: a client that goes away does not cut
    /// it short.
    pub async fn reload(self: &Arc<Self>, trigger: &'static str) -> Result<(), String> {
        let me = self.clone();
        tokio::spawn(async move { me.reload_now(trigger).await })
            .await
            .unwrap_or_else(|e| Err(format!("the reload stopped: {e}")))
    }

    async fn reload_now(&self, trigger: &'static str) -> Result<(), String> {
        let _one = self.one_at_a_time.lock().await;
        tracing::info!(trigger, "reloading the configuration");
        let result = self.apply().await;
        let metrics = &self.exporter.metrics;
        metrics.config_read(result.is_ok(), crate::time::unix(SystemTime::now()));
        self.exporter.render_self_metrics();
        match result {
            Ok((done, held)) => {
                let names = |list: &[String]| list.join(", ");
                tracing::info!(
                    trigger,
                    kept = %names(&done.kept),
                    restarted = %names(&done.restarted),
                    added = %names(&done.added),
                    removed = %names(&done.removed),
                    "configuration reloaded"
                );
                if !held.is_empty() {
                    tracing::warn!(
                        keys = %held.join(", "),
                        "configuration reloaded, but these keys changed and need a restart; \
                         their running values stay in force until then"
                    );
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    trigger,
                    error = %e,
                    "reloading the configuration failed; the running one stays in force"
                );
                Err(e)
            }
        }
    }

    /// Reads both files, then applies them; returns what changed of the sources and the
    /// keys held for a restart.
    async fn apply(&self) -> Result<(SourcesReloaded, Vec<&'static str>), String> {
        let mut config = self.source.load()?;
        let web = self.web.read()?;
        let held = config.hold_restart_only(&self.started);
        let done = self.exporter.reload_sources(&config).await?;
        if let Some(web) = web {
            tracing::info!(
                file = %self.web.path().map(|p| p.display().to_string()).unwrap_or_default(),
                "web config: {}",
                web.summary()
            );
            self.web.put(web);
        }
        Ok((done, held))
    }
}
