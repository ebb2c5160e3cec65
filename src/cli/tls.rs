//! The TLS flags: `--ca`, `--cert`, `--key` on `run` (the client, as
//! client-go's `kv.WithSecurity(ca, cert, key)`) and on `serve` (the
//! stand-in), and their errors in the flags' own terms.

use std::path::PathBuf;

use clap::Args;

use super::BadInput;
use crate::vocab::tls::{Tls, TlsError, TlsFiles};

/// TLS flags of `run`: override the workload's `client:` ca / cert / key
/// (each flag the key of the same name).
#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// CA certificate (PEM) that signed PD's and the stores' certificates:
    /// connect with TLS, checking them against it.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; with --key and --ca.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// TLS flags of `serve`: PD and every store serve TLS.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeTlsArgs {
    /// CA certificate (PEM): require every client to present a certificate
    /// signed by it (mutual TLS); with --cert and --key.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The stand-in's certificate (PEM), naming the address clients dial
    /// (e.g. IP 127.0.0.1): serve TLS; with --key.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

impl ClientTlsArgs {
    pub fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// `base` (the workload's paths) with each flag given in its place,
    /// loaded as a client's.
    pub fn over(&self, base: Option<&Tls>) -> Result<Option<Tls>, BadInput> {
        let mut files = base.map(|t| t.files().clone()).unwrap_or_default();
        if let Some(p) = &self.ca {
            files.ca = Some(p.clone());
        }
        if let Some(p) = &self.cert {
            files.cert = Some(p.clone());
        }
        if let Some(p) = &self.key {
            files.key = Some(p.clone());
        }
        Tls::client(files).map_err(bad)
    }
}

impl ServeTlsArgs {
    pub fn load(&self) -> Result<Option<Tls>, BadInput> {
        Tls::server(TlsFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        })
        .map_err(bad)
    }
}

/// The error, the flag named as a flag (`--ca`, not `ca`).
fn bad(e: TlsError) -> BadInput {
    let message = match &e {
        TlsError::Unreadable { which, path, err } => {
            format!("--{which} {}: cannot read it: {err}", path.display())
        }
        TlsError::NoCertificate { which, .. } => format!("--{which}: {e}"),
        TlsError::NoPrivateKey { .. } => format!("--key: {e}"),
        TlsError::Unpaired { given, missing } => {
            format!("--{given} given without --{missing}: give both (mutual TLS) or neither")
        }
        TlsError::ClientWithoutCa => "--cert and --key given without --ca: a TLS client needs the CA that signed the servers' certificates".into(),
        TlsError::ServerWithoutIdentity => "--ca given without --cert and --key: a TLS server needs its own certificate and key".into(),
    };
    BadInput(message)
}
