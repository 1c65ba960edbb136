//! Serving over HTTPS with rustls (no OpenSSL), for when the console is
//! reached over a network rather than on the van's own machine.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::serve::{serve, Limits};

/// The rustls configuration for a PEM certificate chain and key: TLS 1.2
/// and 1.3 with rustls' safe defaults, HTTP/2 and HTTP/1.1 offered.
pub fn server_config(cert: &Path, key: &Path) -> std::io::Result<Arc<rustls::ServerConfig>> {
    // The process-wide provider may already be set (tests start several
    // servers); either way ring is what this build links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let invalid = |what: &str, e: String| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid("certificate", e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("certificate", e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid("key", e.to_string()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid("certificate and key", e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `addr` over TLS with the PEM certificate chain and key
/// until `shutdown` completes, with the server's default [`Limits`].
pub async fn serve_tls(
    app: Router,
    addr: SocketAddr,
    cert: &Path,
    key: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = server_config(cert, key)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve(listener, app, Some(config), Limits::default(), shutdown).await
}
