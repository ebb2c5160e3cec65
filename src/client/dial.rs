//! Opening a channel to PD or a store: one place for the address form,
//! the connect timeout and TLS, so that PD members, PD reconnects and store
//! pools all connect the same way. With TLS every address is dialled as
//! `https://` (whatever scheme PD lists it with), as client-go's security
//! config applies to every connection; without it, as `http://`.
//!
//! A connection that fails is explained: the error chain of tonic's
//! transport error (rustls' error inside) is walked by [`explain`] to say
//! what is wrong in the terms of the flags (`--ca`, `--cert`, `--key`).

use std::error::Error as StdError;
use std::time::Duration;

use rustls::{AlertDescription, CertificateError};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::vocab::tls::Tls;

/// How to open channels: the connect timeout and the TLS settings.
#[derive(Debug, Clone)]
pub struct Dialer {
    connect_timeout: Duration,
    tls: Option<ClientTlsConfig>,
}

impl Dialer {
    /// Plaintext channels.
    pub fn plain(connect_timeout: Duration) -> Dialer {
        Dialer {
            connect_timeout,
            tls: None,
        }
    }

    /// TLS channels when `tls` is given (it must hold a CA: see
    /// [`Tls::client`]), plaintext otherwise.
    pub fn new(connect_timeout: Duration, tls: Option<&Tls>) -> Dialer {
        let tls = tls.map(|t| {
            let mut c = ClientTlsConfig::new();
            if let Some(ca) = t.ca_pem() {
                c = c.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = t.identity_pem() {
                c = c.identity(Identity::from_pem(cert, key));
            }
            c
        });
        Dialer {
            connect_timeout,
            tls,
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `host:port` or a URL of any scheme, as the URL this dialer uses.
    pub fn url(&self, endpoint: &str) -> String {
        let bare = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest)
            .trim_end_matches('/');
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{bare}")
    }

    /// The endpoint of `url` (see [`Dialer::url`]), not yet connected.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, String> {
        let ep = Endpoint::from_shared(url.to_string())
            .map_err(|e| format!("{url}: not a valid address: {e}"))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        match &self.tls {
            None => Ok(ep),
            Some(tls) => ep
                .tls_config(tls.clone())
                .map_err(|e| format!("{url}: TLS settings refused: {}", explain(&e, true))),
        }
    }

    /// Connects to `url` within the connect timeout; the error says why not.
    pub async fn connect(&self, url: &str) -> Result<Channel, String> {
        let ep = self.endpoint(url)?;
        self.connect_endpoint(url, &ep).await
    }

    /// Connects one channel of `ep` (at `url`).
    pub async fn connect_endpoint(&self, url: &str, ep: &Endpoint) -> Result<Channel, String> {
        match tokio::time::timeout(self.connect_timeout, ep.connect()).await {
            Ok(Ok(ch)) => Ok(ch),
            Ok(Err(e)) => Err(format!(
                "{url}: cannot connect: {}",
                explain(&e, self.is_tls())
            )),
            Err(_) => Err(format!(
                "{url}: no connection within {}",
                humantime::format_duration(self.connect_timeout)
            )),
        }
    }
}

/// What went wrong with a connection, as far as TLS is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// A TLS client met a server that answered in plaintext.
    PlaintextServer,
    /// A plaintext client met a server that speaks TLS.
    TlsServer,
    /// The server's certificate does not name the address dialled.
    NameMismatch {
        expected: String,
        names: Vec<String>,
    },
    /// The server's certificate is not signed by the CA given.
    UnknownIssuer,
    /// The server refused this client's certificate, or wanted one.
    ClientRefused { alert: String },
    /// The server hung up on a TLS client at its first call: most likely
    /// it refused the client's certificate (or the lack of one) and the
    /// alert saying so was lost with the connection.
    ClosedAfterHandshake,
    /// Some other certificate problem (expired, not yet valid, ...).
    BadCertificate { reason: String },
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsFailure::PlaintextServer => f.write_str(
                "the server answered in plaintext, not TLS: drop --ca, or point at the TLS port",
            ),
            TlsFailure::TlsServer => f.write_str("the server expects TLS: give --ca"),
            TlsFailure::NameMismatch { expected, names } if names.is_empty() => write!(
                f,
                "the server's certificate is not valid for {expected}: it names no host or address"
            ),
            TlsFailure::NameMismatch { expected, names } => write!(
                f,
                "the server's certificate is not valid for {expected}: it names {}",
                names.join(", ")
            ),
            TlsFailure::UnknownIssuer => f.write_str(
                "the server's certificate is not signed by the CA given (--ca): give the CA that signed it",
            ),
            TlsFailure::ClientRefused { alert } => write!(
                f,
                "the server refused the client's certificate ({alert}): give --cert and --key signed by the CA the server trusts"
            ),
            TlsFailure::ClosedAfterHandshake => f.write_str(
                "the server closed the connection after the TLS handshake: if it requires client certificates (mutual TLS), give --cert and --key signed by the CA it trusts",
            ),
            TlsFailure::BadCertificate { reason } => {
                write!(f, "the server's certificate is not accepted: {reason}")
            }
        }
    }
}

/// The errors of `e`'s source chain, `e` first. An `io::Error` hides the
/// error it wraps from `source()` (it returns the wrapped error's source),
/// so the walk steps into it with `get_ref`.
fn chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(cur) = next {
        out.push(cur);
        next = match cur.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => cur.source(),
        };
    }
    out
}

/// Classifies a connection error of a client that speaks TLS (`tls`) or
/// plaintext; `None` when it is not about TLS (say, nothing listens).
pub fn classify(e: &(dyn StdError + 'static), tls: bool) -> Option<TlsFailure> {
    let links = chain(e);
    for link in &links {
        if let Some(r) = link.downcast_ref::<rustls::Error>() {
            return Some(from_rustls(r));
        }
    }
    // h2 keeps an I/O error that ends a connection as its kind and text
    // only (to hand it to every stream), so rustls' alerts are also
    // recognised by their text.
    let text: String = links.iter().map(|l| format!("{l}; ")).collect();
    let lower = text.to_lowercase();
    if let Some(at) = text.find(ALERT) {
        let name: String = text[at + ALERT.len()..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let known = [
            AlertDescription::CertificateRequired,
            AlertDescription::UnknownCA,
            AlertDescription::BadCertificate,
        ];
        return Some(match known.into_iter().find(|a| format!("{a:?}") == name) {
            Some(a) => refused(a),
            None => TlsFailure::ClientRefused {
                alert: format!("alert {name}"),
            },
        });
    }
    if tls && lower.contains("corrupt message") {
        return Some(TlsFailure::PlaintextServer);
    }
    // A TLS server's alert (0x15 0x03 0x03 ...) read as an HTTP/2 frame
    // header is a frame far too long; or the server just hangs up.
    let hung_up = [
        "frame with invalid size",
        "connection closed",
        "connection reset",
        "broken pipe",
        // hyper, when the connection ends before HTTP/2 is ready.
        "connection was not ready",
    ];
    match (tls, hung_up.iter().any(|h| lower.contains(h))) {
        (false, true) => Some(TlsFailure::TlsServer),
        (true, true) => Some(TlsFailure::ClosedAfterHandshake),
        (_, false) => None,
    }
}

/// How rustls shows an alert the peer sent.
const ALERT: &str = "received fatal alert: ";

fn from_rustls(r: &rustls::Error) -> TlsFailure {
    match r {
        rustls::Error::InvalidMessage(_) => TlsFailure::PlaintextServer,
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => TlsFailure::NameMismatch {
                expected: server_name(expected),
                names: presented.iter().map(|n| presented_name(n)).collect(),
            },
            CertificateError::NotValidForName => TlsFailure::NameMismatch {
                expected: "the address dialled".into(),
                names: Vec::new(),
            },
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            other => TlsFailure::BadCertificate {
                reason: format!("{other:?}"),
            },
        },
        rustls::Error::AlertReceived(a) => refused(*a),
        other => TlsFailure::BadCertificate {
            reason: other.to_string(),
        },
    }
}

fn refused(a: AlertDescription) -> TlsFailure {
    let alert = match a {
        AlertDescription::CertificateRequired => "it requires one".to_string(),
        AlertDescription::UnknownCA => "not signed by a CA it trusts".to_string(),
        AlertDescription::BadCertificate => "a bad certificate".to_string(),
        other => format!("alert {other:?}"),
    };
    TlsFailure::ClientRefused { alert }
}

/// A name as webpki presents it (`DnsName("tikv.example")`), bare.
fn presented_name(n: &str) -> String {
    n.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .unwrap_or(n)
        .to_string()
}

fn server_name(n: &rustls::pki_types::ServerName<'_>) -> String {
    match n {
        rustls::pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// `e` explained: the TLS failure when there is one, else `e` with its
/// sources.
pub fn explain(e: &(dyn StdError + 'static), tls: bool) -> String {
    match classify(e, tls) {
        Some(f) => f.to_string(),
        None => chain(e)
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(": "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;

    /// `inner` as tonic hands it over: inside an `io::Error` inside
    /// another error.
    fn wrapped(inner: rustls::Error) -> std::io::Error {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        std::io::Error::other(io)
    }

    fn text(t: &str) -> std::io::Error {
        std::io::Error::other(t.to_string())
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let name = CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec!["DnsName(\"tikv.example\")".into()],
        };
        let e = wrapped(rustls::Error::InvalidCertificate(name));
        assert_eq!(
            explain(&e, true),
            "the server's certificate is not valid for 127.0.0.1: it names tikv.example"
        );
        let e = wrapped(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(classify(&e, true), Some(TlsFailure::UnknownIssuer));
        let e = wrapped(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(classify(&e, true), Some(TlsFailure::PlaintextServer));
        let e = wrapped(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert!(explain(&e, true).contains("(it requires one)"));
    }

    #[test]
    fn alerts_kept_as_text_only_are_recognised() {
        let e = text("connection error: received fatal alert: UnknownCA");
        assert!(
            explain(&e, true)
                .contains("refused the client's certificate (not signed by a CA it trusts)")
        );
    }

    #[test]
    fn a_hang_up_means_tls_expected_or_refused_by_the_side_dialling() {
        let e = text("stream closed because of a broken pipe");
        let reset = text("Connection reset by peer (os error 104)");
        assert_eq!(
            classify(&reset, true),
            Some(TlsFailure::ClosedAfterHandshake)
        );
        // Seen when a mutual-TLS server drops the client before HTTP/2
        // is up (about one connect in thirty on a loaded machine).
        let not_ready = text("operation was canceled: connection was not ready");
        assert_eq!(
            classify(&not_ready, true),
            Some(TlsFailure::ClosedAfterHandshake)
        );
        assert_eq!(classify(&e, false), Some(TlsFailure::TlsServer));
        assert_eq!(classify(&e, true), Some(TlsFailure::ClosedAfterHandshake));
        assert_eq!(explain(&e, false), "the server expects TLS: give --ca");
    }

    #[test]
    fn other_failures_are_not_about_tls() {
        let e = text("tcp connect error: Connection refused (os error 111)");
        assert_eq!(classify(&e, true), None);
        assert_eq!(classify(&e, false), None);
        assert!(explain(&e, false).contains("Connection refused"));
    }
}
