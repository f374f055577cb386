//! Why an upstream call failed: [`UpstreamError`], whose `reason()` is a label value of the
//! self-metrics.

use std::time::Duration;

/// Why an upstream call failed. `reason()` is the `reason` label of
/// `backup_exporter_refresh_errors_total`. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{endpoint}: HTTP 401 Unauthorized: the server refused the credentials")]
    Unauthorized { endpoint: &'static str },
    #[error("{endpoint}: HTTP 403 Forbidden ({path}): the account may not read this")]
    Forbidden {
        endpoint: &'static str,
        path: String,
    },
    #[error("{endpoint}: HTTP 404 Not Found ({path})")]
    NotFound {
        endpoint: &'static str,
        path: String,
    },
    #[error("{endpoint}: HTTP {status} from the server{detail}")]
    Status {
        endpoint: &'static str,
        status: u16,
        detail: String,
    },
    #[error("{endpoint}: no answer within {}", humantime::format_duration(*.after))]
    Timeout {
        endpoint: &'static str,
        after: Duration,
    },
    #[error("{endpoint}: cannot connect: {detail}")]
    Connect {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: response body broken off: {detail}")]
    Body {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: malformed JSON: {detail}")]
    Parse {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: paging: {detail}")]
    Paging {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: {detail}")]
    Redirect {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: the answer is larger than max_response_size ({limit} bytes after decompression); read no further")]
    TooLarge { endpoint: &'static str, limit: u64 },
    #[error("{endpoint}: inconsistent list: {detail}")]
    Inconsistent {
        endpoint: &'static str,
        detail: String,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl UpstreamError {
    /// The `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            UpstreamError::Unauthorized { .. } => "unauthorized",
            UpstreamError::Forbidden { .. } => "forbidden",
            UpstreamError::NotFound { .. } => "not_found",
            UpstreamError::Status { status, .. } if *status >= 500 => "server_error",
            UpstreamError::Status { .. } => "http_status",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Connect { .. } => "connect",
            UpstreamError::Body { .. } => "body",
            UpstreamError::Parse { .. } => "parse",
            UpstreamError::Paging { .. } => "paging",
            UpstreamError::Redirect { .. } => "redirect",
            UpstreamError::TooLarge { .. } => "too_large",
            UpstreamError::Inconsistent { .. } => "inconsistent",
            UpstreamError::Config(_) => "config",
            UpstreamError::Internal(_) => "internal",
        }
    }

    /// Every `reason()` value, so counters can start at 0.
    pub const REASONS: &'static [&'static str] = &[
        "unauthorized",
        "forbidden",
        "not_found",
        "server_error",
        "http_status",
        "timeout",
        "connect",
        "body",
        "parse",
        "paging",
        "redirect",
        "too_large",
        "inconsistent",
        "config",
        "internal",
    ];

    /// Whether the call may be absent on this server or for this account (403, 404), as opposed
    /// to failing the refresh.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            UpstreamError::Forbidden { .. } | UpstreamError::NotFound { .. }
        )
    }

    /// Whether the call may succeed when tried again at once (connection refused, 502-504).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            UpstreamError::Connect { .. } => true,
            UpstreamError::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed() {
        let errors = [
            UpstreamError::Unauthorized { endpoint: "e" },
            UpstreamError::Forbidden {
                endpoint: "e",
                path: "/".into(),
            },
            UpstreamError::NotFound {
                endpoint: "e",
                path: "/".into(),
            },
            UpstreamError::Status {
                endpoint: "e",
                status: 503,
                detail: String::new(),
            },
            UpstreamError::Status {
                endpoint: "e",
                status: 429,
                detail: String::new(),
            },
            UpstreamError::Timeout {
                endpoint: "e",
                after: Duration::from_secs(1),
            },
            UpstreamError::Connect {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::Body {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::Parse {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::Paging {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::Redirect {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::TooLarge {
                endpoint: "e",
                limit: 1,
            },
            UpstreamError::Inconsistent {
                endpoint: "e",
                detail: String::new(),
            },
            UpstreamError::Config(String::new()),
            UpstreamError::Internal(String::new()),
        ];
        let reasons: Vec<&str> = errors.iter().map(UpstreamError::reason).collect();
        assert_eq!(reasons, UpstreamError::REASONS);
    }
}
