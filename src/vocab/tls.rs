//! The TLS files of a client or a server, as TiKV's `security` section and
//! client-go's `kv.WithSecurity(ca, cert, key)` name them: a CA certificate
//! that the peer's certificate must be signed by, and this side's own
//! certificate and private key. Read and parsed once, up front, so a
//! missing file or one that holds no certificate is an error before any
//! connection is made; the PEM bytes are kept for every connection after.
//!
//! Serialised as the paths only: key material never reaches a result file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

/// The paths as given (`--ca`, `--cert`, `--key`, or the same keys of a
/// workload section).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Which of the three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    Ca,
    Cert,
    Key,
}

impl TlsFile {
    /// The flag / workload key naming it.
    pub fn key(self) -> &'static str {
        match self {
            TlsFile::Ca => "ca",
            TlsFile::Cert => "cert",
            TlsFile::Key => "key",
        }
    }
}

impl fmt::Display for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file is missing or unreadable: check the path (a workload's
    /// paths are relative to the workload file's directory).
    #[error("{which} file {}: cannot read it: {err}", path.display())]
    Unreadable {
        which: TlsFile,
        path: PathBuf,
        err: std::io::Error,
    },
    /// The file holds no PEM certificate (`-----BEGIN CERTIFICATE-----`):
    /// give the certificate in PEM form (convert DER with `openssl x509`).
    #[error("{which} file {}: holds no PEM certificate{}", path.display(), why(.detail))]
    NoCertificate {
        which: TlsFile,
        path: PathBuf,
        detail: Option<String>,
    },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("key file {}: holds no PEM private key{}", path.display(), why(.detail))]
    NoPrivateKey {
        path: PathBuf,
        detail: Option<String>,
    },
    /// A certificate without its key or a key without its certificate:
    /// give both (mutual TLS) or neither.
    #[error("{given} given without {missing}: give both (mutual TLS) or neither")]
    Unpaired {
        given: &'static str,
        missing: &'static str,
    },
    /// A client certificate without a CA: the client must be told which CA
    /// signs the servers' certificates.
    #[error(
        "cert and key given without ca: a TLS client needs the CA that signed the servers' certificates"
    )]
    ClientWithoutCa,
    /// A server CA without the server's own certificate and key.
    #[error("ca given without cert and key: a TLS server needs its own certificate and key")]
    ServerWithoutIdentity,
}

fn why(detail: &Option<String>) -> String {
    detail.as_ref().map_or(String::new(), |d| format!(" ({d})"))
}

/// This side's certificate chain and private key, PEM.
#[derive(Clone)]
struct Identity {
    cert: Arc<[u8]>,
    key: Arc<[u8]>,
}

/// Loaded TLS settings: the paths, and the PEM bytes read from them.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    ca: Option<Arc<[u8]>>,
    identity: Option<Identity>,
}

impl Tls {
    /// A client's settings, as client-go's security config: a CA alone is
    /// server-verified TLS, CA + cert + key is mutual TLS. `None` when no
    /// file is given (plaintext).
    pub fn client(files: TlsFiles) -> Result<Option<Tls>, TlsError> {
        let tls = Tls::load(files)?;
        match &tls {
            Some(t) if t.ca.is_none() => Err(TlsError::ClientWithoutCa),
            _ => Ok(tls),
        }
    }

    /// A server's settings: cert + key serve TLS; a CA besides requires
    /// every client to present a certificate signed by it (mutual TLS).
    pub fn server(files: TlsFiles) -> Result<Option<Tls>, TlsError> {
        let tls = Tls::load(files)?;
        match &tls {
            Some(t) if t.identity.is_none() => Err(TlsError::ServerWithoutIdentity),
            _ => Ok(tls),
        }
    }

    fn load(files: TlsFiles) -> Result<Option<Tls>, TlsError> {
        let identity = match (&files.cert, &files.key) {
            (None, None) => None,
            (Some(_), None) => return Err(unpaired("cert", "key")),
            (None, Some(_)) => return Err(unpaired("key", "cert")),
            (Some(cert), Some(key)) => Some(Identity {
                cert: certificates(TlsFile::Cert, cert)?,
                key: private_key(key)?,
            }),
        };
        let ca = match &files.ca {
            None => None,
            Some(ca) => Some(certificates(TlsFile::Ca, ca)?),
        };
        if ca.is_none() && identity.is_none() {
            return Ok(None);
        }
        Ok(Some(Tls {
            files,
            ca,
            identity,
        }))
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The CA certificate(s), PEM.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca.as_deref()
    }

    /// This side's certificate chain and key, PEM.
    pub fn identity_pem(&self) -> Option<(&[u8], &[u8])> {
        self.identity.as_ref().map(|i| (&*i.cert, &*i.key))
    }

    /// Mutual TLS: this side presents a certificate.
    pub fn is_mutual(&self) -> bool {
        self.identity.is_some() && self.ca.is_some()
    }
}

fn unpaired(given: &'static str, missing: &'static str) -> TlsError {
    TlsError::Unpaired { given, missing }
}

fn read(which: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError::Unreadable {
        which,
        path: path.to_path_buf(),
        err,
    })
}

/// The file's bytes, once it is seen to hold at least one certificate.
fn certificates(which: TlsFile, path: &Path) -> Result<Arc<[u8]>, TlsError> {
    let pem = read(which, path)?;
    let none = |detail| TlsError::NoCertificate {
        which,
        path: path.to_path_buf(),
        detail,
    };
    let mut found = 0;
    for c in CertificateDer::pem_slice_iter(&pem) {
        c.map_err(|e| none(Some(e.to_string())))?;
        found += 1;
    }
    if found == 0 {
        return Err(none(None));
    }
    Ok(pem.into())
}

/// The file's bytes, once it is seen to hold a private key.
fn private_key(path: &Path) -> Result<Arc<[u8]>, TlsError> {
    let pem = read(TlsFile::Key, path)?;
    let none = |detail| TlsError::NoPrivateKey {
        path: path.to_path_buf(),
        detail,
    };
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(_) => Ok(pem.into()),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Err(none(None)),
        Err(e) => Err(none(Some(e.to_string()))),
    }
}

/// The paths only: the bytes may hold a private key.
impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

/// Two settings are the same when they name the same files.
impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl Serialize for Tls {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.files.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, ca: Option<&str>, cert: Option<&str>, key: Option<&str>) -> TlsFiles {
        TlsFiles {
            ca: ca.map(|n| dir.join(n)),
            cert: cert.map(|n| dir.join(n)),
            key: key.map(|n| dir.join(n)),
        }
    }

    #[test]
    fn nothing_given_is_plaintext() {
        assert!(Tls::client(TlsFiles::default()).unwrap().is_none());
        assert!(Tls::server(TlsFiles::default()).unwrap().is_none());
    }

    #[test]
    fn pairs_and_roles_are_checked_before_reading() {
        let d = Path::new("/nonexistent");
        let e = Tls::client(files(d, Some("ca"), Some("c"), None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cert given without key: give both (mutual TLS) or neither"
        );
        let e = Tls::client(files(d, None, None, Some("k"))).unwrap_err();
        assert!(e.to_string().starts_with("key given without cert"), "{e}");
    }

    #[test]
    fn missing_and_non_pem_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Tls::client(files(dir.path(), Some("ca.pem"), None, None)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("ca file ") && msg.contains("ca.pem: cannot read it"),
            "{msg}"
        );
        std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
        let e = Tls::client(files(dir.path(), Some("ca.pem"), None, None)).unwrap_err();
        assert!(
            e.to_string().ends_with("ca.pem: holds no PEM certificate"),
            "{e}"
        );
        let e = Tls::server(files(dir.path(), None, Some("ca.pem"), Some("ca.pem"))).unwrap_err();
        assert!(e.to_string().starts_with("cert file "), "{e}");
    }
}
