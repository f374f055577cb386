//! backup_exporter: a Prometheus exporter and alerting bridge for backup systems.
pub mod sim;
