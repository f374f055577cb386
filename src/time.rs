//! Time as Unix seconds, the way every timestamp family, the alert rules and the vendors'
//! answers count it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A time as Unix seconds, the way every timestamp family and the alert rules count.
pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Unix seconds as a time (before 1970: 1970).
pub fn from_unix(t: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0))
}

/// Now as Unix seconds, to the millisecond.
pub fn unix_now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}
