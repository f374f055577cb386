//! The simulated Rackspace account of the benchmarks: the `[[source]]` table and the sign-in.

use backup_exporter::sim::Simulator;
use backup_exporter::sources::rackspace::sim::{AccountConfig, SimServer};
use serde_json::{json, Value};

/// The `[[source]]` table `bench` reading `server` with the default account's API key, in its
/// default region; the caller adds its keys.
pub fn source(server: &SimServer) -> String {
    let a = AccountConfig::default();
    format!(
        "[[source]]\nname = \"bench\"\nkind = \"rackspace\"\nidentity_url = \"{}\"\nusername = \"{}\"\napi_key = \"{}\"\nregion = \"{}\"\n",
        server.url(),
        a.username,
        a.api_key,
        a.default_region,
    )
}

/// `POST /v2.0/tokens` with the default account's API key: the token and the body's size.
pub async fn sign_in(client: &reqwest::Client, tokens_url: &str) -> (String, usize) {
    let a = AccountConfig::default();
    let body = client
        .post(tokens_url)
        .header("content-type", "application/json")
        .body(
            json!({"auth": {"RAX-KSKEY:apiKeyCredentials":
                {"username": a.username, "apiKey": a.api_key}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&body).unwrap();
    let token = value["access"]["token"]["id"].as_str().unwrap().to_owned();
    (token, body.len())
}
