//! The exposition as served: every source's data families rendered once per refresh, the
//! self-metrics rendered again whenever they change, plain and gzip. The gzip stream is made
//! of two parts spliced together, so the data is not compressed again for the self-metrics.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::exposition;
use crate::selfmetrics::SelfMetrics;
use crate::sources::Snapshot;

/// The exposition as served, plain and gzip, each in two parts: the sources' data families,
/// rendered once per refresh, and the self-metrics, rendered again whenever they change (the
/// alerting bridge counts sends between refreshes) without touching the first part.
#[derive(Debug)]
pub struct Rendered {
    data: Arc<DataPart>,
    /// The self-metrics.
    tail: Bytes,
    /// The end of the gzip stream: the self-metrics as its last deflate blocks, and the gzip
    /// trailer over both parts.
    gzip_tail: Bytes,
}

/// The data families, plain and as the start of a gzip stream.
#[derive(Debug, Default)]
struct DataPart {
    text: Bytes,
    /// gzip header and the data's deflate blocks, flushed to a byte boundary, not final.
    gzip_head: Bytes,
    crc: flate2::Crc,
}

impl Rendered {
    /// The plain exposition, as the chunks of the response body.
    pub fn text_chunks(&self) -> [Bytes; 2] {
        [self.data.text.clone(), self.tail.clone()]
    }

    /// The gzip exposition, as the chunks of the response body.
    pub fn gzip_chunks(&self) -> [Bytes; 2] {
        [self.data.gzip_head.clone(), self.gzip_tail.clone()]
    }

    /// The plain exposition in one piece (a copy: for `once`, tests and benchmarks).
    pub fn text(&self) -> Bytes {
        concat(&self.text_chunks())
    }

    /// The gzip exposition in one piece (a copy).
    pub fn gzip(&self) -> Bytes {
        concat(&self.gzip_chunks())
    }
}

fn concat(chunks: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.into()
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
            rendered: ArcSwap::from_pointee(Rendered {
                data: Arc::default(),
                tail: Bytes::new(),
                gzip_tail: Bytes::new(),
            }),
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
        let previous = self.rendered.load().data.text.len();
        let mut text = String::with_capacity(previous + previous / 8 + 4096);
        exposition::assemble(&mut text, &sets);
        let text = Bytes::from(text.into_bytes());
        let (gzip_head, crc) = gzip_head(&text);
        let data = Arc::new(DataPart {
            text,
            gzip_head,
            crc,
        });
        self.store_with_self_metrics(data, metrics);
    }

    /// Renders `metrics` again, keeping the data part.
    pub(super) fn render_self_metrics(&self, metrics: &SelfMetrics) {
        let _guard = self.lock.lock().expect("render lock");
        self.store_with_self_metrics(self.rendered.load().data.clone(), metrics);
    }

    fn store_with_self_metrics(&self, data: Arc<DataPart>, metrics: &SelfMetrics) {
        let mut tail = Vec::with_capacity(self.rendered.load().tail.len() + 1024);
        metrics.encode(&mut tail);
        let gzip_tail = gzip_tail(&data.crc, &tail);
        self.rendered.store(Arc::new(Rendered {
            data,
            tail: Bytes::from(tail),
            gzip_tail: Bytes::from(gzip_tail),
        }));
    }
}

/// The fixed gzip header: deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The start of a gzip stream of `data`: the header and `data`'s deflate blocks, flushed to a
/// byte boundary but not final, so more blocks may follow; and `data`'s CRC.
fn gzip_head(data: &[u8]) -> (Bytes, flate2::Crc) {
    use std::io::Write;
    let mut out = Vec::with_capacity(data.len() / 8 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let mut enc = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    enc.write_all(data).expect("writing to memory");
    // A sync flush ends the blocks on a byte boundary without marking the last one final.
    enc.flush().expect("writing to memory");
    // Taken out, not `finish`ed (nor `reset`, which finishes): the encoder's drop then ends
    // its stream into the empty vector left behind.
    let out = std::mem::take(enc.get_mut());
    let mut crc = flate2::Crc::new();
    crc.update(data);
    (Bytes::from(out), crc)
}

/// The end of the gzip stream [`gzip_head`] began: `tail`'s deflate blocks, the last one final,
/// and the trailer (CRC and length of the head's data and `tail` together).
fn gzip_tail(head: &flate2::Crc, tail: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(tail.len() / 4 + 32),
        flate2::Compression::fast(),
    );
    enc.write_all(tail).expect("writing to memory");
    let mut out = enc.finish().expect("writing to memory");
    let mut tail_crc = flate2::Crc::new();
    tail_crc.update(tail);
    let mut crc = flate2::Crc::new();
    crc.combine(head);
    crc.combine(&tail_crc);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_head_and_tail_make_one_gzip_member() {
        use std::io::Read;
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("backup_selected_bytes{{device=\"d{i}\"}} {i}\n").into_bytes())
            .collect();
        for tail in [&b"backup_exporter_source_up 1\n"[..], b""] {
            let (head, crc) = gzip_head(&data);
            let mut z = head.to_vec();
            z.extend_from_slice(&gzip_tail(&crc, tail));
            assert!(z.len() < data.len() / 4, "{} of {}", z.len(), data.len());
            // One member: a decoder that stops after the first member reads it all, and
            // checks the trailer's CRC and length.
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .unwrap();
            let mut want = data.clone();
            want.extend_from_slice(tail);
            assert_eq!(out, want);
            // A wrong trailer is noticed (the check above is not vacuous).
            let n = z.len();
            z[n - 5] ^= 1;
            let mut out = Vec::new();
            assert!(flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .is_err());
        }
    }
}
