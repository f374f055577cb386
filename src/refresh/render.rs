//! The exposition as served: every source's data families put together once per refresh, the
//! self-metrics rendered again whenever they change, and the process metrics read at each
//! scrape. Only the gzip stream is kept: made of the sources' compressed pieces (shared with
//! their metric sets, not copied), then the self-metrics as one more piece; a scrape adds the
//! process metrics as the final deflate block and the trailer. The plain exposition is that
//! stream inflated while it is sent.
//!
//! The OpenMetrics exposition is the same stream with each data family's header piece swapped
//! for its OpenMetrics one (`crate::exposition::Deflated`), the self-metrics converted (a
//! few kilobytes, kept beside the 0.0.4 ones), and the process metrics converted at each scrape
//! and followed by `# EOF`: no second copy of the data, and nothing compressed per scrape in
//! either format.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::exposition;
use crate::openmetrics::{self, Format};
use crate::selfmetrics::SelfMetrics;
use crate::sources::Snapshot;

/// How much text a plain `/metrics` body inflates at a time.
const PLAIN_CHUNK_BYTES: usize = 64 * 1024;

/// The exposition as served, in two parts: the sources' data families, put together once per
/// refresh, and the self-metrics, rendered again whenever they change (the alerting bridge
/// counts sends between refreshes) without touching the first part. A scrape adds a third,
/// `live`: the process metrics of that moment (see [`Rendered::live`]).
#[derive(Debug)]
pub struct Rendered {
    data: Arc<exposition::Deflated>,
    /// The self-metrics in each format (by [`Tail::of`]).
    tails: [Tail; 2],
}

/// The self-metrics in one format, and what the gzip stream needs of them.
#[derive(Debug)]
struct Tail {
    text: Bytes,
    /// `text` as a raw deflate piece (not final) to follow the data's.
    piece: Bytes,
    /// CRC-32 of the data and the self-metrics together.
    crc: flate2::Crc,
}

impl Tail {
    fn new(data: &exposition::Deflated, format: Format, text: Vec<u8>) -> Tail {
        let mut piece = Vec::with_capacity(text.len() / 4 + 64);
        exposition::deflate_piece(
            &mut flate2::Compress::new(flate2::Compression::fast(), false),
            &text,
            &mut piece,
        );
        let mut crc = flate2::Crc::new();
        crc.combine(data.crc_as(format));
        crc.update(&text);
        Tail {
            text: Bytes::from(text),
            piece: Bytes::from(piece),
            crc,
        }
    }

    fn of(format: Format) -> usize {
        usize::from(format == Format::OpenMetrics)
    }
}

impl Rendered {
    /// The data and the self-metrics `tail` (0.0.4 text).
    fn new(data: Arc<exposition::Deflated>, tail: Vec<u8>) -> Rendered {
        let om_tail = openmetrics::Converter::convert(&tail).into_bytes();
        Rendered {
            tails: [
                Tail::new(&data, Format::Text, tail),
                Tail::new(&data, Format::OpenMetrics, om_tail),
            ],
            data,
        }
    }

    fn tail(&self, format: Format) -> &Tail {
        &self.tails[Tail::of(format)]
    }

    /// What ends a scrape's body in `format`, from the process metrics `process` (0.0.4
    /// text): themselves, or converted and followed by `# EOF`.
    pub fn live(format: Format, process: Vec<u8>) -> Bytes {
        match format {
            Format::Text => Bytes::from(process),
            Format::OpenMetrics => {
                let mut live = openmetrics::Converter::convert(&process).into_bytes();
                live.extend_from_slice(openmetrics::EOF);
                Bytes::from(live)
            }
        }
    }

    /// The plain exposition's length in `format`, followed by `live` bytes.
    pub fn text_len(&self, format: Format, live: usize) -> u64 {
        self.data.len_as(format) + self.tail(format).text.len() as u64 + live as u64
    }

    /// The plain exposition in `format`, as the chunks of the response body: the data part
    /// inflated a chunk at a time as the body is read ([`Rendered::text_len`] bytes in all),
    /// then the self-metrics and `live` ([`Rendered::live`]).
    pub fn text_chunks(
        &self,
        format: Format,
        live: Bytes,
    ) -> impl Iterator<Item = Bytes> + Send + 'static {
        self.data
            .inflate_as(format, PLAIN_CHUNK_BYTES)
            .chain([self.tail(format).text.clone(), live])
            .filter(|c| !c.is_empty())
    }

    /// The gzip exposition in `format` followed by `live` ([`Rendered::live`]), as the chunks
    /// of the response body: the header, the sources' pieces, the self-metrics' piece, `live`
    /// as the final block and the trailer.
    pub fn gzip_chunks(&self, format: Format, live: &[u8]) -> Vec<Bytes> {
        let tail = self.tail(format);
        let mut chunks = Vec::with_capacity(self.data.pieces.len() + 4);
        chunks.push(Bytes::from_static(&GZIP_HEADER));
        chunks.extend(self.data.pieces_as(format));
        chunks.push(tail.piece.clone());
        chunks.push(Bytes::from(gzip_end(&tail.crc, live)));
        chunks
    }

    /// The plain 0.0.4 exposition in one piece, without live metrics (inflated: for `once`,
    /// tests and benchmarks).
    pub fn text(&self) -> Bytes {
        self.text_as(Format::Text)
    }

    /// The plain exposition in `format` in one piece, without live metrics (an OpenMetrics
    /// one without its `# EOF`).
    pub fn text_as(&self, format: Format) -> Bytes {
        let mut out = Vec::with_capacity(usize::try_from(self.text_len(format, 0)).unwrap_or(0));
        for c in self.text_chunks(format, Bytes::new()) {
            out.extend_from_slice(&c);
        }
        out.into()
    }

    /// The gzip 0.0.4 exposition in one piece, without live metrics (a copy).
    pub fn gzip(&self) -> Bytes {
        let chunks = self.gzip_chunks(Format::Text, b"");
        let mut out = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
        for c in &chunks {
            out.extend_from_slice(c);
        }
        out.into()
    }
}

/// The exposition as last rendered, swapped in whole; one render at a time.
#[derive(Debug)]
pub(super) struct Exposition {
    rendered: ArcSwap<Rendered>,
    lock: Mutex<()>,
}

impl Default for Exposition {
    fn default() -> Exposition {
        Exposition {
            rendered: ArcSwap::from_pointee(Rendered::new(Arc::default(), Vec::new())),
            lock: Mutex::new(()),
        }
    }
}

impl Exposition {
    /// The current exposition.
    pub(super) fn load(&self) -> Arc<Rendered> {
        self.rendered.load_full()
    }

    /// Renders the snapshots `snapshots` gives (called once this render holds the lock) and
    /// `metrics` into the served bytes.
    pub(super) fn render(
        &self,
        snapshots: impl FnOnce() -> Vec<Arc<Snapshot>>,
        metrics: &SelfMetrics,
    ) {
        let _guard = self.lock.lock().expect("render lock");
        let snapshots = snapshots();
        let sets: Vec<&exposition::MetricSet> = snapshots.iter().map(|s| &s.metrics).collect();
        let data = Arc::new(exposition::assemble_deflate(&sets));
        self.store_with_self_metrics(data, metrics);
    }

    /// Renders `metrics` again, keeping the data part.
    pub(super) fn render_self_metrics(&self, metrics: &SelfMetrics) {
        let _guard = self.lock.lock().expect("render lock");
        self.store_with_self_metrics(self.rendered.load().data.clone(), metrics);
    }

    fn store_with_self_metrics(&self, data: Arc<exposition::Deflated>, metrics: &SelfMetrics) {
        let mut tail =
            Vec::with_capacity(self.rendered.load().tail(Format::Text).text.len() + 1024);
        metrics.encode(&mut tail);
        self.rendered.store(Arc::new(Rendered::new(data, tail)));
    }
}

/// The fixed gzip header: deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The end of the gzip stream whose text so far has the CRC `head` (and ends on a byte
/// boundary, as every piece does): `last` as stored deflate blocks, the last one final, and
/// the trailer (CRC and length of all the text). Stored, not compressed: a scrape's process
/// metrics are a few hundred bytes, not worth a compressor's state per scrape.
fn gzip_end(head: &flate2::Crc, last: &[u8]) -> Vec<u8> {
    let blocks = last.len().div_ceil(usize::from(u16::MAX)).max(1);
    let mut out = Vec::with_capacity(last.len() + 5 * blocks + 8);
    let mut chunks = last.chunks(usize::from(u16::MAX)).peekable();
    loop {
        let chunk = chunks.next().unwrap_or_default();
        let len = u16::try_from(chunk.len()).expect("chunks of at most u16::MAX bytes");
        // BFINAL on the last block, BTYPE 00 (stored); the header pads to the byte.
        out.push(u8::from(chunks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
        if chunks.peek().is_none() {
            break;
        }
    }
    let mut crc = flate2::Crc::new();
    crc.combine(head);
    crc.update(last);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::exposition::{Desc, Kind, MetricSet, Scope};

    static BYTES: Desc = Desc {
        name: "backup_selected_bytes",
        help: "Bytes.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device"],
        opt_in: false,
    };
    static UP: Desc = Desc {
        name: "backup_device_connected",
        help: "Connected.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device"],
        opt_in: false,
    };

    /// Two sources' sets, one sealed and one not, several pieces each.
    fn rendered(tail: &[u8]) -> Rendered {
        let mut a = MetricSet::new("code42", "a");
        let mut b = MetricSet::new("code42", "b");
        for i in 0..20_000u32 {
            let device = format!("d{i}");
            a.add(&BYTES, &[("device", &device)], f64::from(i));
            a.add(&UP, &[("device", &device)], 1.0);
            b.add(&BYTES, &[("device", &device)], f64::from(i) * 3.0);
        }
        a.seal();
        let data = Arc::new(exposition::assemble_deflate(&[&a, &b]));
        Rendered::new(data, tail.to_vec())
    }

    #[test]
    fn the_pieces_and_the_tail_make_one_gzip_member_and_inflate_to_the_text() {
        for tail in [&b"backup_exporter_source_up 1\n"[..], b""] {
            let r = rendered(tail);
            let text = r.text();
            assert_eq!(text.len() as u64, r.text_len(Format::Text, 0));
            assert!(text.ends_with(tail));
            assert!(text.starts_with(b"# HELP backup_device_connected Connected.\n"));
            let chunks: Vec<Bytes> = r.text_chunks(Format::Text, Bytes::new()).collect();
            assert!(chunks.len() > 10);
            assert!(chunks.iter().all(|c| c.len() <= PLAIN_CHUNK_BYTES));
            let mut z = r.gzip().to_vec();
            assert!(z.len() < text.len() / 4, "{} of {}", z.len(), text.len());
            // One member: a decoder that stops after the first member reads it all, and
            // checks the trailer's CRC and length.
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
            // A wrong trailer is noticed (the check above is not vacuous).
            let n = z.len();
            z[n - 5] ^= 1;
            let mut out = Vec::new();
            assert!(flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .is_err());
        }
    }

    #[test]
    fn live_bytes_end_both_forms() {
        let r = rendered(b"backup_exporter_source_up 1\n");
        let live = b"process_open_fds 9\n";
        let mut plain = Vec::new();
        for c in r.text_chunks(Format::Text, Bytes::from_static(live)) {
            plain.extend_from_slice(&c);
        }
        assert_eq!(plain.len() as u64, r.text_len(Format::Text, live.len()));
        assert!(plain.ends_with(b"backup_exporter_source_up 1\nprocess_open_fds 9\n"));
        let z: Vec<u8> = r.gzip_chunks(Format::Text, live).concat();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain);
        // Live text longer than one stored block.
        let long = "process_open_fds 9\n".repeat(10_000);
        let z: Vec<u8> = r.gzip_chunks(Format::Text, long.as_bytes()).concat();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.ends_with(long.as_bytes()));
        assert_eq!(out.len() as u64, r.text_len(Format::Text, long.len()));
    }

    #[test]
    fn nothing_rendered_is_an_empty_text_and_a_valid_gzip() {
        let r = Rendered::new(Arc::default(), Vec::new());
        assert_eq!(r.text_len(Format::Text, 0), 0);
        assert!(r.text().is_empty());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.gzip()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
    }

    const TAIL: &[u8] = b"# HELP backup_exporter_refresh_errors_total Failed \"refreshes\".\n\
# TYPE backup_exporter_refresh_errors_total counter\n\
backup_exporter_refresh_errors_total{reason=\"timeout\"} 2\n";
    const PROCESS: &[u8] = b"# HELP process_cpu_seconds_total CPU.\n\
# TYPE process_cpu_seconds_total counter\n\
process_cpu_seconds_total 0.5\n";

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn openmetrics_is_the_text_converted_and_ends_with_eof_in_both_encodings() {
        let r = rendered(TAIL);
        let text_live = Rendered::live(Format::Text, PROCESS.to_vec());
        let om_live = Rendered::live(Format::OpenMetrics, PROCESS.to_vec());
        assert_eq!(&text_live[..], PROCESS);
        let collect = |format, live: &Bytes| -> Vec<u8> {
            let chunks: Vec<Bytes> = r.text_chunks(format, live.clone()).collect();
            assert!(chunks.iter().all(|c| c.len() <= PLAIN_CHUNK_BYTES));
            let body = chunks.concat();
            assert_eq!(body.len() as u64, r.text_len(format, live.len()));
            // gzip inflates to the same bytes, its trailer checked.
            assert_eq!(gunzip(&r.gzip_chunks(format, live).concat()), body);
            body
        };
        let text = collect(Format::Text, &text_live);
        let om = String::from_utf8(collect(Format::OpenMetrics, &om_live)).unwrap();
        let mut want = openmetrics::Converter::convert(&text);
        want.push_str("# EOF\n");
        assert_eq!(om, want);
        assert!(om.starts_with(
            "# TYPE backup_device_connected gauge\n# HELP backup_device_connected Connected.\n"
        ));
        assert!(
            om.contains("# TYPE backup_selected_bytes gauge\n# UNIT backup_selected_bytes bytes\n")
        );
        assert!(om.ends_with(
            "# TYPE backup_exporter_refresh_errors counter\n\
             # HELP backup_exporter_refresh_errors Failed \\\"refreshes\\\".\n\
             backup_exporter_refresh_errors_total{reason=\"timeout\"} 2\n\
             # TYPE process_cpu_seconds counter\n\
             # UNIT process_cpu_seconds seconds\n\
             # HELP process_cpu_seconds CPU.\n\
             process_cpu_seconds_total 0.5\n\
             # EOF\n"
        ));
        assert_eq!(om.matches("# EOF").count(), 1);
        // Without live metrics (the `once` path), no # EOF: a scrape's live part brings it.
        assert_eq!(
            r.text_as(Format::OpenMetrics).len() as u64,
            r.text_len(Format::OpenMetrics, 0)
        );
    }

    #[test]
    fn nothing_rendered_is_an_eof_alone() {
        let r = Rendered::new(Arc::default(), Vec::new());
        let live = Rendered::live(Format::OpenMetrics, Vec::new());
        let body: Vec<u8> = r
            .text_chunks(Format::OpenMetrics, live.clone())
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(body, b"# EOF\n");
        assert_eq!(
            gunzip(&r.gzip_chunks(Format::OpenMetrics, &live).concat()),
            b"# EOF\n"
        );
    }
}
