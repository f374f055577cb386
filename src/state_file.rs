//! The state file (`state_file`): what the exporter has learned of every source's targets
//! ([`crate::stale::Memory`]: when it first read each, the last success the vendor reported)
//! and the bridge's pending and firing alerts ([`Kept`]: when each began and fired), kept
//! across restarts so that a restart changes no alert. Without it, a restart starts the
//! first-seen times again (BackupNeverCompleted then waits up to one more threshold) and
//! forgets successes only an earlier refresh could see.
//!
//! JSON, one object per source (by name, with its kind: a source renamed or of another kind
//! starts afresh), written after each successful refresh to a temporary file beside it and
//! renamed over it, so a crash mid-write leaves the previous file. Targets not read for a week
//! are left out, as [`crate::stale::Memory`] forgets them. A file that cannot be read (absent,
//! unreadable, not this format, over [`MAX_BYTES`]) is reported once at start and the exporter
//! starts afresh; a write that fails is logged and tried again after the next refresh.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::alerting::state::Kept;
use crate::stale::{Learned, Memory};

/// The version of the format written; a file of another version is not read.
const VERSION: u32 = 1;

/// A state file larger than this is not read (about 12 million targets).
pub const MAX_BYTES: u64 = 1 << 30;

/// The state file of a running exporter.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// The sequence number of the last contents written, and whether the last write failed:
    /// writes end in the order their contents were taken.
    written: Mutex<(u64, bool)>,
    /// The sequence number of the contents taken last.
    taken: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    version: u32,
    /// When it was written (Unix seconds).
    #[serde(default)]
    saved_at: f64,
    sources: BTreeMap<String, SourceContents>,
    #[serde(default)]
    alerts: Vec<AlertRow>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AlertRow {
    labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "exact::f64")]
    active_since: f64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "exact::option"
    )]
    fired_at: Option<f64>,
}

/// What a state file held of the configured sources.
#[derive(Debug, Default)]
pub struct Loaded {
    pub memories: HashMap<String, Memory>,
    /// The pending and firing alerts, as of `saved_at`.
    pub alerts: Vec<Kept>,
    pub saved_at: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SourceContents {
    kind: String,
    targets: Vec<Row>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Row {
    device_id: String,
    target: String,
    #[serde(deserialize_with = "exact::f64")]
    first_read: f64,
    #[serde(deserialize_with = "exact::f64")]
    last_read: f64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "exact::option"
    )]
    last_success: Option<f64>,
}

/// Times read back exactly as they were written: serde_json writes the shortest text that
/// reads back as the same f64, but its own reading may be one bit off in the fraction (a
/// first-seen time would move by a fraction of a microsecond across a restart). The number's
/// text is read by the standard library's exact parser instead.
mod exact {
    use serde::{Deserialize, Deserializer};
    use serde_json::value::RawValue;

    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        raw.get()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{} is not a number", raw.get())))
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        f64(d).map(Some)
    }
}

/// Contents taken from the sources' memories, ready to write.
#[derive(Debug)]
pub struct Taken {
    sequence: u64,
    bytes: Vec<u8>,
}

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        StateFile {
            path,
            written: Mutex::new((0, false)),
            taken: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what the file holds of the sources `sources` (name, kind): their memories and
    /// alerts. Empty when there is no file yet; `Err` says why a file could not be read.
    pub fn load(&self, sources: &[(&str, &str)]) -> Result<Loaded, String> {
        let mut memories = HashMap::new();
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
            Err(e) => return Err(format!("cannot open it: {e}")),
        };
        let mut bytes = Vec::new();
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read it: {e}"))?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(format!("it is larger than {MAX_BYTES} bytes"));
        }
        let contents: Contents = serde_json::from_slice(&bytes)
            .map_err(|e| format!("it is not a state file of this exporter: {e}"))?;
        if contents.version != VERSION {
            return Err(format!(
                "it is of version {}, this exporter reads version {VERSION}",
                contents.version
            ));
        }
        let plausible = |t: f64| t.is_finite() && t >= 0.0;
        let alerts = contents
            .alerts
            .into_iter()
            .filter(|a| {
                plausible(a.active_since)
                    && a.fired_at.is_none_or(plausible)
                    && a.labels
                        .get("source")
                        .is_some_and(|name| sources.iter().any(|(n, _)| n == name))
            })
            .map(|a| Kept {
                labels: a.labels.into_iter().collect(),
                active_since: a.active_since,
                fired_at: a.fired_at,
            })
            .collect();
        for (name, source) in contents.sources {
            let configured = sources
                .iter()
                .any(|(n, kind)| *n == name && *kind == source.kind);
            if !configured {
                continue;
            }
            let memory: &mut Memory = memories.entry(name).or_default();
            for row in source.targets {
                if !(plausible(row.first_read) && plausible(row.last_read))
                    || row.last_success.is_some_and(|t| !plausible(t))
                {
                    continue;
                }
                memory.restore(
                    &row.device_id,
                    &row.target,
                    Learned {
                        first: row.first_read,
                        last: row.last_read,
                        success: row.last_success,
                    },
                );
            }
        }
        Ok(Loaded {
            memories,
            alerts,
            saved_at: contents.saved_at,
        })
    }

    /// Takes the contents to write at `now` from the sources' memories ((name, kind, memory)
    /// each, locked one at a time) and the alerts.
    pub fn take<'a>(
        &self,
        sources: impl Iterator<Item = (&'a str, &'a str, &'a Mutex<Memory>)>,
        alerts: Vec<Kept>,
        now: f64,
    ) -> Taken {
        let mut contents = Contents {
            version: VERSION,
            saved_at: now,
            sources: BTreeMap::new(),
            alerts: alerts
                .into_iter()
                .map(|k| AlertRow {
                    labels: k.labels.into_iter().collect(),
                    active_since: k.active_since,
                    fired_at: k.fired_at,
                })
                .collect(),
        };
        for (name, kind, memory) in sources {
            let memory = memory.lock().expect("memory lock");
            let targets = memory
                .iter()
                .map(|(device_id, target, learned)| Row {
                    device_id: device_id.to_owned(),
                    target: target.to_owned(),
                    first_read: learned.first,
                    last_read: learned.last,
                    last_success: learned.success,
                })
                .collect();
            contents.sources.insert(
                name.to_owned(),
                SourceContents {
                    kind: kind.to_owned(),
                    targets,
                },
            );
        }
        let sequence = self.taken.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1;
        Taken {
            sequence,
            bytes: serde_json::to_vec(&contents).expect("the state serializes"),
        }
    }

    /// Writes contents taken by [`StateFile::take`], unless later ones were written already.
    /// Blocking: file I/O. Logs a failure (once until a write succeeds again).
    pub fn write(&self, taken: Taken) {
        let mut written = self.written.lock().expect("state file lock");
        if written.0 >= taken.sequence {
            return;
        }
        match write_replacing(&self.path, &taken.bytes) {
            Ok(()) => {
                if written.1 {
                    tracing::info!(path = %self.path.display(), "state file written again");
                }
                *written = (taken.sequence, false);
            }
            Err(e) => {
                if !written.1 {
                    tracing::warn!(
                        path = %self.path.display(),
                        error = %e,
                        "cannot write the state file; what the exporter learned will not survive a restart until it can"
                    );
                }
                written.1 = true;
            }
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(rows: &[(&str, &str, f64, Option<f64>)]) -> Mutex<Memory> {
        let mut m = Memory::default();
        for (device_id, target, now, success) in rows {
            m.touch(device_id, target, *now, *success);
        }
        Mutex::new(m)
    }

    fn known(m: &Memory) -> Vec<(String, String, Learned)> {
        let mut rows: Vec<_> = m
            .iter()
            .map(|(d, t, l)| (d.to_owned(), t.to_owned(), *l))
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        rows
    }

    #[test]
    fn what_is_written_is_read_back_for_the_same_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        assert!(file
            .load(&[("hq", "crashplan")])
            .unwrap()
            .memories
            .is_empty());
        // Ids above 2^53 and targets with any characters come back as they were.
        let hq = memory(&[
            ("9007199254740993", "cloud \"east\"", 100.0, Some(90.0)),
            ("1", "local", 200.0, None),
        ]);
        let other = memory(&[("7", "x", 300.0, None)]);
        let alert = |source: &str| Kept {
            labels: vec![
                ("alertname".into(), "BackupStale".into()),
                ("source".into(), source.into()),
            ],
            active_since: 5.0,
            fired_at: Some(6.0),
        };
        let taken = file.take(
            [("hq", "crashplan", &hq), ("old", "code42", &other)].into_iter(),
            vec![alert("hq"), alert("gone")],
            1234.5,
        );
        file.write(taken);
        let all = file
            .load(&[("hq", "crashplan"), ("old", "rackspace")])
            .unwrap();
        assert_eq!(all.saved_at, 1234.5);
        assert_eq!(
            all.alerts,
            [alert("hq")],
            "alerts of configured sources only"
        );
        let loaded = all.memories;
        assert_eq!(loaded.len(), 1, "a source of another kind starts afresh");
        assert_eq!(known(&loaded["hq"]), known(&hq.lock().unwrap()));
        assert_eq!(
            known(&loaded["hq"])[1],
            (
                "9007199254740993".into(),
                "cloud \"east\"".into(),
                Learned {
                    first: 100.0,
                    last: 100.0,
                    success: Some(90.0)
                }
            )
        );
    }

    #[test]
    fn times_read_back_to_the_bit() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        let times = [1_796_302_112.333_809_9, 1_796_302_108.272_780_7, 0.1 + 0.2];
        let rows: Vec<_> = times.iter().map(|t| ("1", "a", *t, Some(*t))).collect();
        for row in rows {
            let m = memory(&[row]);
            file.write(file.take([("hq", "crashplan", &m)].into_iter(), Vec::new(), 0.0));
            let back = &known(&file.load(&[("hq", "crashplan")]).unwrap().memories["hq"])[0].2;
            assert_eq!(back.first.to_bits(), row.2.to_bits());
            assert_eq!(back.success.map(f64::to_bits), Some(row.2.to_bits()));
        }
    }

    #[test]
    fn later_contents_are_not_replaced_by_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        let first = file.take(
            [("hq", "crashplan", &memory(&[("1", "a", 1.0, None)]))].into_iter(),
            Vec::new(),
            0.0,
        );
        let second = file.take(
            [("hq", "crashplan", &memory(&[("2", "b", 2.0, None)]))].into_iter(),
            Vec::new(),
            0.0,
        );
        file.write(second);
        file.write(first);
        let loaded = file.load(&[("hq", "crashplan")]).unwrap().memories;
        assert_eq!(known(&loaded["hq"])[0].0, "2");
    }

    #[test]
    fn a_file_that_cannot_be_read_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let file = StateFile::new(path.clone());
        for (text, wants) in [
            ("{\"version\": 1, \"sources\": ", "not a state file"),
            ("[1, 2, 3]", "not a state file"),
            ("{\"version\": 2, \"sources\": {}}", "version 2"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = file.load(&[("hq", "crashplan")]).unwrap_err();
            assert!(err.contains(wants), "{text}: {err}");
        }
        // Implausible times (negative, beyond f64) are left out, the rest is read.
        std::fs::write(
            &path,
            r#"{"version":1,"sources":{"hq":{"kind":"crashplan","targets":[
                {"device_id":"1","target":"a","first_read":-5,"last_read":1},
                {"device_id":"2","target":"a","first_read":1e400,"last_read":1},
                {"device_id":"3","target":"a","first_read":1,"last_read":2,"last_success":1.5}
            ]}}}"#,
        )
        .unwrap();
        let loaded = file.load(&[("hq", "crashplan")]).unwrap().memories;
        assert_eq!(known(&loaded["hq"]).len(), 1);
        // A time that is not a number is not a state file of this exporter.
        std::fs::write(
            &path,
            r#"{"version":1,"sources":{"hq":{"kind":"crashplan","targets":[
                {"device_id":"1","target":"a","first_read":"soon","last_read":1}
            ]}}}"#,
        )
        .unwrap();
        let err = file.load(&[("hq", "crashplan")]).unwrap_err();
        assert!(
            err.contains("not a state file") && err.contains("soon"),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        let err = StateFile::new(dir.path().join("dir"))
            .load(&[("hq", "crashplan")])
            .unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let file = StateFile::new(path.clone());
        file.write(file.take(
            [("hq", "crashplan", &memory(&[("1", "a", 1.0, None)]))].into_iter(),
            Vec::new(),
            0.0,
        ));
        // The temporary file's name is taken by a directory: the write fails.
        std::fs::create_dir(dir.path().join("state.json.tmp")).unwrap();
        file.write(file.take(
            [("hq", "crashplan", &memory(&[("2", "b", 2.0, None)]))].into_iter(),
            Vec::new(),
            0.0,
        ));
        let loaded = file.load(&[("hq", "crashplan")]).unwrap().memories;
        assert_eq!(known(&loaded["hq"])[0].0, "1");
        std::fs::remove_dir(dir.path().join("state.json.tmp")).unwrap();
        file.write(file.take(
            [("hq", "crashplan", &memory(&[("3", "c", 3.0, None)]))].into_iter(),
            Vec::new(),
            0.0,
        ));
        assert_eq!(
            known(&file.load(&[("hq", "crashplan")]).unwrap().memories["hq"])[0].0,
            "3"
        );
    }
}
