//! Checking the TLS keys of the `client:` and `cluster:` sections: each
//! file read and parsed now (paths relative to the workload file's
//! directory), each problem pointed at the key at fault, and a stand-in
//! serving TLS to a client that would not speak it refused.

use super::Checker;
use crate::vocab::tls::{Tls, TlsError, TlsFile, TlsFiles};
use crate::workload::spec::{ClientSpec, ClusterSpec, Sp};

/// The `ca`, `cert` and `key` of one section, as written.
#[derive(Debug, Clone)]
pub(super) struct TlsSpec {
    section: &'static str,
    ca: Option<Sp<String>>,
    cert: Option<Sp<String>>,
    key: Option<Sp<String>>,
}

impl TlsSpec {
    pub(super) fn of_client(s: &ClientSpec) -> TlsSpec {
        TlsSpec {
            section: "client",
            ca: s.ca.clone(),
            cert: s.cert.clone(),
            key: s.key.clone(),
        }
    }

    pub(super) fn of_cluster(s: &ClusterSpec) -> TlsSpec {
        TlsSpec {
            section: "cluster",
            ca: s.ca.clone(),
            cert: s.cert.clone(),
            key: s.key.clone(),
        }
    }

    fn get(&self, f: TlsFile) -> Option<&Sp<String>> {
        match f {
            TlsFile::Ca => self.ca.as_ref(),
            TlsFile::Cert => self.cert.as_ref(),
            TlsFile::Key => self.key.as_ref(),
        }
    }

    /// The first key given of `order`.
    fn first(&self, order: [TlsFile; 3]) -> Option<&Sp<String>> {
        order.into_iter().find_map(|f| self.get(f))
    }
}

const CA_FIRST: [TlsFile; 3] = [TlsFile::Ca, TlsFile::Cert, TlsFile::Key];
const CERT_FIRST: [TlsFile; 3] = [TlsFile::Cert, TlsFile::Key, TlsFile::Ca];

/// The section's TLS settings, loaded for its role (`Tls::client` or
/// `Tls::server`); `None` (and a diagnostic) when they cannot be used.
pub(super) fn check_tls(
    c: &mut Checker,
    spec: &TlsSpec,
    role: fn(TlsFiles) -> Result<Option<Tls>, TlsError>,
) -> Option<Tls> {
    let path = |f: TlsFile| spec.get(f).map(|v| c.base.join(&v.value));
    let files = TlsFiles {
        ca: path(TlsFile::Ca),
        cert: path(TlsFile::Cert),
        key: path(TlsFile::Key),
    };
    match role(files) {
        Ok(tls) => tls,
        Err(e) => {
            let at = match &e {
                TlsError::Unreadable { which, .. } | TlsError::NoCertificate { which, .. } => {
                    spec.get(*which)
                }
                TlsError::NoPrivateKey { .. } => spec.get(TlsFile::Key),
                TlsError::Unpaired { .. } | TlsError::ClientWithoutCa => spec.first(CERT_FIRST),
                TlsError::ServerWithoutIdentity => spec.first(CA_FIRST),
            };
            if let Some(at) = at {
                c.err(at, format!("{}.{e}", spec.section));
            }
            None
        }
    }
}

/// A stand-in serving TLS needs a client that speaks it, and one serving
/// mutual TLS a client with a certificate: otherwise the run could not
/// connect.
pub(super) fn check_pairing(c: &mut Checker, client: Option<&TlsSpec>, cluster: Option<&TlsSpec>) {
    let Some(cluster) = cluster else { return };
    let Some(at) = cluster.first(CERT_FIRST) else {
        return;
    };
    let client_has = |f| client.and_then(|s| s.get(f)).is_some();
    if !client_has(TlsFile::Ca) {
        c.err(
            at,
            "cluster: the stand-in serves TLS (cluster.cert, cluster.key), but the client: section gives no ca: the run could not connect; add client: {ca: ...} naming the CA that signed cluster.cert",
        );
    } else if cluster.ca.is_some() && !client_has(TlsFile::Cert) {
        c.err(
            at,
            "cluster: the stand-in requires client certificates (cluster.ca is given: mutual TLS), but the client: section gives no cert and key: add client: {cert: ..., key: ...} signed by cluster.ca",
        );
    }
}
