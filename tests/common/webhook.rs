//! A small HTTP listener of the test on 127.0.0.1 that records every request with a JSON body.
//!
//! Two uses: Alertmanager's webhook receiver (`Receiver::start`, notifications at
//! [`Receiver::url`], read with [`Receiver::alerts`]), and a stand-in Alertmanager for the
//! exporter's alert sender (give [`Receiver::base_url`] as an Alertmanager URL; it records the
//! `POST /api/v2/alerts` bodies, read with [`Receiver::posted_alerts`]). With
//! [`Receiver::start_answering`] it fails the first requests with the given statuses.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    /// When it arrived.
    pub at: DateTime<Utc>,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub content_type: String,
    /// The status answered: 400 when the body is not JSON, else the next planned status (200
    /// once the plan is used up).
    pub status: u16,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

/// See the module documentation. Stops listening when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`, for Alertmanager's webhook configuration.
    pub url: String,
    /// `http://127.0.0.1:PORT`, as an Alertmanager URL.
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers 200 to every request with a JSON body.
    pub async fn start() -> Receiver {
        Self::start_answering(&[]).await
    }

    /// Answers the first requests with a JSON body with `statuses`, in order, then 200.
    pub async fn start_answering(statuses: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let plan = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let store = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                let plan = plan.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let store = store.clone();
                        let plan = plan.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req
                                .uri()
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default();
                            let content_type = req
                                .headers()
                                .get(hyper::header::CONTENT_TYPE)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let parsed = body
                                .ok()
                                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                            let status = match &parsed {
                                Some(_) => plan.lock().unwrap().pop_front().unwrap_or(200),
                                None => 400,
                            };
                            store.lock().unwrap().push(Received {
                                at: Utc::now(),
                                method,
                                path,
                                content_type,
                                status,
                                body: parsed.unwrap_or(Value::Null),
                            });
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            url: format!("{base_url}/hook"),
            base_url,
            received,
            task,
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// As a webhook receiver: every alert of every notification accepted so far.
    pub fn alerts(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status == 200)
            .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// As an Alertmanager: every alert of every POST (a JSON array of alerts) accepted so far.
    pub fn posted_alerts(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status == 200)
            .flat_map(|r| r.body.as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
