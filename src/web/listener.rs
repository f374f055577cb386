//! The accept loop: the connection cap, TLS handshakes with the configuration in force, one
//! task per connection, idle and evicted connections closed between requests.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::conns::{Activity, Connections, Slot, Throttle};
use super::WebOptions;
use crate::response::Body;

/// Serves on every listener until `shutdown` completes, then lets open connections finish
/// (up to 10 s). `handler` answers each request that passes the web configuration (see
/// [`super::protect`]); the connection cap counts the connections of all the listeners.
pub async fn serve<H, F>(
    listeners: Vec<TcpListener>,
    handler: H,
    options: WebOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    H: Fn(&Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let conns = Connections::new(options.max_connections);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accept_errors = Throttle::new(Duration::from_secs(10));
    tokio::pin!(shutdown);
    if listeners.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    }
    loop {
        // Whichever listener has a connection first (accepting is cancel-safe).
        let accept =
            futures_util::future::select_all(listeners.iter().map(|l| Box::pin(l.accept())));
        let stream = tokio::select! {
            (accepted, _, _) = accept => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving, and
                    // say so at most once per 10 s.
                    if let Some(suppressed) = accept_errors.allow(Instant::now()) {
                        tracing::warn!(error = %e, suppressed, "accept failed ({suppressed} more such failures not logged since the last line)");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = tokio::select! {
            slot = conns.admit() => slot,
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            stream,
            slot,
            handler.clone(),
            options.clone(),
            stop_rx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    tokio::select! {
        () = conns.all_closed() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10s; closing");
        }
    }
    Ok(())
}

async fn connection<H, F>(
    stream: TcpStream,
    slot: Slot,
    handler: Arc<H>,
    options: WebOptions,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(&Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let activity = slot.activity.clone();
    let tls = options.config.current().tls.clone();
    match tls {
        None => http(TokioIo::new(stream), handler, &options, activity, stop).await,
        Some(tls) => {
            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
            let accepted = tokio::select! {
                r = tokio::time::timeout(options.handshake_timeout, accept) => r,
                () = activity.close.notified() => return,
                _ = stop.wait_for(|s| *s) => return,
            };
            match accepted {
                Ok(Ok(stream)) => {
                    http(TokioIo::new(stream), handler, &options, activity, stop).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
    drop(slot);
}

async fn http<I, H, F>(
    io: TokioIo<I>,
    handler: Arc<H>,
    options: &WebOptions,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(&Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let config = options.config.clone();
    let busy = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        let config = config.clone();
        let busy = busy.begin();
        async move {
            let response = super::protect(&config.current(), &req, |req| handler(req)).await;
            drop(busy);
            Ok::<_, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.idle_timeout)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.close.notified(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}
