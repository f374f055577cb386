//! The Freezer source end to end over real HTTP against the simulated keystone v3 + Freezer
//! API: sign-in by password, application credential, token file and none; token expiry and
//! refusal; catalog choices and their errors; v1 servers; paging; failures that keep the last
//! good data. (The real freezer-api 19.0.0 is exercised by `tests/freezer_real.rs`.)

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::freezer::sim::fleet::{self as fleet, JOB_DB01_HOURLY};
use backup_exporter::sources::freezer::sim::{
    ApiVersions, Fault, KeystoneConfig, SimConfig, SimServer, ADMIN_USER_NAME, DEMO_ADMIN_PASSWORD,
    DEMO_APP_CREDENTIAL_ID, DEMO_APP_CREDENTIAL_SECRET, DEMO_PASSWORD, DEMO_STATIC_TOKEN,
    DEV_PROJECT_ID, PROD_PROJECT_ID, PROD_PROJECT_NAME, READER_USER_NAME,
};
use backup_exporter::sources::Source;
use common::{assert_golden, samples, EVERY_FAMILY};

/// The deployment's "now": fixed, so the golden file is stable.
const NOW: i64 = 1_795_000_000;

async fn server(config: SimConfig) -> SimServer {
    SimServer::start(fleet::demo_deployment(NOW), config)
        .await
        .expect("simulated Freezer starts")
}

/// A freezer source `fz`; `auth` lines (and any other keys) go into the source table.
fn config(auth: &str) -> Config {
    Config::from_toml_str(&format!(
        "{EVERY_FAMILY}[[source]]\nname = \"fz\"\nkind = \"freezer\"\ntimeout = \"2s\"\n{}{auth}\n",
        if auth.contains("page_size") {
            ""
        } else {
            "page_size = 4\n"
        }
    ))
    .expect("test configuration is valid")
}

fn password(server: &SimServer, user: &str, pass: &str, extra: &str) -> Config {
    config(&format!(
        "identity_url = \"{}\"\nusername = \"{user}\"\npassword = \"{pass}\"\nproject_name = \"{PROD_PROJECT_NAME}\"\n{extra}",
        server.identity_url()
    ))
}

fn reader(server: &SimServer, extra: &str) -> Config {
    password(server, READER_USER_NAME, DEMO_PASSWORD, extra)
}

struct Run {
    exporter: Arc<Exporter>,
    sources: Vec<Box<dyn Source>>,
}

impl Run {
    fn new(cfg: &Config) -> Run {
        let (exporter, sources) = Exporter::new(cfg).unwrap();
        Run { exporter, sources }
    }

    async fn refresh(&mut self) -> Outcome {
        self.exporter.refresh(0, &mut self.sources[0]).await
    }

    fn text(&self) -> String {
        String::from_utf8(self.exporter.rendered().text().to_vec()).unwrap()
    }

    fn samples(&self) -> BTreeMap<String, f64> {
        samples(&self.text())
    }

    fn data(&self) -> BTreeMap<String, f64> {
        self.samples()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("backup_exporter_"))
            .collect()
    }
}

fn failure(o: &Outcome) -> (&'static str, String) {
    match o {
        Outcome::Failed { reason, message } => (reason, message.clone()),
        other => panic!("expected a failed refresh, got {other:?}"),
    }
}

fn success(server: &SimServer, device: &str, project: &str, target: &str) -> String {
    let _ = server;
    format!("backup_last_success_timestamp_seconds{{system=\"freezer\",source=\"fz\",device=\"{device}\",device_id=\"{project}_{device}\",target=\"{target}\"}}")
}

#[tokio::test]
async fn the_demo_deployment_through_keystone_matches_the_golden_file() {
    let s = server(SimConfig::default()).await;
    let mut run = Run::new(&password(
        &s,
        ADMIN_USER_NAME,
        DEMO_ADMIN_PASSWORD,
        &format!("projects = [\"{PROD_PROJECT_ID}\", \"{DEV_PROJECT_ID}\"]"),
    ));
    assert!(matches!(run.refresh().await, Outcome::Ok), "{}", run.text());
    let text = run.text();
    let data: String = text
        .lines()
        .filter(|l| !l.starts_with("backup_exporter_") && !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_golden("freezer_demo.prom", &data);
    // One sign-in, one version document, then every list of both projects.
    assert_eq!(s.auth_count(), 1);
    assert_eq!(s.request_count("versions"), 1);
    // An admin's job list holds both projects' jobs: each job is exported once.
    assert_eq!(text.matches("freezer_job_info{").count(), 12);
    // The document's Tue-Sat job on a Tuesday morning: its last backup is 3 days and 30
    // minutes old, its threshold the Saturday -> Tuesday gap plus a day.
    let workdays = format!(
        "backup_stale_threshold_seconds{{system=\"freezer\",source=\"fz\",device=\"dev-ci-01\",device_id=\"{DEV_PROJECT_ID}_dev-ci-01\",target=\"dev-ci-01-artifacts\"}} 345600\n"
    );
    assert!(text.contains(&workdays), "{workdays} missing from\n{text}");
    // Reading again needs no new token and no new version document.
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!((s.auth_count(), s.request_count("versions")), (1, 1));
    s.shutdown().await;
}

#[tokio::test]
async fn every_list_is_paged_to_its_end() {
    let s = server(SimConfig::default()).await;
    let mut run = Run::new(&reader(&s, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let prod = fleet::demo_deployment(NOW).projects[PROD_PROJECT_ID].clone();
    // The pages up to the first short one; after a full first page, `concurrency` (4) pages
    // are asked for at once, so up to 3 more may be asked past the end.
    let pages = |n: usize| n / 4 + 1;
    for (endpoint, n) in [
        ("backups", prod.backups.len()),
        ("jobs", prod.jobs.len()),
        ("clients", prod.clients.len()),
        ("sessions", prod.sessions.len()),
    ] {
        let asked = s.request_count(endpoint);
        let needed = pages(n);
        let most = if needed == 1 { 1 } else { needed + 3 };
        assert!(
            (needed..=most).contains(&asked),
            "{endpoint}: {n} items, {asked} requests"
        );
    }
    // One at a time, exactly the pages needed.
    let mut serial = Run::new(&reader(&s, "concurrency = 1"));
    s.clear_requests();
    assert!(matches!(serial.refresh().await, Outcome::Ok));
    assert_eq!(s.request_count("backups"), pages(prod.backups.len()));
    // Every backup of the token's project counted, none of the other project's.
    let counted: f64 = run
        .samples()
        .iter()
        .filter(|(k, _)| k.starts_with("freezer_backups{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(counted as usize, prod.backups.len());
    assert!(!run.text().contains(DEV_PROJECT_ID));
    // Paging changes nothing: one page holds the same.
    let mut big = Run::new(&reader(&s, "page_size = 1000"));
    assert!(matches!(big.refresh().await, Outcome::Ok));
    let strip = |m: BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        m.into_iter()
            .filter(|(k, _)| !k.starts_with("backup_first_seen"))
            .collect()
    };
    assert_eq!(strip(run.data()), strip(big.data()));
    s.shutdown().await;
}

#[tokio::test]
async fn an_expired_or_refused_token_is_renewed_once() {
    let s = server(SimConfig::default()).await;
    let mut run = Run::new(&reader(&s, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!(s.auth_count(), 1);
    // The server forgets every token: the first refused call signs in again, once.
    s.expire_tokens();
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!(s.auth_count(), 2);
    s.shutdown().await;

    // Short-lived tokens: renewed halfway through their life, not on every request.
    let short = server(SimConfig {
        keystone: Some(KeystoneConfig {
            token_lifetime: Duration::from_secs(30),
            ..KeystoneConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let mut run = Run::new(&reader(&short, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    // A 30 s token serves its first 15 s (not one request each, not past its expiry).
    assert_eq!(short.auth_count(), 1);
    short.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_and_a_catalog_without_freezer_are_clear_errors() {
    let s = server(SimConfig::default()).await;
    let mut run = Run::new(&password(&s, READER_USER_NAME, "wrong", ""));
    let (reason, msg) = failure(&run.refresh().await);
    assert_eq!(reason, "unauthorized", "{msg}");
    assert!(msg.contains("auth"), "{msg}");
    assert!(!msg.contains("wrong"), "the password leaked: {msg}");
    s.shutdown().await;

    let s = server(SimConfig {
        keystone: Some(KeystoneConfig {
            service_type: None,
            ..KeystoneConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let mut run = Run::new(&reader(&s, ""));
    let (reason, msg) = failure(&run.refresh().await);
    assert_eq!(reason, "config");
    assert!(msg.contains("no service of type \"backup\""), "{msg}");
    assert!(msg.contains("identity"), "{msg}");
    // The configured endpoint needs no catalog.
    let mut run = Run::new(&reader(&s, &format!("endpoint = \"{}\"", s.freezer_url())));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    s.shutdown().await;
}

#[tokio::test]
async fn catalog_interface_and_region() {
    let s = server(SimConfig {
        keystone: Some(KeystoneConfig {
            regions: vec!["RegionOne".into(), "RegionTwo".into()],
            ..KeystoneConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let mut run = Run::new(&reader(&s, ""));
    let (reason, msg) = failure(&run.refresh().await);
    assert_eq!(reason, "config");
    assert!(
        msg.contains("several regions (RegionOne, RegionTwo)"),
        "{msg}"
    );
    let mut run = Run::new(&reader(
        &s,
        "region = \"RegionTwo\"\ninterface = \"internal\"",
    ));
    s.clear_requests();
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let paths = s.requested_paths();
    let lists: Vec<&String> = paths.iter().filter(|p| p.contains("/v2/")).collect();
    assert!(!lists.is_empty());
    assert!(
        lists
            .iter()
            .all(|p| p.starts_with("/r2/freezer-internal/v2/")),
        "{lists:?}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn application_credentials_token_files_and_no_auth() {
    let s = server(SimConfig::default()).await;
    let app = config(&format!(
        "identity_url = \"{}\"\nauth = \"application_credential\"\napplication_credential_id = \"{DEMO_APP_CREDENTIAL_ID}\"\napplication_credential_secret = \"{DEMO_APP_CREDENTIAL_SECRET}\"",
        s.identity_url()
    ));
    let mut run = Run::new(&app);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert!(run
        .text()
        .contains(&success(&s, "web-01", PROD_PROJECT_ID, "web-01-www")));

    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "{DEMO_STATIC_TOKEN}").unwrap();
    let token = config(&format!(
        "auth = \"token\"\ntoken_file = {:?}\nendpoint = \"{}\"\nprojects = [\"{PROD_PROJECT_ID}\"]",
        file.path().display().to_string(),
        s.freezer_url()
    ));
    let mut run = Run::new(&token);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert!(run
        .text()
        .contains(&success(&s, "web-01", PROD_PROJECT_ID, "web-01-www")));
    // A token the server does not know is refused: re-read once, still refused.
    std::fs::write(file.path(), "not-a-token\n").unwrap();
    s.expire_tokens();
    let mut run = Run::new(&token);
    assert_eq!(failure(&run.refresh().await).0, "unauthorized");
    s.shutdown().await;

    // No keystone at all: the project in the URL is the caller's.
    let open = server(SimConfig {
        keystone: None,
        ..SimConfig::default()
    })
    .await;
    let none = config(&format!(
        "auth = \"none\"\nendpoint = \"{}/v2/{PROD_PROJECT_ID}\"\nprojects = [\"{PROD_PROJECT_ID}\", \"{DEV_PROJECT_ID}\"]",
        open.url()
    ));
    let mut run = Run::new(&none);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let text = run.text();
    assert!(text.contains(&success(&open, "web-01", PROD_PROJECT_ID, "web-01-www")));
    assert!(text.contains(&success(
        &open,
        "dev-db-01",
        DEV_PROJECT_ID,
        "dev-db-01-pgdump"
    )));
    // An endpoint URL that names a project is the project read, without `projects`.
    let named = config(&format!(
        "auth = \"none\"\nendpoint = \"{}/v2/{DEV_PROJECT_ID}/\"",
        open.url()
    ));
    let mut run = Run::new(&named);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let text = run.text();
    assert!(text.contains(&success(
        &open,
        "dev-db-01",
        DEV_PROJECT_ID,
        "dev-db-01-pgdump"
    )));
    assert!(!text.contains(PROD_PROJECT_ID));
    open.shutdown().await;
}

#[tokio::test]
async fn a_v1_server_is_read_on_its_paths() {
    let s = SimServer::start(
        fleet::v1_deployment(NOW),
        SimConfig {
            versions: ApiVersions::V1,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    // The v1 deployment's project, by id.
    let toml = format!(
        "[[source]]\nname = \"fz\"\nkind = \"freezer\"\ntimeout = \"2s\"\nidentity_url = \"{}\"\nusername = \"{READER_USER_NAME}\"\npassword = \"{DEMO_PASSWORD}\"\nproject_id = \"{}\"\n",
        s.identity_url(),
        fleet::V1_PROJECT_ID
    );
    let mut run = Run::new(&Config::from_toml_str(&toml).unwrap());
    assert!(matches!(run.refresh().await, Outcome::Ok), "{}", run.text());
    let paths = s.requested_paths();
    assert!(paths.iter().any(|p| p.contains("/v1/backups")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("/v2/")), "{paths:?}");
    let text = run.text();
    assert!(
        text.contains("target=\"") && text.contains("system=\"freezer\""),
        "{text}"
    );
    let successes = text
        .lines()
        .filter(|l| l.starts_with("backup_last_success_timestamp_seconds{system=\"freezer\""))
        .count();
    assert!(successes >= 3, "{text}");
    s.shutdown().await;
}

#[tokio::test]
async fn failures_keep_the_last_good_data_and_optional_lists_may_be_missing() {
    let s = server(SimConfig::default()).await;
    let mut run = Run::new(&reader(&s, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let good = run.data();
    let faults: [(&str, Fault, &str); 4] = [
        (
            "backups",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            "server_error",
        ),
        (
            "jobs",
            Fault {
                garbage: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            "backups",
            Fault {
                truncate: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            "jobs",
            Fault {
                delay: Some(Duration::from_secs(5)),
                ..Fault::default()
            },
            "timeout",
        ),
    ];
    for (endpoint, fault, reason) in faults {
        s.faults().set(endpoint, fault);
        let outcome = run.refresh().await;
        assert_eq!(failure(&outcome).0, reason, "{endpoint}");
        assert_eq!(run.data(), good, "{endpoint}: the last good data stays");
        assert!(run
            .text()
            .contains("backup_exporter_source_up{source=\"fz\",system=\"freezer\"} 0"));
        s.faults().clear_all();
    }
    // Sessions forbidden (an older policy): the rest is served, sessions left out.
    s.faults().set(
        "sessions",
        Fault {
            status: Some(403),
            ..Fault::default()
        },
    );
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let text = run.text();
    assert!(!text.contains("freezer_session_status{"));
    assert!(text.contains(&format!("job_id=\"{JOB_DB01_HOURLY}\"")));
    s.faults().clear_all();
    // A version document that offers nothing usable is an error naming it.
    let s2 = server(SimConfig::default()).await;
    s2.faults().set(
        "versions",
        Fault {
            status: Some(503),
            ..Fault::default()
        },
    );
    let mut run = Run::new(&reader(&s2, ""));
    let (reason, msg) = failure(&run.refresh().await);
    assert_eq!(reason, "server_error");
    assert!(msg.contains("versions"), "{msg}");
    s2.faults().clear_all();
    assert!(matches!(run.refresh().await, Outcome::Ok));
    s.shutdown().await;
    s2.shutdown().await;
}

// ---- hostile servers ----------------------------------------------------------------------

/// Keystone answering 307 to another host would have the password POSTed there again; the
/// Freezer API answering 302 would have the token sent there. Both fail with `redirect`,
/// naming the host, and nothing reaches it.
#[tokio::test]
async fn redirects_to_another_host_carry_no_password_and_no_token() {
    let s = server(SimConfig::default()).await;
    let elsewhere = common::Recorder::start().await;
    for (endpoint, status) in [
        ("auth", 307),
        ("auth", 302),
        ("jobs", 302),
        ("backups", 308),
    ] {
        s.faults().clear_all();
        s.faults().set(
            endpoint,
            Fault {
                redirect: Some((status, elsewhere.url("/v3/auth/tokens"))),
                ..Fault::default()
            },
        );
        let (exporter, mut sources) = Exporter::new(&reader(&s, "")).unwrap();
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        let (reason, message) = common::failure(&outcome);
        assert_eq!(reason, "redirect", "{endpoint} {status}: {message}");
        assert!(message.contains("127.0.0.2"), "{message}");
        assert!(!message.contains(DEMO_PASSWORD), "{message}");
    }
    let seen = elsewhere.requests();
    assert!(seen.is_empty(), "{seen:?}");
}
