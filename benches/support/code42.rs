//! The simulated Code42 console of the benchmarks: the bench account and its bearer token.

use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{ConsoleConfig, LocalAccount, SimServer};

pub const USERNAME: &str = "bench";
pub const PASSWORD: &str = "bench-password";

/// The console's accounts: [`USERNAME`] alone, an administrator without two-factor.
pub fn console_config() -> ConsoleConfig {
    ConsoleConfig {
        accounts: vec![LocalAccount {
            username: USERNAME.into(),
            password: PASSWORD.into(),
            totp_secret: None,
            admin: true,
        }],
        ..ConsoleConfig::default()
    }
}

/// The `[[source]]` table `bench` reading `server` as [`USERNAME`]; the caller adds its keys.
pub fn source(server: &SimServer) -> String {
    format!(
        "[[source]]\nname = \"bench\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"{USERNAME}\"\npassword = \"{PASSWORD}\"\n",
        server.url()
    )
}

/// Signs in as [`USERNAME`] (`GET /api/v3/auth/jwt?useBody=true`): the `Authorization` value,
/// `Bearer <token>`.
pub async fn bearer(client: &reqwest::Client, server: &SimServer) -> String {
    let body = client
        .get(format!("{}/api/v3/auth/jwt?useBody=true", server.url()))
        .basic_auth(USERNAME, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
    format!(
        "Bearer {}",
        token["data"]["v3_user_token"].as_str().unwrap()
    )
}
