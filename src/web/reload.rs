//! The web configuration file, read again when it changes: the toolkit reads it on every
//! request; here its modification time and size (and those of the certificates, keys and CAs
//! it names) are looked at, at most once a second, and it is read again when one changed. A
//! new file that does not load keeps the previous configuration in force, and the log says
//! why (once per change). A reload of the configuration (SIGHUP, `/-/reload`) reads it too,
//! whether or not it changed ([`WebConfigFile::read`], then [`WebConfigFile::put`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;

use super::config::WebConfig;

/// How often the files' metadata is looked at, at most.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What identifies a version of a file: modification time, size, inode (a symlink swapped,
/// as Kubernetes does with mounted secrets, changes the inode).
type Stamp = Vec<Option<(SystemTime, u64, u64)>>;

pub struct WebConfigFile {
    path: Option<PathBuf>,
    current: ArcSwap<WebConfig>,
    checked: Mutex<(Instant, Stamp)>,
}

impl WebConfigFile {
    /// No file: plain HTTP, no authentication, never reloaded.
    pub fn open() -> WebConfigFile {
        WebConfigFile {
            path: None,
            current: ArcSwap::from_pointee(WebConfig::open()),
            checked: Mutex::new((Instant::now(), Vec::new())),
        }
    }

    /// Loads the file now; an error (naming the file and the key) stops the start.
    pub fn load(path: &Path) -> Result<WebConfigFile, String> {
        let config = WebConfig::load(path)?;
        let stamp = stamp(path, &config.files);
        Ok(WebConfigFile {
            path: Some(path.to_owned()),
            current: ArcSwap::from_pointee(config),
            checked: Mutex::new((Instant::now(), stamp)),
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The configuration in force, after reading the file again if it changed (looked at no
    /// more than once a second).
    pub fn current(&self) -> Arc<WebConfig> {
        if let Some(path) = &self.path {
            // Whoever finds it due looks; the others go on with the configuration in force.
            let checked = self.checked.try_lock();
            if let Some(mut checked) = checked.ok().filter(|c| c.0.elapsed() >= CHECK_EVERY) {
                checked.0 = Instant::now();
                let files = self.current.load().files.clone();
                let now = stamp(path, &files);
                if now != checked.1 {
                    checked.1 = now;
                    match WebConfig::load(path) {
                        Ok(config) => {
                            checked.1 = stamp(path, &config.files);
                            tracing::info!(file = %path.display(), "web config file reloaded: {}", config.summary());
                            self.current.store(Arc::new(config));
                        }
                        Err(e) => tracing::warn!(
                            "web config file changed but does not load; keeping the previous one: {e}"
                        ),
                    }
                }
            }
        }
        self.current.load_full()
    }
}

impl WebConfigFile {
    /// Reads the file now, changed or not, without putting it in force (`None`: there is no
    /// file); an error names the file and the key.
    pub fn read(&self) -> Result<Option<WebConfig>, String> {
        self.path.as_deref().map(WebConfig::load).transpose()
    }

    /// Puts a configuration [`WebConfigFile::read`] gave in force.
    pub fn put(&self, config: WebConfig) {
        if let Some(path) = &self.path {
            let mut checked = self.checked.lock().expect("web config lock");
            *checked = (Instant::now(), stamp(path, &config.files));
            self.current.store(Arc::new(config));
        }
    }
}

fn stamp(path: &Path, files: &[PathBuf]) -> Stamp {
    std::iter::once(path)
        .chain(files.iter().map(PathBuf::as_path))
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            Some((m.modified().ok()?, m.len(), inode))
        })
        .collect()
}
