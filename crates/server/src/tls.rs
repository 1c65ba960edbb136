//! Serving over HTTPS with rustls (no OpenSSL), for when the console is
//! reached over a network rather than on the van's own machine.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;

/// Serves `app` on `addr` over TLS with the PEM certificate chain and key
/// until `shutdown` completes. Only TLS 1.2 and 1.3 with rustls' safe
/// defaults are offered.
pub async fn serve_tls(
    app: Router,
    addr: SocketAddr,
    cert: &Path,
    key: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The process-wide provider may already be set (tests start several
    // servers); either way ring is what this build links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    axum_server::bind_rustls(addr, config)
        .handle(handle)
        .serve(app.into_make_service())
        .await
}
