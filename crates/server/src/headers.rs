//! Response headers that make every page hostile to injected script and
//! framing, whatever a page's own code gets wrong.
//!
//! The console's scripts and stylesheet are files under `/assets/`, so the
//! policy allows script and style from this origin only: an injected
//! `<script>` or `onfocus=` attribute does not run even if some value
//! escaped its escaping. Images come from this origin (the audited image
//! routes) or `blob:` (a photo previewed before upload).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Two years, the usual HSTS preload lifetime.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether the server answers over TLS (then browsers are told never to
/// use plain HTTP for it).
#[derive(Clone, Copy)]
pub struct Tls(pub bool);

pub async fn security_headers(State(tls): State<Tls>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if tls.0 {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}
