//! Prometheus text exposition (format 0.0.4) for the data families.
//!
//! Data families are rebuilt from each source's snapshot once per refresh (never per scrape):
//! a [`MetricSet`] holds, per family, the sample lines of one source, compressed as they are
//! written. [`assemble_deflate`] concatenates the sets of every source under one
//! `# HELP`/`# TYPE` header per family, so a family shared by several sources (every
//! vendor-neutral `backup_*` family) stays contiguous, as the format wants.
//!
//! Only compressed bytes are kept: a family's lines gather in a small text buffer, and each
//! time it passes [`PIECE_BYTES`] the buffer is compressed as one raw deflate piece, flushed
//! to a byte boundary and not final (a sync flush), so any run of pieces is one valid deflate
//! stream. Each piece is compressed on its own (the set's one encoder is reset before each):
//! the pieces of different families and sources can then be put in any order, and the set
//! needs one encoder, not one per family (which measured 9 MB more for 25 families, and 2 to 4
//! times slower, against 0.2 % smaller output at 64 KB pieces). The CRC-32 and length of
//! the text travel with the pieces, so the gzip stream of the whole exposition is put together
//! from them without inflating or compressing anything again; [`MetricSet::seal`] compresses
//! the last partial pieces once a source's snapshot is complete.
//!
//! A set written by one long mapping (a fleet's pages, one after the other) may have its
//! pieces compressed on a thread of its own ([`MetricSet::compress_beside`]) while the mapping
//! writes on: the same pieces, in the same order, off the mapping's path. [`MetricSet::settle`]
//! takes them back before the set is read.
//!
//! The sample lines are valid OpenMetrics as they are (label escaping and values are written
//! the way both formats read them): only each family's header differs, so [`Deflated`] keeps
//! both headers and serves either format from the same pieces (`crate::openmetrics`).
//!
//! Metric descriptors ([`Desc`]) are declared once, in `crate::metrics`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress};

use crate::openmetrics::{self, Format};
pub use crate::sample_text::{escape_into, write_value};
use crate::shard::{self, Shard};

/// The type written on a family's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    /// The type as a 0.0.4 `# TYPE` line writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// Which identity labels every sample of a family starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Vendor-neutral family: `system` and `source` labels.
    Neutral,
    /// Vendor-specific family (its name carries the vendor prefix): `source` label only.
    Vendor,
}

/// A metric family's fixed description.
#[derive(Debug)]
pub struct Desc {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub scope: Scope,
    /// The labels a sample carries after the scope labels, in order (documentation and checks).
    pub labels: &'static [&'static str],
    /// Written only when the configuration includes it (`[families] include`); the default
    /// set is what the bundled rules, dashboards and alerting bridge need.
    pub opt_in: bool,
}

/// Which families a [`MetricSet`] writes: the default set (every family not marked opt-in),
/// plus the opt-in families the configuration includes, less those it excludes; and of them,
/// which series: this exporter's shard's (`crate::shard`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Every family, opt-in or not, whatever the lists say (tests of a vendor's mapping).
    everything: bool,
    /// Opt-in families turned on.
    included: HashSet<&'static str>,
    /// Families turned off; wins over `included`.
    excluded: HashSet<&'static str>,
    /// The devices written: the shard's; the families without a `device_id`, on shard 0 only.
    shard: Shard,
}

static EVERYTHING: LazyLock<Arc<Exposure>> = LazyLock::new(|| {
    Arc::new(Exposure {
        everything: true,
        ..Exposure::default()
    })
});

impl Exposure {
    /// The default set, with the opt-in families of `included` and without those of `excluded`.
    pub fn new(
        included: impl IntoIterator<Item = &'static str>,
        excluded: impl IntoIterator<Item = &'static str>,
    ) -> Exposure {
        Exposure {
            everything: false,
            included: included.into_iter().collect(),
            excluded: excluded.into_iter().collect(),
            shard: Shard::ONE,
        }
    }

    /// Every family, opt-in included (a vendor's mapping tests see all it writes).
    pub fn everything() -> &'static Arc<Exposure> {
        &EVERYTHING
    }

    /// The exposure, writing only the series of `shard`.
    pub fn sharded(self, shard: Shard) -> Exposure {
        Exposure { shard, ..self }
    }

    /// The shard whose series are written.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Whether samples of `desc` are written.
    pub fn writes(&self, desc: &Desc) -> bool {
        self.everything
            || (!self.excluded.contains(desc.name)
                && (!desc.opt_in || self.included.contains(desc.name)))
    }
}

/// Whose samples a [`MetricSet`] holds: the configured source's name, and what it exposes.
/// A bare name (`"hq".into()`) exposes every family.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub source: &'a str,
    pub exposure: &'a Arc<Exposure>,
}

impl<'a> From<&'a str> for Origin<'a> {
    fn from(source: &'a str) -> Origin<'a> {
        Origin {
            source,
            exposure: Exposure::everything(),
        }
    }
}

impl<'a> From<&'a String> for Origin<'a> {
    fn from(source: &'a String) -> Origin<'a> {
        Origin::from(source.as_str())
    }
}

/// The sample lines of one source, grouped by family, compressed as they are written.
#[derive(Debug)]
pub struct MetricSet {
    neutral_prefix: String,
    vendor_prefix: String,
    exposure: Arc<Exposure>,
    /// The source's half of its devices' shard keys (`crate::shard`).
    source_hash: u64,
    /// Few (one per family written), so found by a scan comparing `Desc` addresses: cheaper
    /// than a map keyed by name when every sample looks its family up.
    families: Vec<Family>,
    /// Compresses every piece of the set: here, or on a thread beside the writer.
    encoder: Compressor,
}

/// Who compresses a set's pieces.
#[derive(Debug)]
enum Compressor {
    /// The writer, with one encoder (reset before each piece): made at the first piece,
    /// dropped when the set is sealed.
    Here(Option<Box<Compress>>),
    /// A thread beside the writer, started at the first piece.
    Beside(Option<Beside>),
}

impl Default for Compressor {
    fn default() -> Compressor {
        Compressor::Here(None)
    }
}

/// Pieces compressed on a thread of their own, in the order they were handed over (one
/// thread, first in first out: a family's pieces come back in its order).
#[derive(Debug)]
struct Beside {
    to: std::sync::mpsc::SyncSender<(usize, String)>,
    /// In a mutex only for the set to be `Sync` (read by many once complete); only the
    /// writer takes it.
    back: Mutex<std::sync::mpsc::Receiver<Compressed>>,
    worker: std::thread::JoinHandle<()>,
    /// Text buffers the thread has emptied, for the next pieces.
    spare: Vec<String>,
}

/// One piece compressed beside: for the family at `family`, with its text's CRC and length,
/// and the emptied text buffer.
#[derive(Debug)]
struct Compressed {
    family: usize,
    piece: Vec<u8>,
    crc: Crc,
    len: u64,
    text: String,
}

/// The fewest items [`MetricSet::write_runs`] gives a thread of its own: fewer are written
/// faster than a thread starts and its part is absorbed.
pub const MIN_RUN: usize = 2048;

/// Pieces waiting for the thread beside at most: the text they hold is bounded (4 × 64 KB).
const BESIDE_QUEUE: usize = 4;

impl Beside {
    fn start() -> Option<Beside> {
        let (to, pieces) = std::sync::mpsc::sync_channel::<(usize, String)>(BESIDE_QUEUE);
        let (done, back) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("deflate".into())
            .spawn(move || {
                let mut encoder = new_encoder();
                for (family, mut text) in pieces {
                    let mut piece = Vec::new();
                    deflate_piece(&mut encoder, text.as_bytes(), &mut piece);
                    let mut crc = Crc::new();
                    crc.update(text.as_bytes());
                    let len = text.len() as u64;
                    text.clear();
                    let compressed = Compressed {
                        family,
                        piece,
                        crc,
                        len,
                        text,
                    };
                    if done.send(compressed).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Beside {
            to,
            back: Mutex::new(back),
            worker,
            spare: Vec::new(),
        })
    }
}

/// How much text a family gathers before it is compressed as one piece. Smaller pieces
/// compress worse, as each starts with an empty window (5 % larger output at 16 KB, 0.2 % at
/// 64 KB, than an encoder per family keeping its window); larger ones hold more text per
/// family while the set is written.
pub const PIECE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Family {
    desc: &'static Desc,
    /// Whether the exposure writes the family (decided once, when its first sample comes):
    /// on a shard but the first, only the families with a `device_id` label.
    on: bool,
    /// Whether each sample's `device_id` decides if it is written (sharded, and the family has
    /// the label).
    sharded: bool,
    /// Sample lines not compressed yet (less than [`PIECE_BYTES`]).
    body: String,
    /// The lines compressed so far.
    deflated: Pieces,
    samples: usize,
}

impl Clone for MetricSet {
    /// The samples and their compressed pieces; the copy makes its own encoder when it needs
    /// one. A set compressing beside is settled first ([`MetricSet::settle`]).
    fn clone(&self) -> MetricSet {
        debug_assert!(
            self.is_settled(),
            "a set compressing beside is settled before it is read"
        );
        MetricSet {
            neutral_prefix: self.neutral_prefix.clone(),
            vendor_prefix: self.vendor_prefix.clone(),
            exposure: self.exposure.clone(),
            source_hash: self.source_hash,
            families: self.families.clone(),
            encoder: Compressor::default(),
        }
    }
}

impl Default for MetricSet {
    fn default() -> MetricSet {
        MetricSet::new("", "")
    }
}

impl MetricSet {
    /// A set whose samples are labelled `system="<system>",source="<source>"` (neutral families)
    /// or `source="<source>"` (vendor families), holding the families `origin`'s exposure
    /// writes.
    pub fn new<'a>(system: &str, origin: impl Into<Origin<'a>>) -> Self {
        let origin = origin.into();
        let mut vendor_prefix = String::from("source=\"");
        escape_into(&mut vendor_prefix, origin.source);
        vendor_prefix.push('"');
        let mut neutral_prefix = String::from("system=\"");
        escape_into(&mut neutral_prefix, system);
        neutral_prefix.push_str("\",");
        neutral_prefix.push_str(&vendor_prefix);
        MetricSet {
            neutral_prefix,
            vendor_prefix,
            exposure: origin.exposure.clone(),
            source_hash: shard::source_hash(origin.source),
            families: Vec::new(),
            encoder: Compressor::default(),
        }
    }

    /// From its next piece on, compresses the set's pieces on a thread of its own while the
    /// writer goes on (the same pieces, in the same order). For a set written by one long
    /// mapping; [`MetricSet::settle`] (or [`MetricSet::seal`]) takes them back before the set
    /// is read. The thread starts at the first piece: a small set never starts one.
    pub fn compress_beside(&mut self) {
        if let Compressor::Here(_) = self.encoder {
            self.encoder = Compressor::Beside(None);
        }
    }

    /// Waits for the pieces compressed beside and takes them into their families; the set
    /// compresses its pieces itself again.
    pub fn settle(&mut self) {
        if let Compressor::Beside(Some(Beside {
            to, back, worker, ..
        })) = std::mem::take(&mut self.encoder)
        {
            drop(to);
            let back = back.into_inner().unwrap_or_else(|e| e.into_inner());
            for compressed in back {
                take_back(&mut self.families, compressed);
            }
            let _ = worker.join();
        }
    }

    fn is_settled(&self) -> bool {
        matches!(self.encoder, Compressor::Here(_))
    }

    /// Adds one sample. `labels` follow the scope labels; a value that is not finite is written
    /// as Prometheus spells it (`NaN`, `+Inf`, `-Inf`).
    pub fn add(&mut self, desc: &'static Desc, labels: &[(&str, &str)], value: f64) {
        debug_assert!(
            labels_follow(labels, desc.labels),
            "labels of {} must be a subsequence of {:?}",
            desc.name,
            desc.labels
        );
        let device = || {
            labels
                .iter()
                .find(|(name, _)| *name == shard::DEVICE_ID)
                .map(|(_, id)| shard::device_hash(id))
        };
        self.sample(desc, value, device, |body| write_labels(body, labels));
    }

    /// Adds one sample with labels escaped beforehand (many families of one device share them).
    pub fn add_labels(&mut self, desc: &'static Desc, labels: &Labels, value: f64) {
        labels.check(desc);
        self.sample(
            desc,
            value,
            || labels.device_hash,
            |body| body.push_str(&labels.text),
        );
    }

    /// Writes one sample, when the exposure writes its family and, sharded, its device (the
    /// hash of its raw `device_id`, asked only then; a sample without one counts as
    /// fleet-wide).
    fn sample(
        &mut self,
        desc: &'static Desc,
        value: f64,
        device: impl FnOnce() -> Option<u64>,
        labels: impl FnOnce(&mut String),
    ) {
        let MetricSet {
            neutral_prefix,
            vendor_prefix,
            exposure,
            source_hash,
            families,
            encoder,
        } = self;
        let index = family_index(families, exposure, desc);
        let family = &mut families[index];
        if !family.on {
            return;
        }
        if family.sharded {
            let shard = exposure.shard;
            let owned = match device() {
                Some(device) => shard.owns(*source_hash, device),
                None => shard.writes_fleet_wide(),
            };
            if !owned {
                return;
            }
        }
        let body = &mut family.body;
        body.push_str(desc.name);
        body.push('{');
        body.push_str(match desc.scope {
            Scope::Neutral => neutral_prefix,
            Scope::Vendor => vendor_prefix,
        });
        labels(body);
        body.push_str("} ");
        write_value(body, value);
        body.push('\n');
        family.samples += 1;
        if family.body.len() >= PIECE_BYTES {
            match encoder {
                Compressor::Here(encoder) => family.compress(encoder),
                Compressor::Beside(beside) => hand_over(beside, families, index),
            }
        }
    }

    /// Says that about `samples` more samples of `desc` follow, whose labels (after the scope
    /// labels) take about `label_bytes`: the family's text buffer grows once to what it will
    /// hold before its first piece is compressed, not by doubling.
    pub fn reserve(&mut self, desc: &'static Desc, samples: usize, label_bytes: usize) {
        let prefix = match desc.scope {
            Scope::Neutral => self.neutral_prefix.len(),
            Scope::Vendor => self.vendor_prefix.len(),
        };
        let line = desc.name.len() + prefix + label_bytes + 24;
        let family = family_of(&mut self.families, &self.exposure, desc);
        if family.on {
            let samples = if family.sharded {
                samples.div_ceil(self.exposure.shard.total() as usize)
            } else {
                samples
            };
            let want = samples.saturating_mul(line).min(PIECE_BYTES + line);
            family.body.reserve(want.saturating_sub(family.body.len()));
        }
    }

    /// Compresses what every family has not compressed yet and lets go of the text buffers and
    /// the encoder: the set then holds compressed pieces only. Samples may still be added
    /// after (they start new pieces), at the cost of another seal.
    pub fn seal(&mut self) {
        self.settle();
        let mut encoder = None;
        for family in self.families.iter_mut() {
            if !family.body.is_empty() {
                family.compress(&mut encoder);
            }
            family.body = String::new();
            family.deflated.seal();
        }
        self.encoder = Compressor::default();
    }

    /// Compresses what every family has not compressed yet, keeping the text buffers (the
    /// set is written again, as one page of a fleet after another: see
    /// [`MetricSet::absorb`]). A set compressing beside is settled first.
    pub fn compress_rest(&mut self) {
        self.settle();
        let Compressor::Here(encoder) = &mut self.encoder else {
            return;
        };
        for family in self.families.iter_mut() {
            if !family.body.is_empty() {
                family.compress(encoder);
            }
        }
    }

    /// Moves every sample of `part` after this set's, family by family: `part` is a set of the
    /// same source and exposure written apart (one page of a fleet, mapped on a thread of its
    /// own while the next pages are). Its compressed pieces are appended as they are (text it
    /// has not compressed yet is compressed here first: [`MetricSet::compress_rest`] on its
    /// own thread saves that). `part` is left without samples, keeping its text buffers for
    /// the next page.
    pub fn absorb(&mut self, part: &mut MetricSet) {
        debug_assert!(
            self.neutral_prefix == part.neutral_prefix
                && Arc::ptr_eq(&self.exposure, &part.exposure),
            "a set absorbs sets of its own source and exposure"
        );
        part.settle();
        // Pieces compressed beside come back later than these would be appended: this set's
        // are taken back first (a set written by pages has none), and the thread starts
        // again at its next piece.
        let beside = matches!(self.encoder, Compressor::Beside(_));
        self.settle();
        for from in part.families.iter_mut().filter(|f| f.samples > 0) {
            let index = family_index(&mut self.families, &self.exposure, from.desc);
            let Compressor::Here(encoder) = &mut self.encoder else {
                unreachable!("settled above");
            };
            let to = &mut self.families[index];
            // This set's text first, then the part's pieces, then its text.
            if !to.body.is_empty() {
                to.compress(encoder);
            }
            to.deflated.take_from(&mut from.deflated);
            if !from.body.is_empty() {
                let encoder = encoder.get_or_insert_with(|| Box::new(new_encoder()));
                to.deflated.push(encoder, from.body.as_bytes());
                from.body.clear();
            }
            to.samples += from.samples;
            from.samples = 0;
        }
        if beside {
            self.compress_beside();
        }
    }

    /// An empty set of the same source and exposure: written apart (on another thread), then
    /// [absorbed](MetricSet::absorb).
    pub fn part(&self) -> MetricSet {
        MetricSet {
            neutral_prefix: self.neutral_prefix.clone(),
            vendor_prefix: self.vendor_prefix.clone(),
            exposure: self.exposure.clone(),
            source_hash: self.source_hash,
            families: Vec::new(),
            encoder: Compressor::default(),
        }
    }

    /// Writes `items` with `write`, in order, as if it were given all of them here: many
    /// items are cut into runs, one per core (of [`MIN_RUN`] items at least), each written
    /// into a [part](MetricSet::part) and compressed on a thread of its own, and the parts
    /// absorbed in order. `write` is given a run at a time (it may keep buffers across its
    /// items).
    pub fn write_runs<T: Sync>(
        &mut self,
        items: &[T],
        write: impl Fn(&mut MetricSet, &[T]) + Sync,
    ) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.write_runs_on(cores, items, write);
    }

    /// [`MetricSet::write_runs`] on `cores` cores.
    fn write_runs_on<T: Sync>(
        &mut self,
        cores: usize,
        items: &[T],
        write: impl Fn(&mut MetricSet, &[T]) + Sync,
    ) {
        let runs = cores.min(items.len() / MIN_RUN).max(1);
        if runs == 1 {
            write(self, items);
            return;
        }
        let size = items.len().div_ceil(runs);
        let write = &write;
        let parts: Vec<std::thread::Result<MetricSet>> = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(size)
                .map(|run| {
                    let mut part = self.part();
                    scope.spawn(move || {
                        write(&mut part, run);
                        part.compress_rest();
                        part
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        for part in parts {
            match part {
                Ok(mut part) => self.absorb(&mut part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }

    /// Adds a sample only when the value is known: unknown times and sizes are absent, never 0.
    pub fn add_opt(&mut self, desc: &'static Desc, labels: &[(&str, &str)], value: Option<f64>) {
        if let Some(v) = value {
            self.add(desc, labels, v);
        }
    }

    /// Adds one series of value 1 per state that holds (`active`): the `known` states first,
    /// in their order, then any other state the vendor reported. States that do not hold get
    /// no series (a state set written in full costs one series per state for every item, and
    /// nearly all of them 0); a state that stops holding ends its series, which Prometheus
    /// marks stale at the next scrape. The state goes in the family's last declared label
    /// (`state`, `status`, ...).
    pub fn add_states(
        &mut self,
        desc: &'static Desc,
        labels: &[(&str, &str)],
        known: &[&str],
        active: &[&str],
    ) {
        self.add_states_labels(desc, &Labels::new(labels), known, active);
    }

    /// [`MetricSet::add_states`] with labels escaped beforehand.
    pub fn add_states_labels(
        &mut self,
        desc: &'static Desc,
        labels: &Labels,
        known: &[&str],
        active: &[&str],
    ) {
        let state_label = desc.labels.last().copied().unwrap_or("state");
        #[cfg(debug_assertions)]
        {
            let mut state_labels = labels.clone();
            state_labels.push(state_label, "");
            state_labels.check(desc);
        }
        // The labels, then the state's: written after them, not into a copy of them.
        let series = |this: &mut Self, state: &str, value: f64| {
            this.sample(
                desc,
                value,
                || labels.device_hash,
                |body| {
                    body.push_str(&labels.text);
                    write_labels(body, &[(state_label, state)]);
                },
            );
        };
        for state in known.iter().filter(|s| active.contains(s)) {
            series(self, state, 1.0);
        }
        let mut others: Vec<&str> = Vec::new();
        for state in active.iter().filter(|s| !known.contains(s)) {
            if !others.contains(state) {
                others.push(state);
                series(self, state, 1.0);
            }
        }
    }

    /// Number of samples in the set.
    pub fn samples(&self) -> usize {
        self.families.iter().map(|f| f.samples).sum()
    }

    /// Whether the set holds any sample of the family.
    pub fn has(&self, name: &str) -> bool {
        self.family(name).is_some_and(|f| f.samples > 0)
    }

    fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.desc.name == name)
    }
}

fn family_of<'a>(
    families: &'a mut Vec<Family>,
    exposure: &Exposure,
    desc: &'static Desc,
) -> &'a mut Family {
    let i = family_index(families, exposure, desc);
    &mut families[i]
}

/// Where `desc`'s family is in `families`, added when it is not there yet.
fn family_index(families: &mut Vec<Family>, exposure: &Exposure, desc: &'static Desc) -> usize {
    match families.iter().position(|f| std::ptr::eq(f.desc, desc)) {
        Some(i) => i,
        None => {
            let per_device = desc.labels.contains(&shard::DEVICE_ID);
            let shard = exposure.shard;
            families.push(Family {
                desc,
                on: exposure.writes(desc) && (per_device || shard.writes_fleet_wide()),
                sharded: per_device && shard.is_sharded(),
                body: String::new(),
                deflated: Pieces::default(),
                samples: 0,
            });
            families.len() - 1
        }
    }
}

/// Hands the text of `families[index]` to the thread beside (started now if need be), takes
/// back what it has compressed so far, and gives the family an emptied buffer. Without a
/// thread (it could not start, or it is gone), the piece is compressed here.
fn hand_over(beside: &mut Option<Beside>, families: &mut [Family], index: usize) {
    if beside.is_none() {
        *beside = Beside::start();
    }
    let Some(b) = beside.as_mut() else {
        families[index].compress(&mut None);
        return;
    };
    let fresh = b
        .spare
        .pop()
        .unwrap_or_else(|| String::with_capacity(PIECE_BYTES + 1024));
    let text = std::mem::replace(&mut families[index].body, fresh);
    if let Err(std::sync::mpsc::SendError((_, text))) = b.to.send((index, text)) {
        // The thread is gone: what it compressed is taken back in order, then this piece
        // and the ones after are compressed here.
        let back = b.back.get_mut().unwrap_or_else(|e| e.into_inner());
        while let Ok(compressed) = back.try_recv() {
            take_back(families, compressed);
        }
        families[index]
            .deflated
            .push(&mut new_encoder(), text.as_bytes());
        *beside = None;
        return;
    }
    let back = b.back.get_mut().unwrap_or_else(|e| e.into_inner());
    while let Ok(compressed) = back.try_recv() {
        let text = take_back(families, compressed);
        if b.spare.len() < BESIDE_QUEUE {
            b.spare.push(text);
        }
    }
}

/// Appends a piece compressed beside to its family; returns the emptied text buffer.
fn take_back(families: &mut [Family], c: Compressed) -> String {
    families[c.family].deflated.append(&c.piece, &c.crc, c.len);
    c.text
}

impl Family {
    /// Compresses the text buffer as one more piece.
    fn compress(&mut self, encoder: &mut Option<Box<Compress>>) {
        let encoder = encoder.get_or_insert_with(|| Box::new(new_encoder()));
        self.deflated.push(encoder, self.body.as_bytes());
        self.body.clear();
    }
}

fn new_encoder() -> Compress {
    // Raw deflate: the gzip header and trailer are written around the assembled pieces.
    Compress::new(Compression::fast(), false)
}

/// Raw deflate pieces of some text, one after the other, each ending on a byte boundary and
/// none final; with the CRC-32 and length of the text.
#[derive(Debug, Default)]
struct Pieces {
    /// Sealed pieces, handed to the response bodies as they are.
    sealed: Bytes,
    /// Pieces compressed since the last seal (grows as pieces come).
    open: Vec<u8>,
    crc: Crc,
    len: u64,
}

impl Clone for Pieces {
    fn clone(&self) -> Pieces {
        Pieces {
            sealed: self.sealed.clone(),
            open: self.open.clone(),
            crc: copy_crc(&self.crc),
            len: self.len,
        }
    }
}

/// A copy of `crc` (`flate2::Crc` is not `Clone`): combined into the CRC of nothing.
fn copy_crc(crc: &Crc) -> Crc {
    let mut copy = Crc::new();
    copy.combine(crc);
    copy
}

impl Pieces {
    fn push(&mut self, encoder: &mut Compress, text: &[u8]) {
        self.crc.update(text);
        self.len += text.len() as u64;
        deflate_piece(encoder, text, &mut self.open);
    }

    /// Appends a piece compressed elsewhere, of a text with that CRC and length.
    fn append(&mut self, piece: &[u8], crc: &Crc, len: u64) {
        self.open.extend_from_slice(piece);
        self.crc.combine(crc);
        self.len += len;
    }

    /// Appends the pieces of `other` and empties it (its buffer kept for more pieces).
    fn take_from(&mut self, other: &mut Pieces) {
        if self.open.is_empty() && self.sealed.is_empty() && other.sealed.is_empty() {
            // The first part's pieces are this family's: the buffers trade places, no copy.
            std::mem::swap(&mut self.open, &mut other.open);
        } else {
            self.open.extend_from_slice(&other.sealed);
            self.open.extend_from_slice(&other.open);
        }
        other.open.clear();
        other.sealed = Bytes::new();
        self.crc.combine(&other.crc);
        self.len += other.len;
        other.crc = Crc::new();
        other.len = 0;
    }

    /// Moves the open pieces into `sealed`, of exactly their size.
    fn seal(&mut self) {
        if self.open.is_empty() {
            self.open = Vec::new();
            return;
        }
        let open = std::mem::take(&mut self.open);
        self.sealed = if self.sealed.is_empty() {
            let mut open = open;
            open.shrink_to_fit();
            Bytes::from(open)
        } else {
            let mut all = Vec::with_capacity(self.sealed.len() + open.len());
            all.extend_from_slice(&self.sealed);
            all.extend_from_slice(&open);
            Bytes::from(all)
        };
    }

    /// The pieces as chunks: the sealed ones shared, the open ones copied.
    fn chunks(&self) -> impl Iterator<Item = Bytes> + '_ {
        [self.sealed.clone(), Bytes::copy_from_slice(&self.open)]
            .into_iter()
            .filter(|c| !c.is_empty())
    }
}

/// Appends `text` to `out` as one raw deflate piece that stands alone (the encoder is reset
/// first, so it refers to nothing before it), flushed to a byte boundary and not final (a
/// sync flush: it ends with an empty stored block), so more pieces may follow it.
pub(crate) fn deflate_piece(encoder: &mut Compress, text: &[u8], out: &mut Vec<u8>) {
    encoder.reset();
    loop {
        // Text of the exposition compresses 5 to 10 times; the flush adds a few bytes.
        out.reserve(text.len() / 4 + 64);
        let done = usize::try_from(encoder.total_in()).unwrap_or(usize::MAX);
        let rest = text.get(done..).unwrap_or_default();
        encoder
            .compress_vec(rest, out, FlushCompress::Sync)
            .expect("deflate in memory");
        // The flush is complete once all the text went in and room was left over.
        if encoder.total_in() as usize >= text.len() && out.len() < out.capacity() {
            return;
        }
    }
}

/// The data families of every source as one raw deflate stream in pieces (see
/// [`assemble_deflate`]), in both formats: the OpenMetrics text differs from the 0.0.4 text
/// only in each family's metadata lines (`crate::openmetrics`), so it is the same pieces with
/// each family's header piece swapped, and no more than those headers is kept for it.
#[derive(Debug, Default)]
pub struct Deflated {
    /// Raw deflate pieces in order: each ends on a byte boundary and none is final, so their
    /// concatenation is one deflate stream that more blocks may follow.
    pub pieces: Vec<Bytes>,
    /// CRC-32 of the text (and its length modulo 2^32, as the gzip trailer wants it).
    pub crc: Crc,
    /// The text's length.
    pub len: u64,
    /// For OpenMetrics: the index in `pieces` of each family's header piece, and the piece
    /// that takes its place.
    om_headers: Vec<(usize, Bytes)>,
    /// CRC-32 and length of the OpenMetrics text.
    om_crc: Crc,
    om_len: u64,
}

impl Deflated {
    /// The compressed size.
    pub fn compressed_len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    /// The 0.0.4 text, inflated in chunks of at most `chunk` bytes (a body served without
    /// keeping a plain copy).
    pub fn inflate(&self, chunk: usize) -> Inflate {
        self.inflate_as(Format::Text, chunk)
    }

    /// The text in `format`, inflated in chunks of at most `chunk` bytes.
    pub fn inflate_as(&self, format: Format, chunk: usize) -> Inflate {
        Inflate::new(self.pieces_as(format), chunk)
    }

    /// The pieces of the text in `format` (shared, not copied).
    pub fn pieces_as(&self, format: Format) -> Vec<Bytes> {
        let mut pieces = self.pieces.clone();
        if format == Format::OpenMetrics {
            for (i, piece) in &self.om_headers {
                pieces[*i] = piece.clone();
            }
        }
        pieces
    }

    /// CRC-32 of the text in `format`.
    pub fn crc_as(&self, format: Format) -> &Crc {
        match format {
            Format::Text => &self.crc,
            Format::OpenMetrics => &self.om_crc,
        }
    }

    /// Length of the text in `format`.
    pub fn len_as(&self, format: Format) -> u64 {
        match format {
            Format::Text => self.len,
            Format::OpenMetrics => self.om_len,
        }
    }
}

/// A compressed piece with the CRC and length of its text.
type Piece = (Bytes, Crc, u64);

/// The compressed metadata lines of each family, made the first time it is assembled, by
/// `Desc` address: `# HELP`/`# TYPE` for 0.0.4, and OpenMetrics' (`crate::openmetrics`).
static HEADERS: LazyLock<Mutex<HashMap<usize, [Piece; 2]>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A piece of `text` with its CRC and length.
fn piece(encoder: &mut Compress, text: &str) -> Piece {
    let mut piece = Vec::new();
    deflate_piece(encoder, text.as_bytes(), &mut piece);
    let mut crc = Crc::new();
    crc.update(text.as_bytes());
    (Bytes::from(piece), crc, text.len() as u64)
}

/// Assembles every family of every set as raw deflate: one header per family, families
/// sorted by name, each family's samples in set order. Sealed sets are only concatenated:
/// their pieces are shared, not copied, and nothing is inflated or compressed again (text a
/// set has not sealed yet is compressed here, into the result only).
pub fn assemble_deflate(sets: &[&MetricSet]) -> Deflated {
    debug_assert!(
        sets.iter().all(|s| s.is_settled()),
        "a set compressing beside is settled before it is read"
    );
    let mut names: Vec<&'static str> = sets
        .iter()
        .flat_map(|s| s.families.iter())
        .filter(|f| f.samples > 0)
        .map(|f| f.desc.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Deflated::default();
    let mut encoder: Option<Compress> = None;
    let mut headers = HEADERS.lock().unwrap_or_else(|e| e.into_inner());
    for name in names {
        let mut header = false;
        for set in sets {
            let Some(family) = set.family(name).filter(|f| f.samples > 0) else {
                continue;
            };
            if !header {
                let [text, om] = headers
                    .entry(std::ptr::from_ref(family.desc) as usize)
                    .or_insert_with(|| {
                        let encoder = encoder.get_or_insert_with(new_encoder);
                        let mut text = String::new();
                        write_header(&mut text, family.desc);
                        let mut om = String::new();
                        openmetrics::write_metadata(
                            &mut om,
                            family.desc.name,
                            family.desc.kind.as_str(),
                            family.desc.help,
                        );
                        [piece(encoder, &text), piece(encoder, &om)]
                    });
                out.om_headers.push((out.pieces.len(), om.0.clone()));
                out.pieces.push(text.0.clone());
                out.crc.combine(&text.1);
                out.len += text.2;
                out.om_crc.combine(&om.1);
                out.om_len += om.2;
                header = true;
            }
            let pieces = &family.deflated;
            out.pieces.extend(pieces.chunks());
            out.crc.combine(&pieces.crc);
            out.om_crc.combine(&pieces.crc);
            out.len += pieces.len;
            out.om_len += pieces.len;
            if !family.body.is_empty() {
                let mut rest = Pieces::default();
                rest.push(
                    encoder.get_or_insert_with(new_encoder),
                    family.body.as_bytes(),
                );
                out.pieces.extend(rest.chunks());
                out.crc.combine(&rest.crc);
                out.om_crc.combine(&rest.crc);
                out.len += rest.len;
                out.om_len += rest.len;
            }
        }
    }
    out
}

/// Label pairs escaped once, written on many samples.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    text: String,
    /// The hash of the raw `device_id` value, for the shard (`crate::shard::device_hash`).
    device_hash: Option<u64>,
    #[cfg(debug_assertions)]
    names: Vec<String>,
}

impl Labels {
    pub fn new(labels: &[(&str, &str)]) -> Labels {
        let mut l = Labels::default();
        for (name, value) in labels {
            l.push(name, value);
        }
        l
    }

    /// Makes these the labels, reusing the text's buffer (one set of labels rewritten for
    /// each of many items costs no allocation per item).
    pub fn set(&mut self, labels: &[(&str, &str)]) {
        self.text.clear();
        self.device_hash = None;
        #[cfg(debug_assertions)]
        self.names.clear();
        for (name, value) in labels {
            self.push(name, value);
        }
    }

    /// Appends a label. For [`MetricSet::add_states_labels`], the state label comes last.
    pub fn push(&mut self, name: &str, value: &str) {
        write_labels(&mut self.text, &[(name, value)]);
        if name == shard::DEVICE_ID {
            self.device_hash = Some(shard::device_hash(value));
        }
        #[cfg(debug_assertions)]
        self.names.push(name.to_owned());
    }

    fn check(&self, _desc: &Desc) {
        #[cfg(debug_assertions)]
        {
            let pairs: Vec<(&str, &str)> = self.names.iter().map(|n| (n.as_str(), "")).collect();
            assert!(
                labels_follow(&pairs, _desc.labels),
                "labels of {} must be a subsequence of {:?}",
                _desc.name,
                _desc.labels
            );
        }
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    for (name, value) in labels {
        out.push(',');
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value);
        out.push('"');
    }
}

/// Whether `labels` name a subsequence of `declared`, in order (optional labels may be left out).
fn labels_follow(labels: &[(&str, &str)], declared: &[&str]) -> bool {
    let mut rest = declared.iter();
    labels.iter().all(|(k, _)| rest.any(|d| d == k))
}

/// Appends the text of every family of every set to `out`, as [`assemble_deflate`] puts them
/// together (inflated again: for tests and callers that read the text).
pub fn assemble(out: &mut String, sets: &[&MetricSet]) {
    let deflated = assemble_deflate(sets);
    let mut text = Vec::with_capacity(usize::try_from(deflated.len).unwrap_or(0));
    for chunk in deflated.inflate(1 << 16) {
        text.extend_from_slice(&chunk);
    }
    out.push_str(&String::from_utf8_lossy(&text));
}

/// Inflates a raw deflate stream given in pieces, in chunks of at most a given size: the
/// plain exposition served from the compressed one without a plain copy. A stream that does
/// not inflate ends early (it cannot happen to pieces of [`assemble_deflate`]).
pub struct Inflate {
    pieces: std::vec::IntoIter<Bytes>,
    /// The piece being read, and how much of it went in.
    piece: Bytes,
    read: usize,
    decoder: Box<Decompress>,
    chunk: usize,
    done: bool,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate")
            .field("pieces_left", &self.pieces.len())
            .field("done", &self.done)
            .finish()
    }
}

impl Inflate {
    fn new(pieces: Vec<Bytes>, chunk: usize) -> Inflate {
        Inflate {
            pieces: pieces.into_iter(),
            piece: Bytes::new(),
            read: 0,
            decoder: Box::new(Decompress::new(false)),
            chunk: chunk.max(1),
            done: false,
        }
    }
}

impl Iterator for Inflate {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(self.chunk);
        while out.len() < self.chunk {
            if self.read == self.piece.len() {
                if let Some(piece) = self.pieces.next() {
                    self.piece = piece;
                    self.read = 0;
                    continue;
                }
                // Every piece went in: the decoder may still hold text back, fed nothing.
            }
            let (total_in, written) = (self.decoder.total_in(), out.len());
            let input = self.piece.get(self.read..).unwrap_or_default();
            let status = self
                .decoder
                .decompress_vec(input, &mut out, FlushDecompress::None);
            let consumed = (self.decoder.total_in() - total_in) as usize;
            self.read = (self.read + consumed).min(self.piece.len());
            match status {
                // A final block: nothing follows it.
                Ok(flate2::Status::StreamEnd) | Err(_) => self.done = true,
                // No progress: the pieces are all in and out, or they are not deflate.
                Ok(_) if consumed == 0 && out.len() == written => self.done = true,
                Ok(_) => {}
            }
            if self.done {
                break;
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

fn write_header(out: &mut String, desc: &Desc) {
    out.push_str("# HELP ");
    out.push_str(desc.name);
    out.push(' ');
    for c in desc.help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(desc.name);
    out.push(' ');
    out.push_str(desc.kind.as_str());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    static G: Desc = Desc {
        name: "backup_test_bytes",
        help: "Test family.\nSecond line with \\ backslash.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device"],
        opt_in: false,
    };
    static V: Desc = Desc {
        name: "crashplan_test_total",
        help: "Vendor test.",
        kind: Kind::Counter,
        scope: Scope::Vendor,
        labels: &["device"],
        opt_in: false,
    };
    static S: Desc = Desc {
        name: "backup_test_state",
        help: "States.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device", "state"],
        opt_in: false,
    };

    #[test]
    fn escapes_label_values_and_help() {
        let mut set = MetricSet::new("crashplan", "h\"q");
        set.add(&G, &[("device", "a\\b\"c\nd")], 1.0);
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        assert_eq!(
            out,
            "# HELP backup_test_bytes Test family.\\nSecond line with \\\\ backslash.\n\
             # TYPE backup_test_bytes gauge\n\
             backup_test_bytes{system=\"crashplan\",source=\"h\\\"q\",device=\"a\\\\b\\\"c\\nd\"} 1\n"
        );
    }

    #[test]
    fn families_of_several_sources_stay_contiguous() {
        let mut a = MetricSet::new("crashplan", "a");
        let mut b = MetricSet::new("crashplan", "b");
        a.add(&V, &[("device", "x")], 2.0);
        a.add(&G, &[("device", "x")], 1.0);
        b.add(&G, &[("device", "y")], 3.0);
        let mut out = String::new();
        assemble(&mut out, &[&a, &b]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                "# HELP backup_test_bytes Test family.\\nSecond line with \\\\ backslash.",
                "# TYPE backup_test_bytes gauge",
                "backup_test_bytes{system=\"crashplan\",source=\"a\",device=\"x\"} 1",
                "backup_test_bytes{system=\"crashplan\",source=\"b\",device=\"y\"} 3",
                "# HELP crashplan_test_total Vendor test.",
                "# TYPE crashplan_test_total counter",
                "crashplan_test_total{source=\"a\",device=\"x\"} 2",
            ]
        );
        assert_eq!(a.samples(), 2);
    }

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        let cases = [
            (0.0, "0"),
            (19_839_461_229_438.0, "19839461229438"),
            (0.686, "0.686"),
            (1_285_986_013.45, "1285986013.45"),
            (-1.5, "-1.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e20, "100000000000000000000"),
        ];
        for (v, want) in cases {
            let mut s = String::new();
            write_value(&mut s, v);
            assert_eq!(s, want, "{v}");
            if v.is_finite() {
                assert_eq!(s.parse::<f64>().unwrap(), v);
            }
        }
    }

    #[test]
    fn states_that_hold_are_one_series_each_known_ones_first() {
        let mut set = MetricSet::new("crashplan", "hq");
        set.add_states(
            &S,
            &[("device", "d")],
            &["OK", "WARN", "ALERT"],
            &["Odd", "ALERT", "Odd"],
        );
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            vec![
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"ALERT\"} 1",
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"Odd\"} 1",
            ]
        );
    }

    #[test]
    fn absent_values_write_nothing() {
        let mut set = MetricSet::new("crashplan", "hq");
        set.add_opt(&G, &[("device", "d")], None);
        assert_eq!(set.samples(), 0);
        assert!(!set.has("backup_test_bytes"));
    }

    /// The sample lines `exposure` writes of a small fleet: per-device families by pairs, by
    /// escaped labels and as state sets, a fleet-wide family, and a device family sample
    /// without its `device_id`.
    fn fleet_lines(exposure: &Arc<Exposure>) -> Vec<String> {
        static FLEET: Desc = Desc {
            name: "crashplan_test_orgs",
            help: "Fleet-wide.",
            kind: Kind::Gauge,
            scope: Scope::Vendor,
            labels: &["org"],
            opt_in: false,
        };
        static PER_DEVICE: Desc = Desc {
            name: "backup_test_targets",
            help: "Per device.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device", "device_id", "target"],
            opt_in: false,
        };
        static STATES: Desc = Desc {
            name: "backup_test_device_state",
            help: "Per device, states.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device", "device_id", "state"],
            opt_in: false,
        };
        let mut set = MetricSet::new(
            "crashplan",
            Origin {
                source: "hq",
                exposure,
            },
        );
        set.reserve(&PER_DEVICE, 40, 30);
        for i in 0..40 {
            let id = format!("id-{i}\"q");
            set.add(&PER_DEVICE, &[("device", "d"), ("device_id", &id)], 1.0);
            let labels = Labels::new(&[("device", "d"), ("device_id", &id), ("target", "t")]);
            set.add_labels(&PER_DEVICE, &labels, 2.0);
            let states = [("device", "d"), ("device_id", id.as_str())];
            set.add_states(&STATES, &states, &["OK"], &["OK", "Odd"]);
        }
        set.add(&PER_DEVICE, &[("device", "no-id")], 3.0);
        set.add(&FLEET, &[("org", "o")], 4.0);
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        let lines: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        assert_eq!(set.samples(), lines.len());
        lines
    }

    #[test]
    fn shards_partition_the_devices_and_shard_0_writes_the_fleet_wide_families() {
        let all = fleet_lines(&Arc::new(Exposure::default()));
        assert_eq!(all.len(), 40 * 4 + 2);
        for total in 1..=3 {
            let mut union: Vec<String> = Vec::new();
            for index in 0..total {
                let shard = Shard::new(index, total).unwrap();
                let lines = fleet_lines(&Arc::new(Exposure::default().sharded(shard)));
                let fleet_wide = lines
                    .iter()
                    .filter(|l| l.contains("org=") || l.contains("no-id"))
                    .count();
                assert_eq!(fleet_wide, if index == 0 { 2 } else { 0 }, "{shard}");
                // A device's series, written by pairs or by escaped labels, stay together.
                for i in 0..40 {
                    let label = format!("device_id=\"id-{i}\\\"q\"");
                    let n = lines.iter().filter(|l| l.contains(&label)).count();
                    assert!(n == 0 || n == 4, "{shard}: {label}: {n}");
                }
                if total > 1 {
                    assert!(lines.len() < all.len() * 3 / 4, "{shard}: {}", lines.len());
                }
                union.extend(lines);
            }
            let mut sorted_all = all.clone();
            sorted_all.sort();
            union.sort();
            assert_eq!(union, sorted_all, "{total} shard(s)");
        }
    }

    /// The text the sets should assemble into, written line by line.
    fn expected(sources: &[&str], n: u32) -> String {
        let mut want = String::from(
            "# HELP backup_test_bytes Test family.\\nSecond line with \\\\ backslash.\n\
             # TYPE backup_test_bytes gauge\n",
        );
        for source in sources {
            for i in 0..n {
                want.push_str(&format!(
                    "backup_test_bytes{{system=\"crashplan\",source=\"{source}\",device=\"device-{i}\"}} {i}\n"
                ));
            }
        }
        want.push_str(
            "# HELP crashplan_test_total Vendor test.\n# TYPE crashplan_test_total counter\n",
        );
        for source in sources {
            for i in 0..n {
                want.push_str(&format!(
                    "crashplan_test_total{{source=\"{source}\",device=\"device-{i}\"}} {}\n",
                    f64::from(i) / 4.0
                ));
            }
        }
        want
    }

    fn written(source: &str, n: u32) -> MetricSet {
        let mut set = MetricSet::new("crashplan", source);
        set.reserve(&G, n as usize, 20);
        for i in 0..n {
            let device = format!("device-{i}");
            set.add(&V, &[("device", &device)], f64::from(i) / 4.0);
            set.add(&G, &[("device", &device)], f64::from(i));
        }
        set
    }

    #[test]
    fn pieces_compressed_beside_are_the_pieces_compressed_here() {
        // Two families interleaved, many pieces each: more than the queue holds.
        let n = 40_000;
        let here = written("a", n);
        let mut beside = MetricSet::new("crashplan", "a");
        beside.compress_beside();
        beside.reserve(&G, n as usize, 20);
        for i in 0..n {
            let device = format!("device-{i}");
            beside.add(&V, &[("device", &device)], f64::from(i) / 4.0);
            beside.add(&G, &[("device", &device)], f64::from(i));
        }
        assert!(
            matches!(beside.encoder, Compressor::Beside(Some(_))),
            "the thread started at the first piece"
        );
        beside.settle();
        assert!(matches!(beside.encoder, Compressor::Here(None)));
        for (h, b) in here.families.iter().zip(&beside.families) {
            assert!(h.deflated.open.len() > 8 * 1024, "several pieces");
            assert_eq!(h.deflated.open, b.deflated.open);
            assert_eq!(h.deflated.len, b.deflated.len);
            assert_eq!(h.deflated.crc.sum(), b.deflated.crc.sum());
            assert_eq!(h.body, b.body);
        }
        let mut text = String::new();
        assemble(&mut text, &[&beside]);
        assert_eq!(text, expected(&["a"], n));
        // Samples after settling are compressed here; a seal settles too.
        let mut small = MetricSet::new("crashplan", "s");
        small.compress_beside();
        small.add(&G, &[("device", "d")], 1.0);
        assert!(
            matches!(small.encoder, Compressor::Beside(None)),
            "no thread for a set without a full piece"
        );
        small.seal();
        assert!(matches!(small.encoder, Compressor::Here(None)));
    }

    #[test]
    fn parts_absorbed_in_order_make_the_text_of_one_set() {
        // Pages of uneven sizes (several pieces in some, text only in others), one part set
        // reused for every page, as a fleet mapped page by page on threads of its own.
        let n = 12_000;
        let write = |set: &mut MetricSet, range: std::ops::Range<u32>| {
            for i in range {
                let device = format!("device-{i}");
                set.add(&V, &[("device", &device)], f64::from(i) / 4.0);
                set.add(&G, &[("device", &device)], f64::from(i));
            }
        };
        let exposure = Arc::new(Exposure::default());
        let origin = Origin {
            source: "a",
            exposure: &exposure,
        };
        let mut whole = MetricSet::new("crashplan", origin);
        whole.compress_beside();
        let mut part = MetricSet::new("crashplan", origin);
        let mut from = 0;
        for (k, size) in [1u32, 4000, 7, 0, 5000, 2992].into_iter().enumerate() {
            write(&mut part, from..from + size);
            if k % 2 == 0 {
                part.compress_rest();
                assert!(part.families.iter().all(|f| f.body.is_empty()));
            }
            whole.absorb(&mut part);
            assert_eq!(part.samples(), 0, "the part is left empty");
            from += size;
        }
        assert_eq!(from, n);
        assert!(
            part.families
                .iter()
                .any(|f| f.body.capacity() >= PIECE_BYTES),
            "the part keeps its text buffers"
        );
        assert_eq!(whole.samples(), 2 * n as usize);
        whole.settle();
        let mut text = String::new();
        assemble(&mut text, &[&whole]);
        assert_eq!(text, expected(&["a"], n));
        // Samples written into the set itself between parts stay in their place.
        let mut mixed = MetricSet::new("crashplan", origin);
        write(&mut mixed, 0..3);
        write(&mut part, 3..5000);
        mixed.absorb(&mut part);
        write(&mut mixed, 5000..5002);
        write(&mut part, 5002..n);
        mixed.absorb(&mut part);
        mixed.seal();
        let mut text = String::new();
        assemble(&mut text, &[&mixed]);
        assert_eq!(text, expected(&["a"], n));
    }

    #[test]
    fn runs_written_on_every_core_make_the_text_of_one_run() {
        let n = 3 * MIN_RUN as u32 + 5;
        let items: Vec<u32> = (0..n).collect();
        let write = |set: &mut MetricSet, run: &[u32]| {
            for i in run {
                let device = format!("device-{i}");
                set.add(&V, &[("device", &device)], f64::from(*i) / 4.0);
                set.add(&G, &[("device", &device)], f64::from(*i));
            }
        };
        for cores in [1, 2, 3, 8] {
            let mut set = MetricSet::new("crashplan", "a");
            set.compress_beside();
            // A sample before the runs stays first.
            set.add(&G, &[("device", "first")], -1.0);
            set.write_runs_on(cores, &items, write);
            set.settle();
            let mut text = String::new();
            assemble(&mut text, &[&set]);
            let first =
                "backup_test_bytes{system=\"crashplan\",source=\"a\",device=\"first\"} -1\n";
            let want = expected(&["a"], n).replacen(
                "backup_test_bytes{",
                &format!("{first}backup_test_bytes{{"),
                1,
            );
            assert_eq!(text, want, "{cores} cores");
            assert_eq!(set.samples(), 2 * n as usize + 1);
        }
    }

    #[test]
    fn pieces_make_the_same_text_sealed_or_not() {
        // Several pieces per family.
        let n = 6000;
        let (mut a, mut b) = (written("a", n), written("b", n));
        assert!(a.families[0].deflated.open.len() > 1000);
        let want = expected(&["a", "b"], n);
        let text = |a: &MetricSet, b: &MetricSet| {
            let mut out = String::new();
            assemble(&mut out, &[a, b]);
            out
        };
        assert_eq!(text(&a, &b), want);
        a.seal();
        assert_eq!(text(&a, &b), want);
        b.seal();
        assert_eq!(text(&a, &b), want);
        assert_eq!(text(&a.clone(), &b.clone()), want);
        assert_eq!(a.samples(), 2 * n as usize);
        assert!(a.has("backup_test_bytes"));
        // Only compressed bytes stay.
        for f in &a.families {
            assert_eq!(f.body.capacity(), 0);
            assert_eq!(f.deflated.open.capacity(), 0);
        }
        assert!(matches!(a.encoder, Compressor::Here(None)));
        let deflated = assemble_deflate(&[&a, &b]);
        assert_eq!(deflated.len, want.len() as u64);
        assert_eq!(deflated.crc.amount(), want.len() as u32);
        let mut crc = Crc::new();
        crc.update(want.as_bytes());
        assert_eq!(deflated.crc.sum(), crc.sum());
        assert!(deflated.compressed_len() < want.len() / 4);
        // A sealed set's pieces are handed out as they are, not compressed again.
        let again = assemble_deflate(&[&a, &b]);
        assert!(deflated
            .pieces
            .iter()
            .zip(&again.pieces)
            .all(|(x, y)| x.as_ptr() == y.as_ptr()));
        // Samples added after a seal start new pieces.
        a.add(&G, &[("device", "late")], 7.0);
        assert!(text(&a, &b).contains(
            "backup_test_bytes{system=\"crashplan\",source=\"a\",device=\"late\"} 7\nbackup_test_bytes{system=\"crashplan\",source=\"b\",device=\"device-0\"} 0\n"
        ));
        a.seal();
        assert!(text(&a, &b).contains("device=\"late\"} 7\n"));
    }

    #[test]
    fn the_text_is_inflated_in_chunks_and_bad_pieces_end_it_early() {
        let n = 3000;
        let set = written("a", n);
        let deflated = assemble_deflate(&[&set]);
        let chunks: Vec<Bytes> = deflated.inflate(1000).collect();
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 1000));
        assert_eq!(chunks.concat(), expected(&["a"], n).into_bytes());
        // Not deflate: nothing, or less, comes out; nothing panics.
        for bad in [
            vec![Bytes::from_static(b"\xff\xff\xff\xff")],
            vec![
                deflated.pieces[0].clone(),
                Bytes::from_static(b"\x07garbage"),
            ],
            vec![Bytes::from(vec![0u8; 3])],
        ] {
            let out: Vec<Bytes> = Inflate::new(bad, 64).collect();
            assert!(out.concat().len() < 200);
        }
        assert_eq!(Deflated::default().inflate(64).count(), 0);
    }

    #[test]
    fn the_openmetrics_pieces_are_the_text_converted() {
        static ODD: Desc = Desc {
            name: "crashplan_test_requests",
            help: "A counter not named *_total, \"quoted\".",
            kind: Kind::Counter,
            scope: Scope::Vendor,
            labels: &["device"],
            opt_in: false,
        };
        static SECONDS: Desc = Desc {
            name: "backup_test_threshold_seconds",
            help: "Thresholds.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device"],
            opt_in: false,
        };
        // Several pieces per family, one set sealed and one not, escapes and odd values.
        let mut a = written("a\"\\", 3000);
        let mut b = MetricSet::new("crashplan", "b");
        for (i, v) in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 0.1, 1e21, -2.5]
            .into_iter()
            .enumerate()
        {
            let device = format!("d{i}\n\"x\"\\");
            b.add(&SECONDS, &[("device", &device)], v);
            a.add(&ODD, &[("device", &device)], i as f64);
        }
        b.add_states(&S, &[("device", "d")], &["OK"], &["OK", "Odd\\"]);
        a.seal();
        let deflated = assemble_deflate(&[&a, &b]);
        let inflate = |format| -> Vec<u8> {
            let chunks: Vec<Bytes> = deflated.inflate_as(format, 4096).collect();
            chunks.concat()
        };
        let text = inflate(Format::Text);
        let om = String::from_utf8(inflate(Format::OpenMetrics)).unwrap();
        assert_eq!(om, openmetrics::Converter::convert(&text));
        // What the conversion does to these families (so the comparison is not vacuous).
        for line in [
            "# TYPE crashplan_test counter\n# HELP crashplan_test Vendor test.\n",
            "# TYPE crashplan_test_requests unknown\n# HELP crashplan_test_requests A counter not named *_total, \\\"quoted\\\".\n",
            "# TYPE backup_test_threshold_seconds gauge\n# UNIT backup_test_threshold_seconds seconds\n",
            "backup_test_threshold_seconds{system=\"crashplan\",source=\"b\",device=\"d0\\n\\\"x\\\"\\\\\"} +Inf\n",
            "crashplan_test_total{source=\"a\\\"\\\\\",device=\"device-1\"} 0.25\n",
        ] {
            assert!(om.contains(line), "{line}");
        }
        assert_ne!(om.as_bytes(), &text[..]);
        // The CRC and length of each form are those of its text.
        for (format, text) in [
            (Format::Text, &text[..]),
            (Format::OpenMetrics, om.as_bytes()),
        ] {
            let mut crc = Crc::new();
            crc.update(text);
            assert_eq!(deflated.crc_as(format).sum(), crc.sum(), "{format:?}");
            assert_eq!(deflated.len_as(format), text.len() as u64, "{format:?}");
        }
        // The OpenMetrics form shares every sample piece.
        let (plain, swapped) = (
            deflated.pieces_as(Format::Text),
            deflated.pieces_as(Format::OpenMetrics),
        );
        assert_eq!(plain.len(), swapped.len());
        let shared = plain
            .iter()
            .zip(&swapped)
            .filter(|(x, y)| x.as_ptr() == y.as_ptr())
            .count();
        assert_eq!(
            shared,
            plain.len() - 5,
            "all but the five families' headers"
        );
    }

    #[test]
    fn the_exposure_writes_defaults_and_included_opt_ins_less_the_excluded() {
        static OPT: Desc = Desc {
            name: "backup_test_files",
            help: "Opt-in.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device"],
            opt_in: true,
        };
        let written = |exposure: &Arc<Exposure>| {
            let mut set = MetricSet::new(
                "crashplan",
                Origin {
                    source: "hq",
                    exposure,
                },
            );
            for desc in [&G, &OPT] {
                set.add(desc, &[("device", "d")], 1.0);
                set.reserve(desc, 10, 10);
            }
            let mut out = String::new();
            assemble(&mut out, &[&set]);
            let names: Vec<String> = out
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split('{').next().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(set.samples(), names.len());
            names
        };
        let defaults = Arc::new(Exposure::default());
        assert_eq!(written(&defaults), ["backup_test_bytes"]);
        let included = Arc::new(Exposure::new(["backup_test_files"], []));
        assert_eq!(
            written(&included),
            ["backup_test_bytes", "backup_test_files"]
        );
        let excluded = Arc::new(Exposure::new(
            ["backup_test_files"],
            ["backup_test_files", "backup_test_bytes"],
        ));
        assert!(written(&excluded).is_empty());
        assert_eq!(
            written(Exposure::everything()),
            ["backup_test_bytes", "backup_test_files"]
        );
    }
}
