//! Signing in to a Code42 console: a bearer token from one of three places.
//!
//! - `local`: HTTP basic credentials on `GET /api/v3/auth/jwt?useBody=true`; the token is at
//!   `data.v3_user_token`. A two-factor account adds `totp-auth: <code>`, computed from the
//!   configured base32 secret (RFC 6238: SHA-1, 6 digits, 30 s steps).
//! - `api_client`: `POST /api/v3/oauth/token?grant_type=client_credentials` with HTTP basic
//!   `client_id:secret`; the token is `access_token` (with `expires_in` when given).
//! - `token`: a bearer token read from a file, again at every sign-in so it can be rotated.
//!
//! The API publishes no token lifetime (about an hour in practice): [`TokenCache`] renews a
//! token after `token_max_age` and when the console refuses it. Tokens are never logged.
//!
//! [`TokenCache`]: crate::sources::http::TokenCache

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::header::AUTHORIZATION;

use crate::settings::{read_secret_file, Secret};
use crate::sources::http::{decode, Token, TokenSource, Upstream, UpstreamError};

pub use super::config::totp_secret_bytes;
use super::config::{Code42Auth, Code42Config};
use super::model::{JwtAnswer, OAuthAnswer};

/// The `endpoint` label of sign-in requests.
pub const ENDPOINT: &str = "auth";

/// The current TOTP code for a secret at Unix time `unix`.
pub fn totp_code(secret: &[u8], unix: u64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build_noncompliant()
        .generate(unix)
        .to_string()
}

/// How a code42 source signs in.
pub enum SignIn {
    Local {
        username: String,
        password: Secret,
        totp: Option<Vec<u8>>,
    },
    ApiClient {
        client_id: String,
        secret: Secret,
    },
    StaticToken {
        file: PathBuf,
    },
}

impl SignIn {
    /// From a validated config.
    pub fn from_config(cfg: &Code42Config) -> Result<SignIn, UpstreamError> {
        let missing = |key: &str| UpstreamError::Config(format!("`{key}` is required"));
        Ok(match cfg.auth_mode() {
            Code42Auth::Local => SignIn::Local {
                username: cfg.username.clone().ok_or_else(|| missing("username"))?,
                password: cfg.password.clone().ok_or_else(|| missing("password"))?,
                totp: cfg
                    .totp_secret
                    .as_ref()
                    .map(totp_secret_bytes)
                    .transpose()
                    .map_err(|e| UpstreamError::Config(format!("`totp_secret` {e}")))?,
            },
            Code42Auth::ApiClient => SignIn::ApiClient {
                client_id: cfg.client_id.clone().ok_or_else(|| missing("client_id"))?,
                secret: cfg
                    .client_secret
                    .clone()
                    .ok_or_else(|| missing("client_secret"))?,
            },
            Code42Auth::Token => SignIn::StaticToken {
                file: cfg
                    .token_file
                    .clone()
                    .ok_or_else(|| missing("token_file"))?,
            },
        })
    }

    async fn token(&self, up: &Upstream) -> Result<Token, UpstreamError> {
        match self {
            SignIn::Local {
                username,
                password,
                totp,
            } => {
                let url = up.url("/api/v3/auth/jwt", &[("useBody", "true".into())]);
                let mut req = up
                    .client()
                    .get(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .basic_auth(username, Some(password.expose()));
                if let Some(secret) = totp {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    req = req.header("totp-auth", totp_code(secret, now));
                }
                let body = up.send(ENDPOINT, req).await?;
                let answer: JwtAnswer = decode(ENDPOINT, &body)?;
                let token = answer
                    .data
                    .and_then(|d| d.v3_user_token)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| UpstreamError::Parse {
                        endpoint: ENDPOINT,
                        detail: "no data.v3_user_token in the sign-in answer".into(),
                    })?;
                Ok(bearer(&token, None))
            }
            SignIn::ApiClient { client_id, secret } => {
                let url = up.url(
                    "/api/v3/oauth/token",
                    &[("grant_type", "client_credentials".into())],
                );
                let req = up
                    .client()
                    .post(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .basic_auth(client_id, Some(secret.expose()));
                let body = up.send(ENDPOINT, req).await?;
                let answer: OAuthAnswer = decode(ENDPOINT, &body)?;
                let token = answer
                    .access_token
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| UpstreamError::Parse {
                        endpoint: ENDPOINT,
                        detail: "no access_token in the sign-in answer".into(),
                    })?;
                let expires = answer
                    .expires_in
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| Instant::now() + Duration::from_secs_f64(s.min(1e9)));
                Ok(bearer(&token, expires))
            }
            SignIn::StaticToken { file } => {
                let token = read_secret_file(file).map_err(|e| {
                    UpstreamError::Config(format!("token_file {}: {e}", file.display()))
                })?;
                Ok(bearer(token.trim(), None))
            }
        }
    }
}

/// `Authorization: Bearer <token>` (a token file may already hold the `Bearer ` prefix).
fn bearer(token: &str, expires: Option<Instant>) -> Token {
    let value = if token.len() > 7 && token[..7].eq_ignore_ascii_case("bearer ") {
        format!("Bearer {}", token[7..].trim())
    } else {
        format!("Bearer {token}")
    };
    Token {
        header: AUTHORIZATION,
        value: Secret::new(value),
        expires,
        endpoint: None,
    }
}

impl TokenSource for SignIn {
    fn sign_in<'a>(
        &'a self,
        upstream: &'a Upstream,
    ) -> BoxFuture<'a, Result<Token, UpstreamError>> {
        Box::pin(self.token(upstream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_test_vectors() {
        // RFC 6238 appendix B, secret "12345678901234567890", last 6 of the 8 digits.
        let secret = b"12345678901234567890";
        assert_eq!(totp_code(secret, 59), "287082");
        assert_eq!(totp_code(secret, 1_111_111_109), "081804");
        assert_eq!(totp_code(secret, 2_000_000_000), "279037");
    }

    #[test]
    fn base32_secrets() {
        let b =
            totp_secret_bytes(&Secret::new("gezd gnbv gy3t qojq gezd gnbv gy3t qojq\n")).unwrap();
        assert_eq!(b, b"12345678901234567890");
        assert!(totp_secret_bytes(&Secret::new("not base32!")).is_err());
        assert!(totp_secret_bytes(&Secret::new("1111")).is_err());
    }

    #[test]
    fn bearer_header_values() {
        assert_eq!(bearer("abc", None).value.expose(), "Bearer abc");
        assert_eq!(bearer("bearer  abc", None).value.expose(), "Bearer abc");
        assert!(!format!("{:?}", bearer("abc", None)).contains("abc"));
    }
}
