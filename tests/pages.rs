//! The status page and the device pages of the demo fleet (every vendor, alerts of every
//! kind), as the exporter binary serves them: every duration written in one style, the one of
//! the alert texts, and every link relative, so the pages work behind a reverse proxy that
//! serves the exporter under a path.

mod common;

use backup_exporter::app;
use common::stack::{secs, start_exporter, wait_until};
use regex::Regex;

/// Anything that reads as a duration, in any style: a number and a unit, then more of them
/// after a space (`5d 0h 2m 10s`, `3days 2h`, `1h 30m`, `10s`, `532.1ms`).
const ANY_DURATION: &str = r"\b\d+(?:\.\d+)?(?:years?|months?|weeks?|days?|ms|us|µs|ns|y|w|d|h|m|s)(?: \d+(?:\.\d+)?(?:years?|months?|weeks?|days?|ms|us|µs|ns|y|w|d|h|m|s))*\b";

/// The style of the alert texts (Prometheus' humanizeDuration): days, hours, minutes and
/// seconds all written from the largest on, or seconds alone, or a fraction of a second.
const ALERT_STYLE: &str =
    r"^(?:\d+d \d+h \d+m \d+s|\d+h \d+m \d+s|\d+m \d+s|\d+(?:\.\d+)?(?:s|ms|us|ns))$";

/// The text of a page, tags left out (durations sit in cells and sentences).
fn text(page: &str) -> String {
    Regex::new(r"<[^>]*>")
        .unwrap()
        .replace_all(page, " ")
        .replace("&amp;", "&")
}

/// The targets of a page's links and forms, unescaped.
fn links(page: &str) -> Vec<String> {
    Regex::new(r#"(?:href|action|src)="([^"]*)""#)
        .unwrap()
        .captures_iter(page)
        .map(|c| c[1].replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn the_demo_pages_write_durations_one_way_and_link_relatively() {
    let (servers, sources) = app::start_demo_servers().await.unwrap();
    let (_exporter, addr) = start_exporter(&sources).await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(secs(10))
        .build()
        .unwrap();
    let get = |path: String| {
        let c = c.clone();
        let url = format!("http://{addr}{path}");
        async move {
            let r = c.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            let body = r.text().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(format!("GET {url}: {status}: {body}"))
            }
        }
    };
    // The demo's alerts are evaluated after its first refreshes.
    let status = wait_until("the status page to list alerts", secs(30), || {
        let page = get("/".into());
        async move {
            let page = page.await?;
            if page.contains("<tr class=\"firing\"") || page.contains("<tr class=\"pending\"") {
                Ok(page)
            } else {
                Err(page)
            }
        }
    })
    .await;

    // The pages as a reverse proxy serves them under /backup/: the status page, and every
    // device page it links to, reached through the links themselves.
    let base = url::Url::parse("https://proxy.example/backup/").unwrap();
    let mut pages = vec![(base.clone(), status)];
    let mut i = 0;
    while i < pages.len() && i < 200 {
        let (at, page) = pages[i].clone();
        i += 1;
        for bad in ["href=\"/", "action=\"/", "src=\"/"] {
            assert!(!page.contains(bad), "{bad} on {at}:\n{page}");
        }
        for link in links(&page) {
            let to = at.join(&link).unwrap();
            let path = to
                .path()
                .strip_prefix("/backup")
                .unwrap_or_else(|| panic!("{link} on {at} leads to {to}, out of /backup/"));
            // What the proxy asks the exporter for: the path under the prefix.
            let upstream = match to.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            };
            let body = get(upstream.clone())
                .await
                .unwrap_or_else(|e| panic!("{link} on {at}: {e}"));
            if path == "/device" && !pages.iter().any(|(u, _)| *u == to) {
                pages.push((to, body));
            }
        }
    }
    let devices = pages.len() - 1;
    assert!(devices >= 5, "only {devices} device pages linked");

    // Every duration of every page in the alert texts' style.
    let any = Regex::new(ANY_DURATION).unwrap();
    let alert_style = Regex::new(ALERT_STYLE).unwrap();
    let mut seen = 0;
    for (at, page) in &pages {
        let text = text(page);
        for found in any.find_iter(&text) {
            seen += 1;
            assert!(
                alert_style.is_match(found.as_str()),
                "{:?} on {at} is not written as the alert texts write durations; around it: {:?}",
                found.as_str(),
                &text[found.start().saturating_sub(80)..(found.end() + 40).min(text.len())]
            );
        }
    }
    // Ages ("... ago"), the alert summaries' and the pages' own, and the stale thresholds.
    assert!(
        seen > 3 * devices,
        "{seen} durations on {} pages",
        pages.len()
    );
    assert!(pages[1..]
        .iter()
        .any(|(_, p)| p.contains("d ") && p.contains(" ago)")));

    for server in servers {
        server.shutdown().await;
    }
}
