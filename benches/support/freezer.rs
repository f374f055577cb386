//! The simulated Freezer deployment of the benchmarks: its projects, the `[[source]]` table, the
//! keystone sign-in.

use std::sync::Arc;

use backup_exporter::config::Config;
use backup_exporter::sources::freezer::keystone::Keystone;
use backup_exporter::sources::freezer::sim::fleet::{large_project_id, LARGE_HOSTS_PER_PROJECT};
use backup_exporter::sources::freezer::sim::{
    SimServer, ADMIN_USER_NAME, DEMO_ADMIN_PASSWORD, SUBJECT_TOKEN_HEADER,
};

/// The projects of `large_deployment` with `hosts` hosts.
pub fn projects(hosts: usize) -> Vec<String> {
    (0..hosts.div_ceil(LARGE_HOSTS_PER_PROJECT))
        .map(large_project_id)
        .collect()
}

/// The `[[source]]` table `bench` signing in to `server`'s keystone as the admin user, scoped to
/// the first of `projects`, and reading them all; the caller adds its keys.
pub fn source(server: &SimServer, projects: &[String]) -> String {
    let list = projects
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[source]]\nname = \"bench\"\nkind = \"freezer\"\nidentity_url = \"{}\"\nusername = \"{ADMIN_USER_NAME}\"\npassword = \"{DEMO_ADMIN_PASSWORD}\"\nproject_id = \"{}\"\nprojects = [{list}]\n",
        server.identity_url(),
        projects[0],
    )
}

/// The sign-in body the exporter sends for the first source of `cfg`.
pub fn auth_body(cfg: &Config) -> String {
    Keystone::from_config(cfg.sources[0].section().unwrap(), Arc::default())
        .unwrap()
        .body()
        .to_string()
}

/// `POST {tokens_url}` with `body`: the token (`X-Subject-Token`) and the body's size.
pub async fn token(client: &reqwest::Client, tokens_url: &str, body: &str) -> (String, usize) {
    let response = client
        .post(tokens_url)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let token = response.headers()[SUBJECT_TOKEN_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    (token, body.len())
}
