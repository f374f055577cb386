//! backup_exporter: a Prometheus exporter and alerting bridge for backup systems.
//!
//! Data flows one way: configuration → one background refresh task per source → immutable
//! snapshot → exposition rendered once per refresh → `/metrics` (docs/development.md).

pub mod alerting;
pub mod app;
pub mod build_info;
pub mod config;
pub mod exposition;
pub mod metrics;
pub mod openmetrics;
pub mod outbound;
pub mod pages;
pub mod progress;
pub mod refresh;
pub mod reload;
pub mod response;
pub mod sample_text;
pub mod selfmetrics;
pub mod server;
pub mod settings;
pub mod shard;
pub mod sim;
pub mod sources;
pub mod stale;
pub mod state_file;
pub mod time;
pub mod tls;
pub mod upstream;
pub mod web;
